"""The head office's staffing page (/console/headoffice/staffing, docs/headoffice.md): a
branch's advice per hour worked out from its events in PostgreSQL by the branch console's
own code (`console_staffing.work_out` with `FromDatabase`, in the same worker process), the
table `nowserving headoffice staffing` prints.

Asking is a POST with the session's CSRF word (the advice costs seconds of CPU: no other
site may make a signed-in browser ask for it); it redirects to the page that shows it (or
says it is being worked out, and reloads itself). A head-office account limited to regions
gets 404 for any other region's branch.
"""

from __future__ import annotations

import asyncio
import logging
from html import escape
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from nowserving import i18n
from nowserving.reports.history import WEEKDAYS
from nowserving.reports.staffing import ServiceNames
from nowserving.web.console_page import _top
from nowserving.web.console_staffing import WAIT_S, Advice, Ask, FromDatabase
from nowserving.web.console_staffing_page import REFRESH_S, _body, ask_fields
from nowserving.web.html import head

if TYPE_CHECKING:
    from nowserving.web.console_headoffice import HeadOffice

log = logging.getLogger(__name__)


class HeadOfficeStaffing:
    """The page's two routes over the head-office pages' access and database."""

    def __init__(self, pages: HeadOffice) -> None:
        self.pages = pages
        self._asked: dict[tuple[str, Ask], object] = {}  # (branch, ask) -> its latest future
        self._names: dict[str, dict[str, str]] = {}  # branch -> its names (branch_dim)
        self._services: dict[str, ServiceNames] = {}  # branch -> its services (branch_dim)
        self._start_open: dict[str, bool] = {}  # branch -> counters_start_open (branch_dim)

    def _branches(self, account, now: float) -> dict[str, object]:
        """The branches `account` sees -> their local date now (each in its zone)."""
        from nowserving.reports.stored import local_dates

        with self.pages._report_lock:
            dates = local_dates(self.pages._report_conn, now)
            found = self.pages._report_conn.execute(
                "SELECT branch, name_zh, name_en, services, counters_start_open "
                "FROM branch_dim").fetchall()  # fmt: skip
        self._names = {r[0]: {"zh": r[1], "en": r[2]} for r in found}
        self._services = {r[0]: ServiceNames.from_json(r[3]) for r in found if r[3]}
        self._start_open = {r[0]: r[4] for r in found if r[4] is not None}
        return {b: d for b, (region, d) in sorted(dates.items()) if account.sees(b, region)}

    async def page(self, request: Request) -> Response:
        """GET …/staffing?branch&weekday&from&to&target: the form, and the advice asked for."""
        access = self.pages._access(request)
        if isinstance(access, Response):
            return access
        session, account, language = access
        query = request.query_params
        seen = await asyncio.to_thread(self._branches, account, self.pages.console.clock())
        branch = query.get("branch") or next(iter(seen), "")
        if query.get("branch") and branch not in seen:
            return HTMLResponse("404", status_code=404)
        today = WEEKDAYS[seen[branch].weekday()] if branch else "mon"
        view = {"language": language, "account": account.name, "csrf": session.csrf,
                "branches": list(seen), "branch": branch, "error": "", "advice": None,
                "working": False, "has_log": True, "config": None, "ids": True,
                "services": self._service_names(branch),
                "names": {b: (self._names.get(b) or {}).get(language, b)
                          for b in seen}}  # fmt: skip
        try:
            ask = Ask.parse(query, today)
        except (ValueError, KeyError) as err:
            view["error"] = "target" if "target" in str(err) else "bad_ask"
            ask = Ask(today, None, None, "80/10")
        view["ask"] = ask
        future = self._asked.get((branch, ask)) if not view["error"] else None
        if future is not None:
            await self._fill(view, future)
        status = 400 if view["error"] in ("target", "bad_ask") else 200
        return HTMLResponse(staffing_page(view), status_code=status)

    async def ask(self, request: Request) -> Response:
        """POST …/staffing (csrf, branch, weekday, from, to, target): start the advice in
        the worker process, then show its page."""
        from nowserving.web.console import _form as read_form

        console = self.pages.console
        form = await read_form(request)
        access = self.pages._access(request, cost=2.0)
        if isinstance(access, Response):
            return access
        session, account, language = access
        language = form.get("lang") if form.get("lang") in ("zh", "en") else language
        if not console.csrf.same(session.csrf, form.get("csrf", "")):
            return Response("403", status_code=403)
        seen = await asyncio.to_thread(self._branches, account, console.clock())
        branch = form.get("branch", "")
        if branch not in seen:
            return HTMLResponse("404", status_code=404)
        fields = {k: form.get(k, "") for k in ("weekday", "from", "to", "target")}
        here = f"{self.pages_here()}?" + urlencode({"lang": language, "branch": branch,
                                                     **fields})  # fmt: skip
        try:
            ask = Ask.parse(fields, WEEKDAYS[seen[branch].weekday()])
        except (ValueError, KeyError):
            return RedirectResponse(here, status_code=303)  # the page says what is wrong
        await asyncio.to_thread(self._start, branch, ask)
        return RedirectResponse(here, status_code=303)

    def pages_here(self) -> str:
        """The page's path."""
        from nowserving.web.console_headoffice import HERE

        return f"{HERE}/staffing"

    def _config(self, branch: str):
        """The branch's config where this web role serves it (`--config`), else None: its
        services' names and groups, as the branch console's staffing page shows them."""
        feed = self.pages.console.feeds.branches.get(branch)
        return None if feed is None else feed.config

    def _service_names(self, branch: str) -> ServiceNames | None:
        """The branch's services' and groups' names and each service's group: its config's
        where this role serves it (`--config`), else as `branch_dim` keeps them (the branches
        file's `config =`); None: neither (its services by id, ungrouped)."""
        config = self._config(branch)
        return ServiceNames.of(config) if config is not None else self._services.get(branch)

    def _start(self, branch: str, ask: Ask) -> None:
        from nowserving.web.console_staffing import last_seq

        source = FromDatabase(self.pages.dsn, branch)
        seq = last_seq(source)
        config = self._config(branch)
        names = self._service_names(branch)  # none: its services by id, ungrouped
        group_of = names.group_of if names is not None else {}
        start_open = (
            config.rules.counters_start_open
            if config is not None
            else self._start_open.get(branch, True)
        )
        # The branch console's worker process and cache (keyed by source, ask, seq, groups).
        future = self.pages.console.staffing.advice_from(source, ask, seq, "UTC", group_of,
                                                         start_open)  # fmt: skip
        self._asked[(branch, ask)] = future
        while len(self._asked) > 64:
            self._asked.pop(next(iter(self._asked)))

    async def _fill(self, view: dict, future) -> None:
        try:
            advice: Advice = await asyncio.wait_for(
                asyncio.shield(asyncio.wrap_future(future)), WAIT_S
            )
        except TimeoutError:
            view["working"] = True
            return
        except Exception as err:  # the worker failed: logged, said on the page
            log.error("head-office staffing advice for %s failed: %r", view["branch"], err)
            view["error"] = "failed"
            return
        view["advice"] = advice
        if advice.error:
            view["error"] = "no_history"


def _ht(language: str, key: str, **values: object) -> str:
    return escape(i18n.text(language, f"headoffice.{key}", **values))


def staffing_page(view: dict) -> str:
    """The whole page: the form (POST, with the CSRF word) and the advice or its state."""
    from nowserving.web.console_headoffice import HERE
    from nowserving.web.console_headoffice_page import _nav

    language = view["language"]
    title = i18n.text(language, "headoffice.staffing_title")
    refresh = f'<meta http-equiv="refresh" content="{REFRESH_S}">' if view["working"] else ""
    here = f"{HERE}/staffing"
    if view["branch"]:
        here += "?" + urlencode({"branch": view["branch"]})
    body = _body(view) if view["branch"] else f'<p class="hint">{_ht(language, "none_yet")}</p>'
    if view["advice"] is None and not view["working"] and not view["error"] and view["branch"]:
        body = f'<p class="hint">{_ht(language, "staffing_ask")}</p>'
    return (
        f"{head(language, title, '/static/console.css', refresh)}"
        f'<body class="headoffice staffing">'
        f"{_top(language, view['account'], view['csrf'], here, title)}"
        f'{_nav(language, "staffing")}<main><section id="staffing">'
        f"{_form(view)}{body}</section>"
        f'<p class="hint">{_ht(language, "staffing_help")}</p></main></body></html>'
    )


def _form(view: dict) -> str:
    from nowserving.web.console_headoffice import HERE

    language, ask = view["language"], view["ask"]
    branches = "".join(
        f'<option value="{escape(b)}"{" selected" if b == view["branch"] else ""}>'
        f"{escape(view['names'].get(b, b))}</option>"
        for b in view["branches"]
    )
    return (
        f'<form method="post" action="{HERE}/staffing" class="staffing-ask">'
        f'<input type="hidden" name="csrf" value="{escape(view["csrf"])}">'
        f'<input type="hidden" name="lang" value="{language}">'
        f'<label>{_ht(language, "branch")}<select name="branch">{branches}</select></label>'
        f"{ask_fields(language, ask)}</form>"
    )
