"""The branch manager's console (docs/console.md): sign-in, the branches an account sees,
each branch live (pushed as Server-Sent Events, or JSON to poll) and its actions (post and
take down notices, pause and open counters), which the web role sends as itself.

A branch the account does not see answers 404, as an unknown one does. Every sign-in and
action goes to the audit log; no password is ever logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from nowserving.i18n import catalog
from nowserving.web.accounts import RIGHTS, Account, Accounts
from nowserving.web.console_page import (
    BASE,
    board,
    branches_page,
    forbidden_page,
    live_page,
    sign_in_page,
)
from nowserving.web.console_view import live_view
from nowserving.web.feed import BranchFeed, Feeds
from nowserving.web.limits import LimitStore
from nowserving.web.security import AddressLimit, Csrf
from nowserving.web.sessions import AuditLog, Lockout, Session, Sessions
from nowserving.web.view import LANGUAGES

log = logging.getLogger(__name__)

COOKIE = "ns_console"
PRE_COOKIE = "ns_console_pre"  # the sign-in form's CSRF cookie, before there is a session
KEEPALIVE_S = 15.0
COMMAND_TIMEOUT_S = 8.0
MAX_FORM_BYTES = 4096
ACTIONS = {"notice": "post_notice", "take-down": "take_down_notice", "pause": "pause_counter",
           "open": "open_counter", "close": "close_counter", "close-service": "close_service",
           "reopen-service": "reopen_service"}  # fmt: skip
# The right (accounts.RIGHTS) each action needs.
ACTION_RIGHTS = {"notice": "notices", "take-down": "notices", "pause": "counters",
                 "open": "counters", "close": "counters", "close-service": "services",
                 "reopen-service": "services"}  # fmt: skip


def _language(value: str | None) -> str:
    return value if value in LANGUAGES else LANGUAGES[0]


def _refusal(language: str, code: str | None, params: dict) -> str:
    words = catalog(language)["refusal"]
    template = words.get(code or "")
    if template is None:
        return words["unknown"].format(code=code or "?")
    try:
        return template.format(**{k: str(v) for k, v in params.items()})
    except (KeyError, IndexError):
        return code or "?"


async def _form(request: Request) -> dict[str, str]:
    import urllib.parse

    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return {}
    fields = urllib.parse.parse_qs(body.decode("utf-8", "replace"), max_num_fields=12)
    return {k: v[0] for k, v in fields.items()}


class Console:
    """The console's routes over `feeds`, for the accounts in `accounts`."""

    def __init__(self, feeds: Feeds, accounts: Accounts, audit: AuditLog,
                 clock: Callable[[], float] = time.time,
                 limit: AddressLimit | None = None,
                 logs: dict[str, Path] | None = None,
                 limits: LimitStore | None = None) -> None:  # fmt: skip
        self.feeds = feeds
        self.accounts = accounts
        self.audit = audit
        self.clock = clock
        self.sessions = Sessions(clock)
        self.lockout = Lockout(clock, limits)  # in `limits`: across processes
        self.csrf = Csrf()
        self.limit = limit or AddressLimit()
        # Each branch's region (the head office's branches file, when it is given):
        # a head-office account limited to regions sees only their branches.
        self.region_of: dict[str, str] = {}
        self.headoffice = False  # the head-office pages are served (web --dsn)
        from nowserving.web.console_staffing import StaffingPages

        self.staffing = StaffingPages(self, logs or {})
        self.routes = [
            Route(f"{BASE}/", self.index),
            Route(f"{BASE}/sign-in", self.sign_in, methods=["POST"]),
            Route(f"{BASE}/sign-out", self.sign_out, methods=["POST"]),
            Route(f"{BASE}/{{branch}}", self.live),
            Route(f"{BASE}/{{branch}}/staffing", self.staffing.page),
            Route(f"{BASE}/{{branch}}/events", self.events),
            Route(f"{BASE}/{{branch}}/view.json", self.view_json),
            Route(f"{BASE}/{{branch}}/{{action}}", self.act, methods=["POST"]),
        ]

    def close(self) -> None:
        """Stop what the console started (the staffing page's worker process)."""
        self.staffing.close()

    # ----- helpers ----------------------------------------------------------------------

    def _address(self, request: Request) -> str:
        return request.client.host if request.client else "?"

    def _signed_in(self, request: Request) -> tuple[Session, Account] | None:
        session = self.sessions.find(request.cookies.get(COOKIE))
        if session is None:
            return None
        account = self.accounts.get(session.account)
        if account is None or account.password_hash != session.stamp:
            self.sessions.close(session.id)  # removed, or its password changed
            return None
        return session, account

    def _branch(self, request: Request, account: Account) -> BranchFeed | None:
        feed = self.feeds.branches.get(request.path_params["branch"])
        if feed is None or not account.sees(feed.id, self.region_of.get(feed.id)):
            return None
        return feed

    def _view(self, feed: BranchFeed, language: str, account: Account) -> dict:
        client = feed.client
        view = live_view(feed.config, feed.state(), dict(client.lines), feed.statuses(),
                         client.server_online, client.connected, language,
                         self.clock())  # fmt: skip
        view["rights"] = sorted(RIGHTS.get(account.role, ()))  # what the page offers
        return view

    def forbidden(self, request: Request, account: Account, csrf: str, feed: BranchFeed,
                  language: str, right: str) -> Response:  # fmt: skip
        """403: a page that says what this account's role may not do, and where it may go."""
        self.audit.write("forbidden", account.name, self._address(request), False,
                         branch=feed.id, right=right, path=request.url.path)  # fmt: skip
        html = forbidden_page(language, account.name, account.role, csrf, feed.id,
                              feed.config.names.get(language, feed.id), right)  # fmt: skip
        return HTMLResponse(html, status_code=403)

    def page_request(self, request: Request, right: str
                     ) -> tuple[Session, Account, BranchFeed, str] | Response:  # fmt: skip
        """(session, account, branch feed, language) for a page of a branch that needs
        `right`, or the answer instead: sign in again, 404 a branch not seen, 403."""
        language = _language(request.query_params.get("lang"))
        found = self._signed_in(request)
        if found is None:
            return self._sign_in_again(language)
        session, account = found
        feed = self._branch(request, account)
        if feed is None:
            return HTMLResponse("404", status_code=404)
        if not account.may(right):
            return self.forbidden(request, account, session.csrf, feed, language, right)
        return session, account, feed, language

    def _too_many(self, request: Request, cost: float = 1.0) -> Response | None:
        if not self.limit.allow(self._address(request), cost):
            return Response("429", status_code=429, headers={"retry-after": "10"})
        return None

    def _sign_in_again(self, language: str) -> Response:
        return RedirectResponse(f"{BASE}/?lang={language}&expired=1", status_code=303)

    # ----- signing in and out -----------------------------------------------------------

    async def index(self, request: Request) -> Response:
        """The sign-in form, or the branches the signed-in account sees."""
        language = _language(request.query_params.get("lang"))
        found = self._signed_in(request)
        if found is None:
            pre = request.cookies.get(PRE_COOKIE) or self.csrf.new_key()
            error = ""
            if "expired" in request.query_params:
                error = catalog(language)["console"]["expired"]
            response = HTMLResponse(sign_in_page(language, self.csrf.word(pre), error))
            self._set_cookie(request, response, PRE_COOKIE, pre, max_age=3600)
            return response
        session, account = found
        branches = [
            (b, feed.config.names.get(language, b))
            for b, feed in self.feeds.branches.items()
            if account.sees(b, self.region_of.get(b))
        ]
        head_office = self.headoffice and account.role == "head_office"
        if len(branches) == 1 and not head_office:
            return RedirectResponse(f"{BASE}/{branches[0][0]}?lang={language}", status_code=303)
        return HTMLResponse(branches_page(language, account.name, session.csrf, branches,
                                          head_office))  # fmt: skip

    async def sign_in(self, request: Request) -> Response:
        """Check the account and password (POST /console/sign-in)."""
        refused = self._too_many(request, cost=3.0)
        if refused is not None:
            return refused
        form = await _form(request)
        language = _language(form.get("lang"))
        pre = request.cookies.get(PRE_COOKIE, "")
        if not pre or not self.csrf.check(pre, form.get("csrf", "")):
            return Response("403", status_code=403)
        name = form.get("account", "").strip().lower()[:40]
        address = self._address(request)
        words = catalog(language)["console"]
        wait = self.lockout.locked(name, address)
        if wait > 0:
            self.audit.write("sign_in", name, address, False, why="locked")
            minutes = max(1, int(-(-wait // 60)))
            return HTMLResponse(sign_in_page(language, self.csrf.word(pre),
                                             words["locked"].format(minutes=minutes)),
                                status_code=429)  # fmt: skip
        # scrypt takes ~50 ms of CPU and 16 MiB: off the event loop.
        account = await asyncio.to_thread(
            self.accounts.authenticate, name, form.get("password", "")
        )
        if account is None:
            locked = self.lockout.failed(name, address)
            self.audit.write("sign_in", name, address, False, why="wrong", locked=locked)
            return HTMLResponse(sign_in_page(language, self.csrf.word(pre), words["wrong"]),
                                status_code=401)  # fmt: skip
        self.lockout.succeeded(name, address)
        session = self.sessions.open(account.name, account.password_hash)
        self.audit.write("sign_in", account.name, address, True)
        response = RedirectResponse(f"{BASE}/?lang={language}", status_code=303)
        self._set_cookie(request, response, COOKIE, session.id, max_age=None)
        response.delete_cookie(PRE_COOKIE, path=BASE)
        return response

    async def sign_out(self, request: Request) -> Response:
        """End the session (POST /console/sign-out)."""
        form = await _form(request)
        language = _language(form.get("lang"))
        found = self._signed_in(request)
        if found is not None:
            session, account = found
            if not self.csrf.same(session.csrf, form.get("csrf", "")):
                return Response("403", status_code=403)
            self.sessions.close(session.id)
            self.audit.write("sign_out", account.name, self._address(request), True)
        response = RedirectResponse(f"{BASE}/?lang={language}", status_code=303)
        response.delete_cookie(COOKIE, path=BASE)
        return response

    def _set_cookie(self, request: Request, response: Response, name: str, value: str,
                    max_age: int | None) -> None:  # fmt: skip
        response.set_cookie(name, value, max_age=max_age, path=BASE, httponly=True,
                            samesite="strict", secure=request.url.scheme == "https")  # fmt: skip

    # ----- the live page ----------------------------------------------------------------

    async def live(self, request: Request) -> Response:
        """A branch's live page (GET /console/<branch>)."""
        found = self.page_request(request, "live")
        if isinstance(found, Response):
            return found
        session, account, feed, language = found
        message = ""
        if "done" in request.query_params:
            message = catalog(language)["console"]["done"]
        elif request.query_params.get("refused") == "confirm":
            message = catalog(language)["console"]["confirm_needed"]
        elif "refused" in request.query_params:
            reason = _refusal(language, request.query_params.get("refused"), {})
            message = catalog(language)["console"]["refused"].format(reason=reason)
        html = live_page(self._view(feed, language, account), account.name, session.csrf,
                         message)  # fmt: skip
        return HTMLResponse(html)

    def _board_request(self, request: Request) -> tuple[Session, BranchFeed, Account] | Response:
        """(session, branch feed, account) for the live board's data, or the answer instead:
        401 signed out, 404 a branch this account does not see, 403 no live page."""
        found = self._signed_in(request)
        if found is None:
            return JSONResponse({"signed_out": True}, status_code=401)
        session, account = found
        feed = self._branch(request, account)
        if feed is None:
            return JSONResponse({}, status_code=404)
        if not account.may("live"):
            return JSONResponse({"forbidden": "live"}, status_code=403)
        return session, feed, account

    async def view_json(self, request: Request) -> Response:
        """The live page's data, to poll where Server-Sent Events do not get through."""
        language = _language(request.query_params.get("lang"))
        found = self._board_request(request)
        if isinstance(found, Response):
            return found
        session, feed, account = found
        view = self._view(feed, language, account)
        return JSONResponse({"html": board(view, session.csrf), "alerts": len(view["alerts"])})

    async def events(self, request: Request) -> Response:
        """The live board as Server-Sent Events: one each time the branch changes."""
        from starlette.responses import StreamingResponse

        language = _language(request.query_params.get("lang"))
        found = self._board_request(request)
        if isinstance(found, Response):
            return found
        session, feed, account = found
        return StreamingResponse(
            self._stream(request, feed, language),
            media_type="text/event-stream",
            headers={"x-accel-buffering": "no"},
        )

    async def _stream(self, request: Request, feed: BranchFeed, language: str):
        yield "retry: 2000\n\n"
        sent = None
        while True:
            found = self._signed_in(request)
            if found is None:
                yield "event: gone\ndata: {}\n\n"
                return
            seen = feed.changes
            view = self._view(feed, language, found[1])
            view.pop("updated")  # the clock alone is not a change
            key = json.dumps(view, ensure_ascii=False, sort_keys=True)
            if key != sent:
                sent = key
                data = self._view(feed, language, found[1])
                text = json.dumps({"html": board(data, found[0].csrf),
                                   "alerts": len(data["alerts"])}, ensure_ascii=False)  # fmt: skip
                yield f"data: {text}\n\n"
            else:
                yield ": still here\n\n"
            await feed.wait_change(KEEPALIVE_S, since=seen)

    # ----- actions ----------------------------------------------------------------------

    async def act(self, request: Request) -> Response:
        """An action on a branch (POST /console/<branch>/<action>), sent as the web role."""
        refused = self._too_many(request, cost=2.0)
        if refused is not None:
            return refused
        form = await _form(request)
        language = _language(form.get("lang"))
        found = self._signed_in(request)
        if found is None:
            return self._sign_in_again(language)
        session, account = found
        if not self.csrf.same(session.csrf, form.get("csrf", "")):
            return Response("403", status_code=403)
        feed = self._branch(request, account)
        action = request.path_params["action"]
        kind = ACTIONS.get(action)
        if feed is None or kind is None:
            return HTMLResponse("404", status_code=404)
        if not account.may(ACTION_RIGHTS[action]):
            return self.forbidden(request, account, session.csrf, feed, language,
                                  ACTION_RIGHTS[action])  # fmt: skip
        args = _arguments(kind, form)
        here = f"{BASE}/{feed.id}?lang={language}"
        if kind == "close_service" and form.get("confirm") != "yes":
            return RedirectResponse(f"{here}&refused=confirm", status_code=303)
        future = feed.client.send(kind, args, deadline_s=COMMAND_TIMEOUT_S)
        reply = await asyncio.wrap_future(future)
        self.audit.write(kind, account.name, self._address(request), reply.ok, branch=feed.id,
                         args=args, code=reply.code)  # fmt: skip
        if reply.ok:
            return RedirectResponse(f"{here}&done=1", status_code=303)
        log.info("%s for %s refused: %s", kind, feed.id, reply.code)
        return RedirectResponse(f"{here}&refused={reply.code}", status_code=303)


def _arguments(kind: str, form: dict[str, str]) -> dict[str, str]:
    """The command's arguments from the form: only the fields it takes, trimmed."""
    if kind == "post_notice":
        args = {"minutes": form.get("minutes", "").strip()[:5]}
        for language in LANGUAGES:
            text = form.get(f"text_{language}", "").strip()[:200]
            if text:
                args[f"text_{language}"] = text
        return args
    if kind == "take_down_notice":
        return {"notice": form.get("notice", "")[:40]}
    if kind in ("close_service", "reopen_service"):
        args = {"service": form.get("service", "")[:40]}
        for language in LANGUAGES if kind == "close_service" else ():
            text = form.get(f"reason_{language}", "").strip()[:120]
            if text:
                args[f"reason_{language}"] = text
        return args
    args = {"counter": form.get("counter", "")[:40]}
    if kind == "pause_counter" and form.get("reason"):
        args["reason"] = form["reason"][:40]
    return args
