"""The head office's pages in the console (docs/headoffice.md, "Head-office views"): every
branch's live state on one page, grouped by region, and cross-branch reports and rankings
over a range of days, from PostgreSQL (`nowserving web --dsn`).

Head-office accounts only (limited to their regions, if the accounts file says so). Every
query runs on a worker thread: the event loop never waits on PostgreSQL. A thread of its
The derived tables are the head office's to make (`nowserving headoffice rebuild --due
--every 5` beside the ingest): this role only reads them (roles meet on the wire and in the
database, never in code).
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from datetime import date, timedelta

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from nowserving import i18n
from nowserving.errors import ConfigError
from nowserving.reports.kpi import ReportError
from nowserving.web.console import Console, _language
from nowserving.web.console_page import BASE

log = logging.getLogger(__name__)

HERE = f"{BASE}/headoffice"
MAX_DAYS = 3 * 366
# An ingest that has not reported for this long is not running (it reports every 5 s:
# headoffice/health.py; `headoffice status` says NOT REPORTING after the same time).
REPORTING_S = 15.0
# The page's script fetches the board every second: a fifth of a page against the address's
# request budget (5 a second), so viewers behind one proxy address are not refused.
POLL_COST = 0.2
CACHE_S = 0.5  # the live figures are read at most this often, however many are looking
STALE_HEARD_S = 120.0  # nothing heard from a branch for this long: stale, whatever its flag

_BRANCHES = """
SELECT coalesce(d.branch, b.branch), d.region, coalesce(d.name_zh, d.branch, b.branch),
       coalesce(d.name_en, d.branch, b.branch), coalesce(d.timezone, 'UTC'), b.link_up,
       b.server_online, extract(epoch FROM b.last_heard)::float8, b.live,
       CASE WHEN b.state_epoch = b.epoch THEN greatest(0, b.state_seq - b.contiguous_seq) END,
       coalesce(b.gaps_repaired, 0), coalesce(b.events_repaired, 0),
       ((to_timestamp(%(now)s) AT TIME ZONE coalesce(d.timezone, 'UTC'))::date)::text
FROM branch_dim d FULL JOIN branches b ON b.branch = d.branch
"""
# The ingest processes' own health (headoffice/health.py), as `headoffice status` says it.
# Each branch's devices down, from their retained statuses the ingest keeps (last will:
# offline), and how many it knows.
_DEVICES = """
SELECT branch, coalesce(array_agg(device ORDER BY device) FILTER (WHERE NOT online), '{}'),
       count(*)
FROM device_status GROUP BY branch
"""
_INGESTS = """
SELECT client_id, extract(epoch FROM now() - updated_at)::float8, rows_per_s, stored,
       extract(epoch FROM started_at)::float8, last_error, extract(epoch FROM last_error_at)::float8
FROM ingest_health ORDER BY client_id
"""
_TODAY = """
WITH z AS (
    SELECT x.branch, ((to_timestamp(%(now)s) AT TIME ZONE coalesce(d.timezone, 'UTC'))::date)
           AS today
    FROM (SELECT branch FROM branches UNION SELECT branch FROM branch_dim) x
    LEFT JOIN branch_dim d ON d.branch = x.branch
)
SELECT v.branch,
       count(*) FILTER (WHERE v.outcome = 'open' AND v.called_at IS NULL),
       extract(epoch FROM min(v.issued_at) FILTER (WHERE v.outcome = 'open'
                                                   AND v.called_at IS NULL))::float8,
       count(*) FILTER (WHERE v.outcome = 'served'),
       count(*) FILTER (WHERE v.within_target),
       count(*) FILTER (WHERE v.outcome <> 'open')
FROM visits v JOIN z ON z.branch = v.branch AND v.day = z.today
GROUP BY v.branch
"""
# Each counter's last open/pause/close (of the last week: a counter open at a day's start
# is not logged again): the open ones, of those named.
_COUNTERS = """
WITH last AS (
    SELECT DISTINCT ON (e.branch, e.data->>'counter') e.branch, e.type
    FROM events e
    WHERE e.at >= to_timestamp(%(now)s) - interval '7 days' AND e.at <= to_timestamp(%(now)s)
      AND e.branch = ANY(%(branches)s)
      AND e.type IN ('counter_opened', 'counter_paused', 'counter_closed')
    ORDER BY e.branch, e.data->>'counter', e.at DESC, e.epoch DESC, e.seq DESC
)
SELECT branch, count(*) FILTER (WHERE type = 'counter_opened'), count(*) FROM last
GROUP BY branch
"""


# What a report kept is made from: its days' rollup rows (how many, when last made), the
# branches' regions, and its month's summary (a report from an older summary is made again
# once a newer one is there).
_VERSION = """
SELECT (SELECT count(*) FROM visits_daily WHERE day >= %s AND day <= %s),
       (SELECT max(made_at) FROM visits_daily WHERE day >= %s AND day <= %s),
       (SELECT md5(string_agg(branch || '=' || coalesce(region, ''), ',' ORDER BY branch))
        FROM branch_dim),
       (SELECT max(made_at) FROM month_summary_made
        WHERE month >= date_trunc('month', %s::date) AND month <= %s)
"""
KEEP_REPORTS = 16
# A month's summary older than its rollups is still shown (saying when it was made) for this
# long: the ingest makes the month running again at most 5 minutes after a rebuild of one of
# its days (headoffice/months.py), so its report need not be counted from the days meanwhile.
SUMMARY_STALE_S = 600.0

# As `nowserving headoffice status` says it (headoffice/status.py): stale, server down,
# behind, ok.
_VERDICTS = """
SELECT b.branch, CASE
    WHEN NOT coalesce(b.link_up, false) THEN 'stale'
    WHEN b.server_online IS FALSE THEN 'server down'
    WHEN (b.state_epoch = b.epoch AND b.state_seq > b.contiguous_seq)
      OR EXISTS (SELECT 1 FROM gaps g WHERE g.branch = b.branch AND g.epoch = b.epoch
                 AND g.repaired_at IS NULL AND g.last_seq > b.contiguous_seq) THEN 'behind'
    ELSE 'ok' END
FROM branches b
"""


class HeadOfficeRequestError(ValueError):
    """A query the head-office pages cannot answer, in the page's words."""


# The newest head-office migration whose tables these pages read (the web role does not
# import the head-office role, which ships them; tests/headoffice keeps it the newest).
SCHEMA_NEEDED = 22


def _schema_has(conn, version: int) -> bool:
    """Whether head-office migration `version` is applied to the database of `conn`."""
    if not conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()[0]:
        return False
    found = conn.execute("SELECT 1 FROM schema_version WHERE version = %s", (version,))
    return found.fetchone() is not None


class HeadOffice:
    """The head-office routes over `console`'s sign-in, reading the database at `dsn`."""

    def __init__(self, console: Console, dsn: str) -> None:
        try:
            import psycopg
        except ImportError as err:  # the web extra alone: a head-office page needs more
            raise ConfigError(
                ["--dsn needs PostgreSQL's driver: pip install 'nowserving[web,headoffice]'"],
                "web",
            ) from err

        self.console = console
        self.dsn = dsn
        self._conn = psycopg.connect(dsn, autocommit=True)
        if not _schema_has(self._conn, SCHEMA_NEEDED):
            self._conn.close()
            raise ConfigError(
                [f"the head office's database is not up to date (migration {SCHEMA_NEEDED} "
                 "not applied): run `nowserving headoffice migrate --dsn ...` first"],
                "web",
            )  # fmt: skip
        self._lock = threading.Lock()  # one query at a time on the connection
        # Reports on their own connection: a long one never holds up the live page's board.
        self._report_conn = psycopg.connect(dsn, autocommit=True)
        self._report_lock = threading.Lock()
        # The last reports made, with the version of their days they were made from: the
        # same report asked again (another ranking, the other language, the JSON twin) is
        # not counted again until a rebuild changes one of its days.
        self._reports: dict[tuple, tuple[tuple, object]] = {}
        self._live_cache: tuple[float, dict] | None = None  # (monotonic time, figures)
        console.headoffice = True
        from nowserving.web.console_headoffice_staffing import HeadOfficeStaffing

        self.staffing = HeadOfficeStaffing(self)
        self.routes = [
            Route(HERE, self.live),
            Route(f"{HERE}/live.json", self.live_json),
            Route(f"{HERE}/live.part", self.live_part),
            Route(f"{HERE}/reports", self.reports),
            Route(f"{HERE}/reports.json", self.reports_json),
            Route(f"{HERE}/staffing", self.staffing.page, methods=["GET"]),
            Route(f"{HERE}/staffing", self.staffing.ask, methods=["POST"]),
        ]

    def start(self) -> None:
        """Learn each branch's region (the console's access by region needs it)."""
        self._regions()

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self._conn.close()
        self._report_conn.close()

    # ----- data -------------------------------------------------------------------------

    def _regions(self) -> dict[str, dict[str, str]]:
        """Region id -> names; and the console learns each branch's region."""
        with self._lock:
            regions = {r[0]: {"zh": r[1], "en": r[2]} for r in self._conn.execute(
                "SELECT region, name_zh, name_en FROM region_dim")}  # fmt: skip
            found = self._conn.execute(
                "SELECT branch, region FROM branch_dim WHERE region IS NOT NULL"
            ).fetchall()
            self.console.region_of = dict(found)
        return regions

    def _live_data(self, now: float) -> dict:
        """The live page's figures of every branch, read at most once every CACHE_S whoever
        looks (each viewer's page polls every second)."""
        with self._lock:
            cached = self._live_cache
            if cached is not None and time.monotonic() - cached[0] < CACHE_S:
                return cached[1]
            conn = self._conn
            branches = conn.execute(_BRANCHES, {"now": now}).fetchall()
            # Counters open come from the branch's state (its live summary); only a branch
            # without one (never heard since the ingest kept them) is read from its events.
            missing = [r[0] for r in branches if r[8] is None]
            counters = {}
            if missing:
                query = {"now": now, "branches": missing}
                counters = {r[0]: r[1:] for r in conn.execute(_COUNTERS, query)}
            data = {
                "branches": branches,
                "today": {r[0]: r[1:] for r in conn.execute(_TODAY, {"now": now})},
                "counters": counters,
                "verdicts": dict(conn.execute(_VERDICTS).fetchall()),
                "devices": {r[0]: r[1] for r in conn.execute(_DEVICES)},
                "ingests": conn.execute(_INGESTS).fetchall(),
            }
            self._live_cache = (time.monotonic(), data)
            return data

    def live_rows(self, account, language: str, now: float) -> list[dict]:
        """Every branch `account` sees: its state now (sorted by region, then name)."""
        regions = self._regions()
        data = self._live_data(now)
        rows = []
        for branch, region, name_zh, name_en, *rest in data["branches"]:
            if not account.sees(branch, region):
                continue
            row = {"branch": branch, "region": region or "",
                   "region_name": (regions.get(region) or {}).get(language, region or ""),
                   "name": name_zh if language == "zh" else name_en}  # fmt: skip
            row.update(self._live_figures(branch, rest, data, now))
            rows.append(row)
        rows.sort(key=lambda r: (r["region"] == "", r["region_name"], r["name"]))
        return rows

    def _live_figures(self, branch: str, rest: list, data: dict, now: float) -> dict:
        """One branch's figures: waiting, counters and served from its live summary (its
        newest state: current within a batch of the ingest), falling back to today's
        visits; the longest wait and within target from today's visits (as fresh as their
        last rebuild)."""
        _tz, _link, _online, heard, live, lag, gaps, repaired, local_today = rest
        waiting, oldest, served, within, ended = data["today"].get(branch, (0, None, 0, 0, 0))
        opened, known = data["counters"].get(branch, (0, 0))
        if live is not None:
            waiting = live["waiting"]
            opened, known = live["counters_open"], live["counters_known"]
            if live.get("day") == local_today:
                served = live["served"]
            if waiting == 0:
                oldest = None
        verdict = data["verdicts"].get(branch, "stale")
        if verdict != "stale" and (heard is None or now - heard > STALE_HEARD_S):
            verdict = "stale"
        names = self._devices_down(branch, data) if verdict != "stale" else None
        return {
            "status": verdict, "counters_open": opened, "counters_known": known,
            "waiting": waiting,
            "longest_wait_s": None if oldest is None else max(0.0, now - oldest),
            "served": served, "sla": within / ended if ended else None,
            "devices_down": None if names is None else len(names), "devices_down_names": names,
            "lag": lag, "gaps_repaired": gaps, "events_repaired": repaired,
            "state_at": None if live is None else live.get("at"),
        }  # fmt: skip

    def _devices_down(self, branch: str, data: dict) -> list[str] | None:
        """The ids of `branch`'s devices whose retained status says offline (their last will
        fired), as the ingest keeps them; else from this web role's own feed of the branch
        (`--config`); None: nothing known. A stale branch's are not shown (not "0 down")."""
        if branch in data["devices"]:
            return list(data["devices"][branch])
        feed = self.console.feeds.branches.get(branch)
        if feed is None:
            return None
        return sorted(d for d, s in feed.statuses().items() if not s.online)

    def ingests(self, now: float) -> list[dict]:
        """Each ingest process's health as it last reported it (headoffice/health.py)."""
        found = []
        for client, age, rate, stored, started, error, error_at in self._live_data(now)["ingests"]:
            found.append({
                "client_id": client, "up": age < REPORTING_S, "reported_s_ago": age,
                "rows_per_s": rate, "stored": stored, "started_at": started,
                "last_error": None if error is None else {"at": error_at, "message": error},
            })  # fmt: skip
        return found

    def report(self, account, first: date, last: date, by: str, measure: str):
        """The cross-branch report of the branches `account` sees, ranked by `measure`."""
        from nowserving.reports.crossbranch import cross_report, ranking

        regions = self._regions()
        with self._report_lock:
            conn = self._report_conn
            dims = {r[0]: r[1:] for r in conn.execute(
                "SELECT branch, region, name_zh, name_en, services FROM branch_dim")}  # fmt: skip
            known = [r[0] for r in conn.execute(
                "SELECT branch FROM branches UNION SELECT branch FROM branch_dim")]  # fmt: skip
            seen = [b for b in known if account.sees(b, (dims.get(b) or (None,))[0])]
            key = (first, last, by, tuple(sorted(seen)))
            version = conn.execute(_VERSION, (first, last) * 3).fetchone()
            kept = self._reports.get(key)
            if kept is not None and kept[0] == version:
                result = kept[1]
            else:
                result = cross_report(conn, first, last, by, seen, stale_s=SUMMARY_STALE_S)
                self._reports[key] = (version, result)
                while len(self._reports) > KEEP_REPORTS:
                    self._reports.pop(next(iter(self._reports)))
        return result, ranking(result, measure), regions, dims

    # ----- routes -----------------------------------------------------------------------

    def _access(self, request: Request, cost: float = 1.0):
        """(session, account, language) of a head-office account, or the answer instead."""
        console = self.console
        refused = console._too_many(request, cost)
        if refused is not None:
            return refused
        language = _language(request.query_params.get("lang"))
        found = console._signed_in(request)
        if found is None:
            return console._sign_in_again(language)
        session, account = found
        if account.role != "head_office":
            return HTMLResponse("404", status_code=404)
        return session, account, language

    async def live(self, request: Request) -> Response:
        """Every branch's state on one page (GET /console/headoffice)."""
        from nowserving.web.console_headoffice_page import live_page

        access = self._access(request)
        if isinstance(access, Response):
            return access
        session, account, language = access
        now = self.console.clock()
        rows, ingests = await asyncio.to_thread(self._live, account, language, now)
        return HTMLResponse(live_page(language, account.name, session.csrf, rows, now, ingests))

    async def live_part(self, request: Request) -> Response:
        """The live page's board alone, for its script to swap in (GET …/live.part)."""
        from nowserving.web.console_headoffice_page import live_board

        access = self._access(request, POLL_COST)
        if isinstance(access, Response):
            return access
        _, account, language = access
        now = self.console.clock()
        rows, ingests = await asyncio.to_thread(self._live, account, language, now)
        return HTMLResponse(live_board(language, rows, now, ingests),
                            headers={"Cache-Control": "no-store"})  # fmt: skip

    async def live_json(self, request: Request) -> Response:
        """The live page's rows and the ingest's health as JSON (times in seconds, shares
        0-1, null where none)."""
        access = self._access(request)
        if isinstance(access, Response):
            return access
        _, account, language = access
        now = self.console.clock()
        rows, ingests = await asyncio.to_thread(self._live, account, language, now)
        return JSONResponse({"at": now, "branches": rows, "ingests": ingests})

    def _live(self, account, language: str, now: float) -> tuple[list[dict], list[dict]]:
        return self.live_rows(account, language, now), self.ingests(now)

    def today(self, account, now: float) -> date:
        """The default last day of a report: the latest date, each in its own zone, of the
        branches `account` sees (docs/headoffice.md)."""
        from nowserving.reports.stored import latest_local_date, local_dates

        with self._report_lock:
            dates = local_dates(self._report_conn, now)
        return latest_local_date(dates, now, account.sees)

    def _query(self, request: Request, language: str, today: date) -> tuple[date, date, str, str]:
        from nowserving.reports.crossbranch import GROUPS, RANKINGS

        params = request.query_params
        by = params.get("by", "branch")
        by = by if by in GROUPS else "branch"
        measure = params.get("rank", "within_share")
        measure = measure if measure in RANKINGS else "within_share"
        try:
            last = date.fromisoformat(params["to"]) if params.get("to") else today
            first = (date.fromisoformat(params["from"]) if params.get("from")
                     else last - timedelta(days=6))  # fmt: skip
        except ValueError:
            raise HeadOfficeRequestError(
                i18n.text(language, "reports.bad_date", value=params.get("from", "")[:20])
            ) from None
        if last < first or (last - first).days >= MAX_DAYS:
            raise HeadOfficeRequestError(i18n.text(language, "reports.bad_range", days=MAX_DAYS))
        return first, last, by, measure

    async def _report_answer(self, request: Request):
        access = self._access(request)
        if isinstance(access, Response):
            return access
        session, account, language = access
        view = {"language": language, "account": account.name, "csrf": session.csrf,
                "error": "", "by": "branch", "rank": "within_share",
                "from": "", "to": ""}  # fmt: skip
        today = await asyncio.to_thread(self.today, account, self.console.clock())
        try:
            first, last, by, measure = self._query(request, language, today)
        except HeadOfficeRequestError as err:
            view["error"] = str(err)
            return view, None
        view.update({"from": first.isoformat(), "to": last.isoformat(), "by": by,
                     "rank": measure})  # fmt: skip
        try:
            answer = await asyncio.to_thread(self.report, account, first, last, by, measure)
        except ReportError as err:
            view["error"] = str(err)
            return view, None
        view["services"] = self._service_names(account, answer[3])
        return view, answer

    async def reports(self, request: Request) -> Response:
        """Cross-branch reports and rankings (GET /console/headoffice/reports?from&to&by&rank)."""
        from nowserving.web.console_headoffice_page import reports_page

        answer = await self._report_answer(request)
        if isinstance(answer, Response):
            return answer
        view, result = answer
        status = 400 if view["error"] else 200
        return HTMLResponse(reports_page(view, result), status_code=status)

    def _service_names(self, account, dims: dict) -> dict[str, dict[str, str]]:
        """Each service id's names (the first branch's that has it): from `branch_dim` (the
        branches file's `config =`) of the branches `account` sees (`dims`: the report's),
        then from the configs of the branches this role serves (`--config`): the report per
        service shows names, not ids, where it can."""
        from nowserving.reports.staffing import ServiceNames

        names: dict[str, dict[str, str]] = {}
        for branch, (region, _zh, _en, services) in sorted(dims.items()):
            if account.sees(branch, region):
                for sid, found in ServiceNames.from_json(services).services.items():
                    names.setdefault(sid, found)
        for feed in self.console.feeds.branches.values():
            for sid, service in feed.config.rules.services.items():
                names.setdefault(sid, dict(service.names))
        return names

    async def reports_json(self, request: Request) -> Response:
        """The report's ranked rows and total as JSON."""
        answer = await self._report_answer(request)
        if isinstance(answer, Response):
            return answer
        view, result = answer
        if result is None:
            return JSONResponse({"error": view["error"]}, status_code=400)
        report, ranked, _, _ = result
        return JSONResponse({
            "from": view["from"], "to": view["to"], "by": view["by"], "rank": view["rank"],
            "rows": [{"rank": n, "key": k, **_plain(f)} for n, k, f in ranked],
            "total": _plain(report.total),
            "as_of": report.as_of,
        })  # fmt: skip


def _plain(figures: dict) -> dict:
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in figures.items()}


def add_headoffice(console: Console, dsn: str) -> HeadOffice:
    """Give `console` the head-office pages over the database at `dsn` (before the
    branch routes: /console/headoffice is not a branch)."""
    pages = HeadOffice(console, dsn)
    console.routes[:0] = pages.routes
    pages.start()
    return pages
