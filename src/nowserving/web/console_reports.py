"""The console's reports (docs/console.md, "Reports"): a branch's measures over any range of
days and grouping, as a page with charts, as JSON, CSV and XLSX.

Each branch's visits come from its `VisitProjection` (reports/visits.py), caught up from
the event log before each report (only the events since the last one) on a worker thread:
the event loop never waits on SQLite. Sign-in and branch rights are the console's own.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import math
import threading
from datetime import date, datetime, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from nowserving import i18n
from nowserving.errors import StoreError
from nowserving.reports.kpi import GROUPINGS, LocalTime, Report, Rollup, Target
from nowserving.reports.visits import VisitProjection
from nowserving.web.accounts import RIGHTS
from nowserving.web.console import Console, _language
from nowserving.web.console_page import BASE
from nowserving.web.reports_page import reports_page, staff_rows, table_rows

log = logging.getLogger(__name__)

MAX_DAYS = 3 * 366  # a longer range is refused (a head office compares years elsewhere)
DEFAULT_DAYS = 7


class ReportRequestError(ValueError):
    """A report's query the console cannot answer, in the page's words."""


class ConsoleReports:
    """The report routes over `console`'s sign-in, for the branches in `projections`."""

    def __init__(self, console: Console, projections: dict[str, VisitProjection]) -> None:
        self.console = console
        self.projections = projections
        self.rollups: dict[str, Rollup] = {}  # per branch: each day's tallies, once made
        self._lock = threading.Lock()
        self.routes = [
            Route(f"{BASE}/{{branch}}/reports", self.page),
            Route(f"{BASE}/{{branch}}/reports.json", self.json),
            Route(f"{BASE}/{{branch}}/reports.csv", self.csv),
            Route(f"{BASE}/{{branch}}/reports.xlsx", self.xlsx),
        ]

    def start(self) -> None:
        """Catch every projection up and make every day's tallies on a thread of its own (a
        first build reads the whole log: ~1 M events for a busy year), so that no report
        waits for it all."""

        def work() -> None:
            for branch, projection in self.projections.items():
                feed = self.console.feeds.branches.get(branch)
                if feed is None:
                    continue
                try:
                    with self._lock:
                        applied = projection.catch_up()
                        rollup = self._rollup(feed)
                        rollup.forget(projection.changed())
                        span = projection.span()
                        if span is not None:
                            local = LocalTime(rollup.timezone)
                            rollup.make(projection.visits, local(span[0])[0], local(span[1])[0])
                    log.info("reports of %s: %d events projected, days made", branch, applied)
                except StoreError as err:  # the page says so when asked
                    log.warning("reports of %s: %s", branch, err)

        threading.Thread(target=work, name="reports-catch-up", daemon=True).start()

    def close(self) -> None:
        """Close every projection (idempotent)."""
        for projection in self.projections.values():
            projection.close()

    # ----- what every route does first --------------------------------------------------

    def _access(self, request: Request):
        """(account, branch feed) or the response instead: back to sign-in, or 404."""
        console = self.console
        refused = console._too_many(request)
        if refused is not None:
            return refused
        found = console.page_request(request, "reports")
        if isinstance(found, Response):
            return found
        _, account, feed, _ = found
        return account, feed

    def _range(self, request: Request, feed, language: str) -> tuple[date, date, str]:
        """The query's first and last day and grouping (defaults: the last 7 days, service)."""
        today = datetime.fromtimestamp(self.console.clock(), ZoneInfo(feed.config.rules.timezone))
        params = request.query_params
        by = params.get("by", "service")
        if by not in GROUPINGS:
            by = "service"
        last = _date(params.get("to"), today.date(), language)
        first = _date(params.get("from"), last - timedelta(days=DEFAULT_DAYS - 1), language)
        if last < first or (last - first).days >= MAX_DAYS:
            raise ReportRequestError(i18n.text(language, "reports.bad_range", days=MAX_DAYS))
        return first, last, by

    async def _report(self, feed, first: date, last: date, by: str) -> Report:
        projection = self.projections.get(feed.id)
        if projection is None:
            raise LookupError(feed.id)
        rollup = self._rollup(feed)

        def work() -> Report:  # on a worker thread: SQLite and the sums
            with self._lock:  # one report of a branch at a time (the rollup is shared)
                projection.catch_up()
                rollup.forget(projection.changed())
                return rollup.report(projection.visits, by, first, last)

        return await asyncio.to_thread(work)

    def _rollup(self, feed) -> Rollup:
        rollup = self.rollups.get(feed.id)
        if rollup is None:
            config = feed.config
            targets = {s: Target(*t) for s, t in getattr(config, "targets", {}).items()}
            rollup = self.rollups[feed.id] = Rollup(config.rules.timezone, targets)
        return rollup

    async def _answer(self, request: Request):
        """(account, feed, language, view, report or None): the page's parts, errors in view."""
        access = self._access(request)
        if isinstance(access, Response):
            return access
        account, feed = access
        language = _language(request.query_params.get("lang"))
        view = {"language": language, "name": feed.config.names.get(language, feed.id),
                "base": f"{BASE}/{feed.id}", "branch": feed.id, "account": account.name,
                "rights": RIGHTS.get(account.role, ()), "by": "service",
                "from": "", "to": "", "query": "", "error": ""}  # fmt: skip
        try:
            first, last, by = self._range(request, feed, language)
        except ReportRequestError as err:
            view["error"], view["status"] = str(err), 400
            return account, feed, language, view, None
        view.update({"by": by, "from": first.isoformat(), "to": last.isoformat()})
        view["query"] = urlencode({"from": view["from"], "to": view["to"], "by": by,
                                   "lang": language})  # fmt: skip
        try:
            result = await self._report(feed, first, last, by)
        except LookupError:
            view["error"] = i18n.text(language, "reports.no_log", branch=feed.id)
            return account, feed, language, view, None
        except StoreError as err:
            view["error"] = i18n.text(language, "reports.unreadable", error=str(err))
            return account, feed, language, view, None
        view["made"] = i18n.text(language, "reports.made", first=view["from"], last=view["to"],
                                 tickets=result.total["issued"],
                                 zone=feed.config.rules.timezone)  # fmt: skip
        return account, feed, language, view, result

    # ----- the routes -------------------------------------------------------------------

    async def page(self, request: Request) -> Response:
        """The report page (GET /console/<branch>/reports?from=&to=&by=&lang=)."""
        answer = await self._answer(request)
        if isinstance(answer, Response):
            return answer
        _, feed, _, view, result = answer
        return HTMLResponse(reports_page(view, feed.config, result),
                            status_code=view.get("status", 200))  # fmt: skip

    async def json(self, request: Request) -> Response:
        """The report's figures as JSON (times in seconds, shares 0-1, null where none)."""
        answer = await self._answer(request)
        if isinstance(answer, Response):
            return answer
        _, _, _, view, result = answer
        if result is None:
            return JSONResponse({"error": view["error"]}, status_code=400)
        return JSONResponse({
            "branch": request.path_params["branch"], "from": view["from"], "to": view["to"],
            "by": result.by, "rows": [{"key": k, **_plain(f)} for k, f in result.rows],
            "total": _plain(result.total),
            "targets": {s: str(t) for s, t in result.targets.items()},
            "outliers": [_plain(o) for o in result.outliers],
        })  # fmt: skip

    async def csv(self, request: Request) -> Response:
        """The report's table as CSV (UTF-8 with a BOM, so spreadsheets read Chinese)."""
        answer = await self._answer(request)
        if isinstance(answer, Response):
            return answer
        _, feed, language, view, result = answer
        if result is None:
            return Response(view["error"], status_code=400, media_type="text/plain")
        out = io.StringIO()
        writer = csv.writer(out)
        for row in table_rows(feed.config, result, language):
            writer.writerow(["" if c is None else c for c in row])
        name = _file_name(feed.id, view, "csv")
        return Response("\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8",
                        headers=_attachment(name))  # fmt: skip

    async def xlsx(self, request: Request) -> Response:
        """The report's table (and the staff far from the norm) as an XLSX workbook."""
        answer = await self._answer(request)
        if isinstance(answer, Response):
            return answer
        _, feed, language, view, result = answer
        if result is None:
            return Response(view["error"], status_code=400, media_type="text/plain")
        body = await asyncio.to_thread(workbook, feed.config, result, language)
        name = _file_name(feed.id, view, "xlsx")
        return Response(body, media_type="application/vnd.openxmlformats-officedocument."
                        "spreadsheetml.sheet",
                        headers=_attachment(name))  # fmt: skip


def workbook(config, result: Report, language: str) -> bytes:
    """The report as XLSX bytes: the table on one sheet, the staff far from the norm on
    another (xlsxwriter, in memory)."""
    import xlsxwriter

    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    bold = book.add_format({"bold": True})
    for key, rows in (("sheet_report", table_rows(config, result, language)),
                      ("sheet_staff", staff_rows(config, result, language))):  # fmt: skip
        sheet = book.add_worksheet(i18n.text(language, f"reports.{key}"))
        for r, row in enumerate(rows):
            for c, cell in enumerate(row):
                if cell is not None:
                    sheet.write(r, c, cell, bold if r == 0 or r == len(rows) - 1 else None)
        sheet.freeze_panes(1, 1)
        sheet.set_column(0, 0, 22)
        sheet.set_column(1, len(rows[0]), 12)
    book.close()
    return out.getvalue()


def _date(text: str | None, default: date, language: str) -> date:
    if not text:
        return default
    try:
        return date.fromisoformat(text.strip()[:10])
    except ValueError:
        raise ReportRequestError(
            i18n.text(language, "reports.bad_date", value=text.strip()[:20])
        ) from None


def _plain(figures: dict) -> dict:
    """Figures for JSON: nan as null."""
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in figures.items()}


def _attachment(name: str) -> dict[str, str]:
    return {"content-disposition": f'attachment; filename="{name}"'}


def _file_name(branch: str, view: dict, extension: str) -> str:
    return f"{branch}-{view['by']}-{view['from']}-{view['to']}.{extension}"


def add_reports(console: Console, logs: dict, folder) -> ConsoleReports:
    """Give `console` the report routes of the branches whose event log is in `logs`
    ({branch: path}), their projections kept in `folder` (`visits-<branch>.sqlite`); the
    other branches' report pages say what to start the web role with."""
    from pathlib import Path

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    projections = {
        branch: VisitProjection(path, folder / f"visits-{branch}.sqlite")
        for branch, path in logs.items()
    }
    reports = ConsoleReports(console, projections)
    console.routes.extend(reports.routes)  # the one place the report routes are added
    reports.start()
    return reports
