"""The console's staffing page (/console/<branch>/staffing, docs/console.md): the table
`nowserving staffing` prints, for a chosen weekday (and date range) and target, per service
group where the branch's config has groups (else per service), in the page's language.

The advice reads the branch's event log (`nowserving web --log BRANCH=FILE`) and runs the
simulator check: seconds of CPU. It runs in a worker process, never on the event loop (nor
in a thread of this process, whose GIL the event loop shares); a page waits for it at most
WAIT_S, then says it is working and reloads itself. Results are kept per (branch, weekday,
range, target, the log's last seq): a new event makes new advice, a reload costs nothing.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import threading
from collections import OrderedDict
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from nowserving.reports.history import WEEKDAYS
from nowserving.reports.staffing import Row, ServiceNames, Target
from nowserving.web.console_staffing_page import staffing_page

if TYPE_CHECKING:
    from nowserving.web.console import Console

log = logging.getLogger(__name__)

WAIT_S = 2.0  # how long a request waits for advice being worked out, then "working on it"
SIMULATED_DAYS = 200  # as `nowserving staffing`'s default
CACHED = 32  # results kept (each a few KB)


@dataclass(frozen=True)
class Ask:
    """What the page was asked for, checked."""

    weekday: str
    first: date | None
    last: date | None
    target: str  # "80/10"

    @classmethod
    def parse(cls, query, default_weekday: str) -> Ask:
        """From the query string; ValueError saying what is wrong."""
        weekday = query.get("weekday") or default_weekday
        if weekday not in WEEKDAYS:
            raise ValueError("weekday")
        target = (query.get("target") or "80/10").strip()[:12]
        Target.parse(target)  # raises ValueError
        first = date.fromisoformat(query["from"]) if query.get("from") else None
        last = date.fromisoformat(query["to"]) if query.get("to") else None
        if first and last and first > last:
            raise ValueError("range")
        return cls(weekday, first, last, target)


@dataclass
class Advice:
    """The worked-out advice, or why there is none (`error`: HistoryError's message)."""

    rows: list[Row]
    days: int
    seq: int
    error: str = ""


@dataclass(frozen=True)
class FromDatabase:
    """A branch's events in the head office's PostgreSQL (docs/headoffice.md), in place of
    its log file: the same advice from the same code (`reports.stored.learn_branch`)."""

    dsn: str
    branch: str


def work_out(source: str | FromDatabase, ask: Ask, timezone: str, start_open: bool,
             group_of: dict[str, str], days: int) -> Advice:  # fmt: skip
    """The advice (in the worker process) from a branch's log (its path) or its events at
    the head office: learn the weekday, size by Erlang C and A, check by simulation. The
    same steps as `nowserving staffing` and `nowserving headoffice staffing`."""
    from nowserving.reports.history import HistoryError
    from nowserving.reports.staffing import advise, check_by_simulation

    seq = last_seq(source)
    target = Target.parse(ask.target)
    try:
        history = _learn(source, ask, timezone, target.wait_s, start_open, group_of)
    except HistoryError as err:
        return Advice([], 0, seq, str(err))
    rows = advise(history, target)
    check_by_simulation(history, rows, target, days=days)
    return Advice(rows, history.days, seq)


def _connect(dsn: str):
    """A connection to the head office's database (only a head-office page, which checked
    at start that the driver is installed, asks for advice from it)."""
    try:
        import psycopg
    except ImportError as err:  # the web extra alone: no FromDatabase is ever made
        raise RuntimeError("staffing from PostgreSQL needs nowserving[headoffice]") from err
    return psycopg.connect(dsn)


def _learn(source: str | FromDatabase, ask: Ask, timezone: str, wait_s: float,
           start_open: bool, group_of: dict[str, str]):  # fmt: skip
    from nowserving.reports.history import learn

    if not isinstance(source, FromDatabase):
        return learn(source, ask.weekday, timezone, wait_s, ask.first, ask.last, start_open,
                     group_of)  # fmt: skip
    from nowserving.reports.stored import learn_branch

    # The branch's zone is branch_dim's; its groups its config's where this role serves it.
    with _connect(source.dsn) as conn:
        return learn_branch(conn, source.branch, ask.weekday, wait_s, ask.first, ask.last,
                            start_open, group_of)  # fmt: skip


def last_seq(source: str | FromDatabase) -> int:
    """The log's last seq, or the last seq of the branch the head office has every event
    up to (a cheap read: the key of the cached advice)."""
    if isinstance(source, FromDatabase):
        with _connect(source.dsn) as conn:
            row = conn.execute("SELECT contiguous_seq FROM branches WHERE branch = %s",
                               (source.branch,)).fetchone()  # fmt: skip
        return 0 if row is None or row[0] is None else int(row[0])
    from nowserving.adapters.store import EventLog

    with EventLog(source, create=False) as store:
        return store.last_seq()


class StaffingPages:
    """The staffing page's route and its worker process."""

    def __init__(self, console: Console, logs: dict[str, Path],
                 days: int = SIMULATED_DAYS) -> None:  # fmt: skip
        self.console = console
        self.logs = {branch: Path(path) for branch, path in logs.items()}
        self.days = days
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self._results: OrderedDict[tuple, Future] = OrderedDict()

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                # spawn, not fork: this process has threads (paho, uvicorn) a fork would copy
                # mid-lock.
                context = multiprocessing.get_context("spawn")
                self._pool = ProcessPoolExecutor(max_workers=1, mp_context=context)
            return self._pool

    def close(self) -> None:
        """Stop the worker process (advice being worked out is dropped)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def advice(self, branch: str, ask: Ask, seq: int) -> Future:
        """The advice for `ask` on `branch`'s log at `seq`: done if it was worked out
        before, else under way in the worker process."""
        config = self.console.feeds.branches[branch].config
        group_of = ServiceNames.of(config).group_of  # per group where the config has groups
        return self.advice_from(str(self.logs[branch]), ask, seq, config.rules.timezone,
                                group_of, config.rules.counters_start_open)  # fmt: skip

    def advice_from(self, source: str | FromDatabase, ask: Ask, seq: int, timezone: str,
                    group_of: dict[str, str], start_open: bool = True) -> Future:  # fmt: skip
        """The advice for `ask` from `source` (a log's path, or a branch's events at the
        head office) at `seq`: done if it was worked out before, else under way."""
        key = (source, ask, seq, tuple(sorted(group_of.items())), start_open)
        with self._lock:
            found = self._results.get(key)
            if found is not None and not (found.done() and found.exception() is not None):
                self._results.move_to_end(key)
                return found
        future = self._executor().submit(
            work_out, source, ask, timezone, start_open, group_of, self.days,
        )  # fmt: skip
        with self._lock:
            self._results[key] = future
            while len(self._results) > CACHED:
                self._results.popitem(last=False)
        return future

    async def page(self, request: Request) -> Response:
        """GET /console/<branch>/staffing: the form, and the advice once asked for."""
        found = self.console.page_request(request, "staffing")
        if isinstance(found, Response):
            return found
        session, account, feed, language = found
        config = feed.config
        now = datetime.fromtimestamp(self.console.clock(), ZoneInfo(config.rules.timezone))
        today = WEEKDAYS[now.weekday()]  # the branch's weekday by the console's clock
        query = request.query_params
        page = {"language": language, "branch": feed.id, "account": account.name,
                "csrf": session.csrf, "config": config, "error": "", "advice": None,
                "working": False, "has_log": feed.id in self.logs,
                "rights": sorted(_rights(account))}  # fmt: skip
        try:
            ask = Ask.parse(query, today)
        except (ValueError, KeyError) as err:
            page["error"] = "target" if "target" in str(err) else "bad_ask"
            ask = Ask(today, None, None, "80/10")
        page["ask"] = ask
        if "weekday" in query and not page["error"] and page["has_log"]:
            await self._fill(page, feed.id, ask)
        status = 400 if page["error"] in ("target", "bad_ask") else 200
        return HTMLResponse(staffing_page(page), status_code=status)

    async def _fill(self, page: dict, branch: str, ask: Ask) -> None:
        try:
            seq = await asyncio.to_thread(last_seq, str(self.logs[branch]))
        except Exception as err:  # a missing or unreadable file: said on the page
            log.warning("staffing: cannot read %s's log %s: %s", branch, self.logs[branch], err)
            page["error"] = "no_log"
            return
        future = self.advice(branch, ask, seq)
        try:
            advice = await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)), WAIT_S)
        except TimeoutError:
            page["working"] = True
            return
        except Exception as err:  # the worker failed: logged, said on the page
            log.error("staffing advice for %s failed: %r", branch, err)
            page["error"] = "failed"
            return
        page["advice"] = advice
        if advice.error:
            page["error"] = "no_history"


def _rights(account) -> set[str]:
    from nowserving.web.accounts import RIGHTS

    return set(RIGHTS.get(account.role, ()))
