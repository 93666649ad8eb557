"""Remote tickets on the web role (docs/appointments.md): the branch's join page, a
booking's check-in page, the hall link a phone opens in the branch, and the hall screen.

A join is rate-limited per client address (`[remote] per_address_per_hour`, counted in the
role's limits store, so across its processes and restarts) on top of the role's request
budget, and the server caps joins per branch per hour. The join form's CSRF
word is an HMAC of a random cookie (there is no ticket token yet). The join sets a cookie
holding the new page's token, and a booking's page one holding its code, both for the
branch's path only: the hall QR code, opened by the phone's camera in another tab, finds
the customer's page by it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from nowserving import i18n
from nowserving.protocol.views import wait_minutes
from nowserving.web.remote_page import booking_page, hall_screen, here_unknown_page, join_page
from nowserving.web.view import LANGUAGES

if TYPE_CHECKING:
    from nowserving.web.app import TicketPages
    from nowserving.web.feed import BranchFeed

log = logging.getLogger(__name__)

JOIN_COOKIE = "ns_join"  # the join form's CSRF cookie
TOKEN_COOKIE = "ns_remote"  # the remote ticket's page token, for the hall link
BOOKING_COOKIE = "ns_booking"  # the booking's code, for the hall link
LANGUAGE_COOKIE = "ns_lang"  # ... and the language its page was read in
COOKIE_S = 86_400
CODE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


def refusal_words(language: str, code: str | None, params: dict | None = None) -> str:
    """A refusal in the page's language (`refusal.<code>`), or the generic failure."""
    template = i18n.catalog(language)["refusal"].get(code or "")
    if template:
        try:
            return template.format(**{k: str(v) for k, v in (params or {}).items()})
        except (KeyError, IndexError):
            pass
    return i18n.text(language, "web.failed")


def _language(request: Request, form: dict | None = None) -> str:
    asked = (form or {}).get("lang") or request.query_params.get("lang")
    return asked if asked in LANGUAGES else LANGUAGES[0]


def _clean_code(text: str) -> str:
    return "".join(ch for ch in text.upper() if ch in CODE_CHARS)[:20]


class RemotePages:
    """The remote tickets' routes, beside the ticket pages (`pages`)."""

    def __init__(self, pages: TicketPages) -> None:
        self.pages = pages
        self.routes = [
            Route("/{branch}/join", self.join, methods=["GET", "POST"]),
            Route("/{branch}/here/{hall}", self.here),
            Route("/{branch}/b/{code}", self.booking),
            Route("/{branch}/b/{code}/check-in", self.booking_check_in, methods=["POST"]),
            Route("/{branch}/hall/{key}", self.hall),
        ]

    def _feed(self, request: Request) -> BranchFeed | None:
        return self.pages.feeds.branches.get(request.path_params["branch"])

    def _join_allowed(self, feed: BranchFeed, request: Request) -> bool:
        """Whether this address may join at this branch now (a bucket of `per_address`
        joins, refilled over an hour, in the store shared by the role's processes)."""
        per_hour = feed.config.web.remote_per_address
        key = f"join:{feed.id}:{self.pages._address(request)}"
        return self.pages.limits.take(key, per_hour / 3600.0, per_hour, self.pages.clock())

    # ----- the join page ------------------------------------------------------------------

    def _services(self, feed: BranchFeed, language: str) -> list[dict]:
        state = feed.state()
        out = []
        for service in feed.config.rules.services.values():
            if not service.remote:
                continue
            view = state.service(service.id) if state is not None else None
            if view is not None and (not view.accepting or view.closed is not None):
                continue
            wait = ""
            if view is not None:
                wait = i18n.text(language, "web.join_service_waiting", n=view.waiting)
                if view.estimate is not None:
                    minutes = wait_minutes(view.estimate.low, view.estimate.high)
                    wait += " · " + i18n.text(language, "web.remote_range",
                                              range=i18n.wait_range(language, minutes.low,
                                                                    minutes.high))  # fmt: skip
            out.append({"id": service.id, "name": service.names.get(language, service.id),
                        "wait": wait})  # fmt: skip
        return out

    async def join(self, request: Request) -> Response:
        """GET: the join page; POST: join a service (a new token, its page)."""
        refused = self.pages._refused(request, 2.0 if request.method == "POST" else 1.0)
        if refused is not None:
            return refused
        feed = self._feed(request)
        if feed is None:
            return self.pages._not_found(request)
        form = await _form(request) if request.method == "POST" else {}
        language = _language(request, form)
        cookie = request.cookies.get(JOIN_COOKIE) or ""
        if len(cookie) < 16:
            cookie = secrets.token_urlsafe(18)
        error = ""
        if request.method == "POST":
            answer = await self._join(request, feed, form, cookie, language)
            if isinstance(answer, Response):
                return answer
            error = answer
        html = join_page(language, feed.config.names.get(language, feed.id), request.url.path,
                         self.pages.csrf.word("join:" + cookie),
                         self._services(feed, language), error)  # fmt: skip
        response = HTMLResponse(html, status_code=400 if error else 200)
        _set_cookie(response, JOIN_COOKIE, cookie, f"/{feed.id}/", "strict")
        return response

    async def _join(self, request: Request, feed: BranchFeed, form: dict, cookie: str,
                    language: str) -> Response | str:  # fmt: skip
        """Send the join; the ticket page to go to, or the words of why not."""
        if not self.pages.csrf.check("join:" + cookie, form.get("csrf", "")):
            return Response("403", status_code=403)
        if not self._join_allowed(feed, request):
            return i18n.text(language, "web.join_too_many")
        token = secrets.token_urlsafe(16)
        args = {"service": form.get("service", "")[:40], "language": language, "token": token}
        future = feed.client.send("join_remote", args, deadline_s=8.0)
        reply = await asyncio.wrap_future(future)
        if not reply.ok:
            log.info("join_remote refused at %s: %s", feed.id, reply.code)
            return refusal_words(language, reply.code, reply.params)
        response = RedirectResponse(f"/{feed.id}/t/{token}?lang={language}", status_code=303)
        _set_cookie(response, TOKEN_COOKIE, token, f"/{feed.id}/", "lax")
        return response

    # ----- the hall link and the hall screen -------------------------------------------------

    async def here(self, request: Request) -> Response:
        """The hall QR code's link: on to the page of the remote ticket or booking this
        phone holds, the code filled in; else how to check in."""
        refused = self.pages._refused(request)
        if refused is not None:
            return refused
        feed = self._feed(request)
        if feed is None:
            return self.pages._not_found(request)
        hall = _clean_code(request.path_params["hall"])
        language = _language(request)
        token = request.cookies.get(TOKEN_COOKIE)
        record = feed.find(token) if token else None
        if record is not None and record.status == "remote":  # in the ticket's language
            return RedirectResponse(f"/{feed.id}/t/{token}?hall={hall}", status_code=303)
        code = _clean_code(request.cookies.get(BOOKING_COOKIE) or "")
        if code:
            kept = request.cookies.get(LANGUAGE_COOKIE)
            language = (
                kept if kept in LANGUAGES and "lang" not in request.query_params else language
            )
            return RedirectResponse(f"/{feed.id}/b/{code}?hall={hall}&lang={language}",
                                    status_code=303)  # fmt: skip
        name = feed.config.names.get(language, feed.id)
        return HTMLResponse(here_unknown_page(language, name, request.url.path))

    async def hall(self, request: Request) -> Response:
        """The hall screen: the current hall code as a QR code, for the branch's screen
        only (its address holds a key derived from the server's hall secret)."""
        refused = self.pages._refused(request)
        if refused is not None:
            return refused
        feed = self._feed(request)
        message = feed.hall() if feed is not None else None
        given = hashlib.sha256(request.path_params["key"].encode()).hexdigest()
        expected = (message or {}).get("screen_hash") or "0" * 64
        if not hmac.compare_digest(given, str(expected)) or feed is None or message is None:
            return self.pages._not_found(request)
        code = str(message.get("code", ""))
        link = f"{_public_base(feed, request)}/{feed.id}/here/{code}"
        minutes = max(1, round(feed.config.rules.hall_code_s / 60))
        return HTMLResponse(hall_screen(feed.config.names, link, code, minutes))

    # ----- a booking's page -----------------------------------------------------------------

    async def booking(self, request: Request) -> Response:
        """A booking's page (its code in the address): check in with the hall code."""
        refused = self.pages._refused(request)
        if refused is not None:
            return refused
        feed = self._feed(request)
        code = _clean_code(request.path_params["code"])
        if feed is None or not code:
            return self.pages._not_found(request)
        language = _language(request)
        hall = _clean_code(request.query_params.get("hall", ""))
        return self._booking_answer(request, feed, code, language, hall, "")

    def _booking_answer(self, request: Request, feed: BranchFeed, code: str, language: str,
                        hall: str, error: str) -> Response:  # fmt: skip
        here = f"/{feed.id}/b/{code}"
        html = booking_page(language, feed.config.names.get(language, feed.id), here,
                            self.pages.csrf.word("booking:" + code), hall, error)  # fmt: skip
        response = HTMLResponse(html, status_code=400 if error else 200)
        _set_cookie(response, BOOKING_COOKIE, code, f"/{feed.id}/", "lax")
        _set_cookie(response, LANGUAGE_COOKIE, language, f"/{feed.id}/", "lax")
        return response

    async def booking_check_in(self, request: Request) -> Response:
        """Check a booking in from its page: a new ticket, whose page it goes on to."""
        refused = self.pages._refused(request, 2.0)
        if refused is not None:
            return refused
        feed = self._feed(request)
        code = _clean_code(request.path_params["code"])
        if feed is None or not code:
            return self.pages._not_found(request)
        form = await _form(request)
        language = _language(request, form)
        if not self.pages.csrf.check("booking:" + code, form.get("csrf", "")):
            return Response("403", status_code=403)
        hall = _clean_code(form.get("hall", ""))
        token = secrets.token_urlsafe(16)
        args = {"code": code, "hall": hall, "token": token, "language": language}
        reply = await asyncio.wrap_future(feed.client.send("check_in", args, deadline_s=8.0))
        if reply.ok:
            return RedirectResponse(f"/{feed.id}/t/{token}?lang={language}", status_code=303)
        log.info("a booking's check-in refused at %s: %s", feed.id, reply.code)
        error = refusal_words(language, reply.code, reply.params)
        return self._booking_answer(request, feed, code, language, hall, error)


def _public_base(feed: BranchFeed, request: Request) -> str:
    """Where phones reach this role: `ticket_url`'s start, else the address asked."""
    url = feed.config.ticket_url
    if url and "/{branch}/t/{token}" in url:
        return url.split("/{branch}/t/{token}", 1)[0]
    return str(request.base_url).rstrip("/")


def _set_cookie(response: Response, name: str, value: str, path: str, samesite: str) -> None:
    response.set_cookie(name, value, max_age=COOKIE_S, path=path, httponly=True,
                        samesite=samesite)  # fmt: skip


async def _form(request: Request) -> dict[str, str]:
    from nowserving.web.app import _small_form

    return await _small_form(request)


def hall_message(payload: bytes) -> dict | None:
    """The hall code's retained message, if it reads as one."""
    try:
        message = json.loads(payload)
    except ValueError:
        return None
    return message if isinstance(message, dict) and "code" in message else None
