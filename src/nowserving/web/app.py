"""The web role's ASGI app: the ticket page, its live feed (Server-Sent Events, or JSON
to poll) and its three forms (step out, cancel, rate).

Every ticket URL is `/<branch>/t/<token>`: the kiosk prints `ticket_url` with that path.
An unknown branch and an unknown token get the same 404, after the same work (the token is
hashed either way). Paths hold tokens: this app logs none, and uvicorn's access log is off.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import urllib.parse
from collections.abc import Callable
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from nowserving.domain.remote import remote_code
from nowserving.web.console import Console
from nowserving.web.feed import BranchFeed, Feeds
from nowserving.web.limits import LimitStore
from nowserving.web.page import not_found_page, ticket_page
from nowserving.web.remote import RemotePages, refusal_words
from nowserving.web.security import HEADERS, AddressLimit, Csrf
from nowserving.web.view import Record, back_by, page_language, ticket_view

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
KEEPALIVE_S = 15.0  # an SSE comment this often keeps proxies from closing the stream
SSE_PER_ADDRESS = 8  # open streams per client address (a family behind one NAT: several)
NOT_FOUND_COST = 5.0  # a wrong token takes this many requests' worth of its address's budget
COMMAND_TIMEOUT_S = 8.0
MAX_FORM_BYTES = 2048
# A check-in refused for one of these is said on the page as it is (the rest: "failed").
CHECK_IN_REFUSALS = frozenset({"hall_code_expired", "bad_hall_code", "no_hall_code",
                               "remote_dropped", "service_closed", "branch_closed"})  # fmt: skip
_NOT_FOUND = not_found_page()


class SecurityHeaders:
    """Adds HEADERS to every response (plain ASGI middleware: works for streams too)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        """Pass through, adding the headers to the response's start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                known = {k.lower() for k, _ in headers}
                for key, value in HEADERS.items():
                    if key.encode() not in known:
                        headers.append((key.encode(), value.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, sending)


class TicketPages:
    """The routes' handlers over `feeds`."""

    def __init__(self, feeds: Feeds, clock: Callable[[], float] = time.time,
                 limit: AddressLimit | None = None,
                 limits: LimitStore | None = None) -> None:  # fmt: skip
        self.feeds = feeds
        self.clock = clock
        self.limit = limit or AddressLimit()  # per process: every request, kept in memory
        self.limits = limits if limits is not None else LimitStore(None)  # shared ones
        self.csrf = Csrf()
        self._streams: dict[str, int] = {}

    # ----- helpers ----------------------------------------------------------------------

    def _address(self, request: Request) -> str:
        return request.client.host if request.client else "?"

    def _find(self, request: Request) -> tuple[BranchFeed, Record] | None:
        feed = self.feeds.branches.get(request.path_params["branch"])
        token = request.path_params["token"]
        if feed is None:  # the same work as a wrong token: hash it against any branch
            feed = next(iter(self.feeds.branches.values()))
            feed.find(token)
            return None
        record = feed.find(token)
        return None if record is None else (feed, record)

    def _view(self, feed: BranchFeed, record: Record, language: str) -> dict:
        line, places = feed.places(record.service)
        return ticket_view(feed.config, feed.state(), line, record, language, self.clock(),
                           places)  # fmt: skip

    def _refused(self, request: Request, cost: float = 1.0) -> Response | None:
        if not self.limit.allow(self._address(request), cost):
            return Response("429", status_code=429, headers={"retry-after": "10"})
        return None

    def _ticket(self, request: Request, cost: float = 1.0) -> tuple[BranchFeed, Record] | Response:
        """The ticket a request's path names, or the answer to give instead: 429 past the
        address's budget, 404 (the same for every wrong branch or token)."""
        refused = self._refused(request, cost)
        if refused is not None:
            return refused
        found = self._find(request)
        return self._not_found(request) if found is None else found

    def _not_found(self, request: Request) -> Response:
        self.limit.allow(self._address(request), NOT_FOUND_COST - 1)
        return HTMLResponse(_NOT_FOUND, status_code=404)

    # ----- pages ------------------------------------------------------------------------

    async def page(self, request: Request) -> Response:
        """The ticket page (GET /<branch>/t/<token>)."""
        found = self._ticket(request)
        if isinstance(found, Response):
            return found
        feed, record = found
        language = page_language(record, request.query_params.get("lang"))
        view = self._view(feed, record, language)
        token = request.path_params["token"]
        here = request.url.path
        refusal = request.query_params.get("refused", "")
        error = "failed" in request.query_params or bool(refusal)
        if refusal:  # a check-in refused: why, in the page's words
            view["error_text"] = refusal_words(language, refusal, {"number": record.number})
        remote = (remote_code(token), "".join(
            ch for ch in request.query_params.get("hall", "").upper() if ch.isalnum()
        )[:20])  # fmt: skip
        html = ticket_page(view, here, self.csrf.word(token),
                           confirm=request.query_params.get("confirm") == "cancel",
                           error=error, remote=remote)  # fmt: skip
        return HTMLResponse(html)

    async def view_json(self, request: Request) -> Response:
        """The page's data, to poll when Server-Sent Events do not get through."""
        found = self._ticket(request)
        if isinstance(found, Response):
            return found
        feed, record = found
        language = page_language(record, request.query_params.get("lang"))
        return JSONResponse(self._view(feed, record, language))

    async def events(self, request: Request) -> Response:
        """The page's data as Server-Sent Events: one each time it changes."""
        found = self._ticket(request)
        if isinstance(found, Response):
            return found
        address = self._address(request)
        if self._streams.get(address, 0) >= SSE_PER_ADDRESS:
            return Response("429", status_code=429, headers={"retry-after": "10"})
        feed, record = found
        language = page_language(record, request.query_params.get("lang"))
        token = request.path_params["token"]
        return StreamingResponse(
            self._stream(feed, token, language, address, request),
            media_type="text/event-stream",
            headers={"x-accel-buffering": "no"},  # nginx: pass each event on at once
        )

    async def _stream(self, feed: BranchFeed, token: str, language: str, address: str,
                      request: Request):  # fmt: skip
        self._streams[address] = self._streams.get(address, 0) + 1
        watch = feed.watch(token)
        # Under ASGI 2.4 Starlette learns of a closed stream only when it next sends (up to
        # KEEPALIVE_S later): until then it would count against the address's streams (a
        # page reloading itself on a change would be refused its stream).
        closing = asyncio.create_task(_until_disconnect(request, watch))
        try:
            yield "retry: 2000\n\n"
            loop = asyncio.get_running_loop()
            sent, seen, fresh = None, None, True
            due = loop.time() + KEEPALIVE_S  # a comment then, unless an event went before
            while True:
                watch.clear()  # a change from here on wakes the wait below
                record = feed.record(watch)
                if record is None:
                    yield "event: gone\ndata: {}\n\n"
                    return
                feed.follow(watch, record)
                inputs = feed.inputs(record)
                # Worked out again when its inputs changed, and at each keepalive (the range
                # narrows and notices end with time alone).
                text = None
                if fresh or not _same(inputs, seen):
                    seen = inputs
                    text = json.dumps(self._view(feed, record, language), ensure_ascii=False)
                if text is not None and text != sent:
                    sent = text
                    yield f"data: {text}\n\n"
                    due = loop.time() + KEEPALIVE_S
                elif loop.time() >= due:  # also when woken often with nothing new to send
                    yield ": still here\n\n"
                    due = loop.time() + KEEPALIVE_S
                fresh = not await watch.wait(max(0.0, due - loop.time()))
                if watch.closed:
                    return
        finally:
            closing.cancel()
            feed.unwatch(watch)
            self._streams[address] -= 1
            if not self._streams[address]:
                del self._streams[address]

    # ----- forms ------------------------------------------------------------------------

    async def act(self, request: Request) -> Response:
        """A form: step out, cancel or rate (POST /<branch>/t/<token>/<action>)."""
        found = self._ticket(request, cost=2.0)
        if isinstance(found, Response):
            return found
        feed, record = found
        token = request.path_params["token"]
        form = await _small_form(request)
        here = request.url.path.rsplit("/", 1)[0]
        language = page_language(record, str(form.get("lang", "")))
        if not self.csrf.check(token, str(form.get("csrf", ""))):
            return Response("403", status_code=403)
        kind, args = self._command(request.path_params["action"], feed, record, form, language)
        if kind is None:
            return self._not_found(request)
        future = feed.client.send(kind, {"ticket": record.id, "token": token, **args},
                                  deadline_s=COMMAND_TIMEOUT_S)  # fmt: skip
        reply = await asyncio.wrap_future(future)
        if kind == "check_in" and not reply.ok and reply.code in CHECK_IN_REFUSALS:
            return RedirectResponse(f"{here}?lang={language}&refused={reply.code}",
                                    status_code=303)  # fmt: skip
        if reply.ok or (kind == "rate" and reply.code == "already_rated"):
            # (A second tap, or a reload that posts again, rated nothing new: not a failure.)
            # The reply comes after the ticket's new record: the page shows the change.
            return RedirectResponse(f"{here}?lang={language}", status_code=303)
        log.info("%s refused for a ticket of %s: %s", kind, feed.id, reply.code)
        return RedirectResponse(f"{here}?lang={language}&failed=1", status_code=303)

    def _command(self, action: str, feed: BranchFeed, record: Record, form, language: str):
        if action == "cancel":
            return "cancel", {}
        if action == "rate":
            return "rate", {"rating": str(form.get("rating", ""))[:20]}
        if action == "check-in":  # a remote ticket, with the hall code (docs/appointments.md)
            hall = "".join(ch for ch in str(form.get("hall", "")).upper() if ch.isalnum())
            return "check_in", {"hall": hall[:20], "language": language}
        if action == "step-out":
            view = self._view(feed, record, language)
            when = back_by(feed.config, view.get("low_s"), self.clock())
            return "step_out", {"back_by": repr(round(when, 1))}
        return None, {}


async def _until_disconnect(request: Request, watch) -> None:
    """Mark `watch` closed (and wake its stream) once the client has gone."""
    while (await request.receive())["type"] != "http.disconnect":
        pass
    watch.closed = True
    watch.wake()


def _same(a: tuple, b: tuple) -> bool:
    """Whether two `BranchFeed.inputs` are the same: the same objects, or equal small parts."""
    return all(x is y or (type(x) is tuple and x == y) for x, y in zip(a, b, strict=True))


async def _small_form(request: Request) -> dict[str, str]:
    """A form post of a few short fields (no python-multipart: this is all the page sends)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return {}
    fields = urllib.parse.parse_qs(body.decode("utf-8", "replace"), max_num_fields=10)
    return {k: v[0] for k, v in fields.items()}


def make_app(feeds: Feeds, clock: Callable[[], float] = time.time,
             limit: AddressLimit | None = None,
             console: Console | None = None,
             limits: LimitStore | None = None) -> Starlette:  # fmt: skip
    """The ASGI app serving `feeds`' branches (and the manager's console, if given); the
    limits that hold across processes in `limits` (by default the console's)."""
    if limits is None and console is not None:
        limits = console.lockout.store
    pages = TicketPages(feeds, clock, limit, limits)
    remote = RemotePages(pages)

    @asynccontextmanager
    async def lifespan(app):
        feeds.start()
        try:
            yield
        finally:
            feeds.close()
            if console is not None:
                console.close()

    routes = [
        *(console.routes if console is not None else []),
        *remote.routes,
        Route("/{branch}/t/{token}", pages.page),
        Route("/{branch}/t/{token}/events", pages.events),
        Route("/{branch}/t/{token}/view.json", pages.view_json),
        Route("/{branch}/t/{token}/{action}", pages.act, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    middleware = [Middleware(SecurityHeaders), Middleware(GZipMiddleware, minimum_size=500)]
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
