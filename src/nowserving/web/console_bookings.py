"""The console's bookings page (docs/console.md, "Bookings"): a branch's appointments of a
day per service with their status, a form to book one (its code shown once, with a QR),
and cancelling with a confirmation.

The bookings are read from the branch's event log (`--log BRANCH=FILE`, as the reports):
a `BookingLedger` folds the booking events, caught up before each page on a worker thread
(only the events since the last page), so the event loop never waits on SQLite. Booking
and cancelling are `book` and `cancel_booking` commands sent as the web role; the form
carries a fresh `ref`, so a form sent twice (a double click, a reload) books once and shows
the same code.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import sqlite3
import threading
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from nowserving import i18n
from nowserving.errors import StoreError
from nowserving.protocol.webhook import PHONE_RE
from nowserving.web.accounts import RIGHTS
from nowserving.web.console import COMMAND_TIMEOUT_S, Console, _form, _language, _refusal
from nowserving.web.console_bookings_page import booked_page, bookings_page
from nowserving.web.console_page import BASE

RIGHT = "bookings"
KINDS = ("booking_made", "booking_cancelled", "booking_no_show", "ticket_issued")
DURATIONS = ("short", "standard", "long")


class BookingLedger:
    """The bookings of one branch's event log (read only), by booking id."""

    def __init__(self, log_path: str | Path) -> None:
        self.log_path = Path(log_path)
        self.seq = 0
        self.log_id: str | None = None
        self.bookings: dict[str, dict] = {}
        self._lock = threading.Lock()

    def catch_up(self) -> int:
        """Fold the log's booking events after the last one folded; return how many."""
        with self._lock:
            if not self.log_path.exists():
                raise StoreError(f"there is no event log at {self.log_path}")
            try:
                log = sqlite3.connect(f"file:{self.log_path}?mode=ro", uri=True)
            except sqlite3.Error as err:
                raise StoreError(f"cannot read the event log {self.log_path}: {err}") from err
            try:
                return self._catch_up(log)
            except (sqlite3.Error, ValueError, KeyError, TypeError) as err:
                raise StoreError(f"cannot read the event log {self.log_path}: {err}") from err
            finally:
                log.close()

    def _catch_up(self, log: sqlite3.Connection) -> int:
        log_id = dict(log.execute("SELECT key, value FROM meta").fetchall()).get("log_id", "")
        if log_id != self.log_id:  # a first read, or another log put in its place
            self.log_id, self.seq, self.bookings = log_id, 0, {}
        # A check-in is a ticket_issued with `booking`: the LIKE skips the others cheaply.
        rows = log.execute(
            "SELECT seq, type, data FROM events WHERE seq > ? AND type IN (?, ?, ?, ?) "
            "AND (type != 'ticket_issued' OR data LIKE '%\"booking\"%') ORDER BY seq",
            (self.seq, *KINDS),
        ).fetchall()
        for seq, kind, text in rows:
            self._apply(kind, json.loads(text))
            self.seq = seq
        last = log.execute("SELECT MAX(seq) FROM events").fetchone()[0] or 0
        self.seq = max(self.seq, last)
        return len(rows)

    def _apply(self, kind: str, data: dict) -> None:
        if kind == "booking_made":
            self.bookings[data["booking"]] = {
                "id": data["booking"], "service": data["service"], "at": data["at"],
                "duration": data["duration"], "priority": data["priority"],
                "ref": data.get("ref"), "status": "booked", "number": None,
            }  # fmt: skip
            return
        booking = self.bookings.get(data.get("booking", ""))
        if booking is None:
            return
        if kind == "booking_cancelled":
            booking["status"] = "cancelled"
        elif kind == "booking_no_show":
            booking["status"] = "no_show"
        else:  # the check-in's ticket
            booking["status"] = "late" if data.get("late") else "checked_in"
            booking["number"] = data.get("number")

    def between(self, start: float, end: float) -> list[dict]:
        """The bookings booked for [start, end), by time then id (copies)."""
        return sorted(
            (dict(b) for b in self.bookings.values() if start <= b["at"] < end),
            key=lambda b: (b["at"], b["id"]),
        )


class BookingsPages:
    """The bookings routes over `console`'s sign-in, for the branches in `ledgers`."""

    def __init__(self, console: Console, ledgers: dict[str, BookingLedger]) -> None:
        self.console = console
        self.ledgers = ledgers
        self.routes = [
            Route(f"{BASE}/{{branch}}/bookings", self.page),
            Route(f"{BASE}/{{branch}}/bookings/book", self.book, methods=["POST"]),
            Route(f"{BASE}/{{branch}}/bookings/cancel", self.cancel, methods=["POST"]),
        ]

    # ----- the page -----------------------------------------------------------------------

    async def page(self, request: Request) -> Response:
        """A day's bookings (GET /console/<branch>/bookings?day=YYYY-MM-DD)."""
        console = self.console
        refused = console._too_many(request)
        if refused is not None:
            return refused
        found = console.page_request(request, RIGHT)
        if isinstance(found, Response):
            return found
        session, account, feed, language = found
        zone = ZoneInfo(feed.config.rules.timezone)
        now = console.clock()
        day = _day(request.query_params.get("day"), datetime.fromtimestamp(now, zone).date())
        view = {
            "branch": feed.id,
            "name": feed.config.names.get(language, feed.id),
            "language": language,
            "rights": sorted(RIGHTS.get(account.role, ())),
            "day": day.isoformat(),
            "now": now,
            "message": _message(request, language),
            "form_ref": "console:" + secrets.token_hex(8),
        }
        ledger = self.ledgers.get(feed.id)
        if ledger is None:
            view["no_log"] = True
            view["bookings"] = []
        else:
            start = datetime.combine(day, datetime.min.time(), zone).timestamp()
            end = datetime.combine(day + timedelta(days=1), datetime.min.time(), zone).timestamp()
            try:
                view["bookings"] = await asyncio.to_thread(_read, ledger, start, end)
            except StoreError:
                view["no_log"] = True
                view["bookings"] = []
        html = bookings_page(feed.config, view, account.name, session.csrf)
        return HTMLResponse(html)

    # ----- the actions ----------------------------------------------------------------

    async def _action(self, request: Request):
        """(form, session, account, feed, language), or the answer instead."""
        console = self.console
        refused = console._too_many(request, cost=2.0)
        if refused is not None:
            return refused
        form = await _form(request)
        language = _language(form.get("lang"))
        found = console._signed_in(request)
        if found is None:
            return console._sign_in_again(language)
        session, account = found
        if not console.csrf.same(session.csrf, form.get("csrf", "")):
            return Response("403", status_code=403)
        feed = console._branch(request, account)
        if feed is None:
            return HTMLResponse("404", status_code=404)
        if not account.may(RIGHT):
            return console.forbidden(request, account, session.csrf, feed, language, RIGHT)
        return form, session, account, feed, language

    async def book(self, request: Request) -> Response:
        """Book (POST /console/<branch>/bookings/book): the code and its QR on the answer."""
        found = await self._action(request)
        if isinstance(found, Response):
            return found
        form, session, account, feed, language = found
        args = _book_arguments(form)
        here = f"{BASE}/{feed.id}/bookings?lang={language}&day={args['time'][:10]}"
        if "phone" in args and not PHONE_RE.match(args["phone"]):  # said without repeating it
            reason = i18n.text(language, "console.bookings_bad_phone")
            return RedirectResponse(f"{here}&refused=bad_phone&why={_q(reason)}", 303)
        reply = await asyncio.wrap_future(
            feed.client.send("book", args, deadline_s=COMMAND_TIMEOUT_S)
        )
        self.console.audit.write("book", account.name, self.console._address(request), reply.ok,
                                 branch=feed.id, args=_without_phone(args), code=reply.code,
                                 booking=(reply.result or {}).get("booking"))  # fmt: skip
        if not reply.ok:
            reason = _refusal(language, reply.code, reply.params or {})
            return RedirectResponse(f"{here}&refused={reply.code}&why={_q(reason)}", 303)
        result = dict(reply.result or {})
        html = booked_page(feed.config, language, account.name, session.csrf, args, result,
                           here)  # fmt: skip
        return HTMLResponse(html, headers={"cache-control": "no-store"})

    async def cancel(self, request: Request) -> Response:
        """Cancel a booking (POST /console/<branch>/bookings/cancel), once confirmed."""
        found = await self._action(request)
        if isinstance(found, Response):
            return found
        form, session, account, feed, language = found
        booking = form.get("booking", "")[:40]
        here = f"{BASE}/{feed.id}/bookings?lang={language}&day={form.get('day', '')[:10]}"
        if form.get("confirm") != "yes":
            return RedirectResponse(f"{here}&refused=confirm", status_code=303)
        reply = await asyncio.wrap_future(
            feed.client.send(
                "cancel_booking", {"booking": booking}, deadline_s=COMMAND_TIMEOUT_S
            )  # fmt: skip
        )
        self.console.audit.write("cancel_booking", account.name, self.console._address(request),
                                 reply.ok, branch=feed.id, args={"booking": booking},
                                 code=reply.code)  # fmt: skip
        if reply.ok:
            return RedirectResponse(f"{here}&done=1", status_code=303)
        reason = _refusal(language, reply.code, reply.params or {})
        return RedirectResponse(f"{here}&refused={reply.code}&why={_q(reason)}", 303)


def _read(ledger: BookingLedger, start: float, end: float) -> list[dict]:
    ledger.catch_up()
    return ledger.between(start, end)


def _q(text: str) -> str:
    from urllib.parse import quote

    return quote(text[:200])


def _message(request: Request, language: str) -> str:
    params = request.query_params
    if "done" in params:
        return i18n.text(language, "console.done")
    if params.get("refused") == "confirm":
        return i18n.text(language, "console.confirm_needed")
    if "refused" in params:
        reason = params.get("why") or _refusal(language, params.get("refused"), {})
        return i18n.text(language, "console.refused", reason=reason[:200])
    return ""


def _day(text: str | None, default: date) -> date:
    try:
        return date.fromisoformat(text) if text else default
    except ValueError:
        return default


def _book_arguments(form: dict[str, str]) -> dict[str, str]:
    """The `book` command's arguments from the form: only what it takes, trimmed."""
    day = form.get("day", "").strip()[:10]
    hm = form.get("time", "").strip()[:5]
    args = {"service": form.get("service", "").strip()[:40], "time": f"{day} {hm}"}
    if form.get("duration") in DURATIONS:
        args["duration"] = form["duration"]
    if form.get("priority", "").strip():
        args["priority"] = form["priority"].strip()[:40]
    ref = form.get("ref", "").strip()[:60]
    if ref.startswith("console:"):
        args["ref"] = ref
    phone = re.sub(r"[\s()-]", "", form.get("phone", ""))[:20]  # "139 1234-5678" as typed
    if phone:
        args["phone"] = phone  # for the webhook only: never in the audit log
    return args


def _without_phone(args: dict[str, str]) -> dict[str, str]:
    """The args as the audit log keeps them: whether a phone number came, not which."""
    kept = {k: v for k, v in args.items() if k != "phone"}
    return {**kept, "phone": "given"} if "phone" in args else kept


def add_bookings(console: Console, logs: dict) -> BookingsPages:
    """Give `console` the bookings routes; the day's list comes from the branches whose
    event log is in `logs` ({branch: path}); the others can still book and say why their
    list is missing."""
    pages = BookingsPages(console, {b: BookingLedger(p) for b, p in logs.items()})
    console.routes.extend(pages.routes)  # the one place the bookings routes are added
    return pages
