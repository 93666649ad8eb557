"""How fast the head office's reports and live page answer at 500 branches.

    nice -n 10 .venv/bin/python bench/headoffice_reports.py [--branches 500] [--days 30]
        [--year-days 365] [--templates 6] [--event-days 7] [--runs 5]

1. **Fill** a real PostgreSQL (Debian's, started as the tests start it:
   tests/headoffice/pg.py, fsync on) with `--branches` × `--days` of visits and their daily
   and hourly rollups, plus one branch (b0000) with `--year-days`. The rows are made by the
   real code: `--templates` simulated branch days (reports/sample.py: the simulator's bank
   day, with staff, ratings and printed estimates, ~1,250 events and ~300 tickets a day) are
   ingested as one branch (`HeadOfficeDb.write`) and rebuilt (`headoffice.visits.rebuild`);
   their rows are then copied in SQL to every branch-day (template `(branch + day) %
   templates`, times shifted by whole days). The events of the last `--event-days` are
   copied the same way (new seqs per branch), for the live page's counters query and for
   timing a rebuild of today.
2. **Month summaries** made for every month the fill marked due (headoffice/months.py),
   each timed (wall, CPU of this process and its backend).
3. **Reports**, `--runs` times each, through the functions the console's routes call
   (`HeadOffice.report`: the cross-branch report and its ranking, then the HTML page), and
   once through HTTP (Starlette's test client: session, sign-in, the route, the page):
   the month for every branch by branch, by region and by service (from its summary), the
   same from the daily rollups, one region's month; one branch's year.
5. **Beside** (`--only beside`): the ingest's writer's batches alone, while a month is summed
   up in a child process as the ingest does, and on a thread of the writer's process.
4. **Live page**: `HeadOffice.live_rows` (and the page) for every branch; and the path of a
   call: a branch's state message written by the ingest (`HeadOfficeDb.write`, as a batch)
   until `live_rows` shows it, and what a rebuild of a branch's today costs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(1, str(ROOT))

import psycopg  # noqa: E402
from _common import command_line, cpu_seconds  # noqa: E402

from nowserving.headoffice.db import HeadOfficeDb  # noqa: E402
from nowserving.headoffice.schema import migrate  # noqa: E402
from nowserving.headoffice.visits import rebuild, rebuild_day  # noqa: E402
from nowserving.reports.sample import write_sample_log  # noqa: E402
from tests.headoffice.pg import Postgres  # noqa: E402
from tests.headoffice.test_visits import ingest, rows_of  # noqa: E402

ZONE = "Asia/Shanghai"
TEMPLATE = date(2026, 1, 5)  # write_sample_log's first day
REGIONS = 10


def name(i: int) -> str:
    return f"b{i:04d}"


def fill(conn, args, today: date) -> dict:
    """Templates rebuilt by the real code, then copied to every branch-day; returns counts."""
    took = {}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "events.sqlite"
        write_sample_log(log, days=args.templates, seed=11, estimates=True, timezone=ZONE)
        took["simulate"] = time.perf_counter() - t0
        db = HeadOfficeDb(args.dsn)
        db.conn.execute("INSERT INTO region_dim SELECT 'r' || r, '区' || r, 'Region ' || r "
                        "FROM generate_series(0, %s) r", (REGIONS - 1,))  # fmt: skip
        db.conn.execute(
            "INSERT INTO branch_dim (branch, region, name_zh, name_en, timezone) "
            "SELECT 'tpl', NULL, 'tpl', 'tpl', %s UNION ALL "
            "SELECT format('b%%s', lpad(b::text, 4, '0')), 'r' || (b %% %s), "
            "format('网点%%s', b), format('Branch %%s', b), %s FROM generate_series(0, %s) b",
            (ZONE, REGIONS, ZONE, args.branches - 1),
        )
        ingest(db, rows_of(log, branch="tpl"))
        t0 = time.perf_counter()
        rebuild(db.conn, ["tpl"])
        took["rebuild_template_day"] = (time.perf_counter() - t0) / args.templates
        db.close()
    t0 = time.perf_counter()
    first = today - timedelta(days=args.days - 1)
    # Every branch-day of the month, and b0000's year: (branch number, day offset from first).
    plan = (f"SELECT b, d FROM generate_series(0, {args.branches - 1}) b, "
            f"generate_series(0, {args.days - 1}) d UNION ALL "
            f"SELECT 0, d FROM generate_series({args.days - args.year_days}, -1) d")  # fmt: skip
    common = (f"WITH m AS ({plan}), t AS (SELECT format('b%s', lpad(b::text, 4, '0')) AS branch,"
              f" '{first}'::date + d AS day, '{TEMPLATE}'::date + ((b + d + 1000000) "
              f"% {args.templates}) AS tday FROM m)")  # fmt: skip
    shift = "((t.day - t.tday) * interval '1 day')"
    times = {c: f"v.{c} + {shift}" for c in ("issued_at", "called_at", "begun_at", "ended_at")}
    cols = [r[0] for r in conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'visits' "
        "ORDER BY ordinal_position")]  # fmt: skip
    picks = ", ".join("t.branch" if c == "branch" else "t.day" if c == "day"
                      else times.get(c, f"v.{c}") for c in cols)  # fmt: skip
    conn.execute(f"{common} INSERT INTO visits SELECT {picks} FROM t JOIN visits v "
                 "ON v.branch = 'tpl' AND v.day = t.tday")  # fmt: skip
    for table in ("visits_daily", "visits_hourly"):
        cols = [r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
            "ORDER BY ordinal_position", (table,))]  # fmt: skip
        picks = ", ".join("t.branch" if c == "branch" else "t.day" if c == "day" else f"v.{c}"
                          for c in cols)  # fmt: skip
        conn.execute(f"{common} INSERT INTO {table} SELECT {picks} FROM t JOIN {table} v "
                     "ON v.branch = 'tpl' AND v.day = t.tday")  # fmt: skip
    took["copy_visits"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    copy_events(conn, args, today)
    took["copy_events"] = time.perf_counter() - t0
    for table in ("visits", "visits_daily", "visits_hourly", "events"):
        conn.execute(f"DELETE FROM {table} WHERE branch = 'tpl'")
    conn.execute("DELETE FROM branch_dim WHERE branch = 'tpl'")
    conn.execute("DELETE FROM branches WHERE branch = 'tpl'")
    conn.execute("TRUNCATE rebuild_due")
    conn.execute("VACUUM ANALYZE")
    counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
              for t in ("visits", "visits_daily", "visits_hourly", "events")}  # fmt: skip
    counts["took"] = took
    return counts


def copy_events(conn, args, today: date) -> None:
    """The last `--event-days` of every branch's events (today's up to mid-afternoon),
    copied from the templates with new seqs; `branches` says each link is up."""
    first = today - timedelta(days=args.event_days - 1)
    months = {(first + timedelta(days=n)).replace(day=1) for n in range(args.event_days + 1)}
    for m in sorted(months):
        nxt = (m + timedelta(days=32)).replace(day=1)
        conn.execute(f"CREATE TABLE IF NOT EXISTS events_{m:%Y_%m} PARTITION OF events "
                     f"FOR VALUES FROM ('{m} 00:00+00') TO ('{nxt} 00:00+00')")  # fmt: skip
    cutoff = datetime.combine(today, datetime.min.time(), ZoneInfo(ZONE)) + timedelta(hours=15)
    conn.execute(
        f"""
        WITH m AS (SELECT b, d FROM generate_series(0, {args.branches - 1}) b,
                   generate_series(0, {args.event_days - 1}) d),
        t AS (SELECT format('b%%s', lpad(b::text, 4, '0')) AS branch,
                     '{first}'::date + d AS day,
                     '{TEMPLATE}'::date + ((b + d + 1000000) %% {args.templates}) AS tday, d
              FROM m)
        INSERT INTO events (branch, epoch, seq, at, type, command_id, device, data)
        SELECT t.branch, 0, t.d * 100000 + row_number() OVER (PARTITION BY t.branch, t.d
                                                            ORDER BY e.seq),
               e.at + (t.day - t.tday) * interval '1 day', e.type, e.command_id, e.device,
               e.data
        FROM t JOIN events e ON e.branch = 'tpl'
             AND e.at >= ('{TEMPLATE}'::date + ((t.tday - '{TEMPLATE}'::date)))::timestamp
                         AT TIME ZONE '{ZONE}'
             AND e.at < ('{TEMPLATE}'::date + ((t.tday - '{TEMPLATE}'::date) + 1))::timestamp
                        AT TIME ZONE '{ZONE}'
        WHERE e.at + (t.day - t.tday) * interval '1 day' < %s
        """,
        (cutoff,),
    )
    conn.execute(
        "INSERT INTO branches (branch, contiguous_seq, max_seq, link_up, server_online, "
        "last_heard) SELECT DISTINCT branch, 0, 0, true, true, now() FROM events "
        "WHERE branch <> 'tpl' ON CONFLICT DO NOTHING"
    )


CPU: list[float] = []  # CPU seconds (this process + the pages' PostgreSQL backends) of the runs
BACKEND: list[int] = []  # the pages' backends' pids


def _cpu() -> float:
    mine = cpu_seconds(os.getpid())
    return mine + sum(cpu_seconds(pid) for pid in BACKEND)


def timed(fn, runs: int) -> tuple[list[float], object]:
    out, result = [], None
    CPU.clear()
    for _ in range(runs):
        t0, c0 = time.perf_counter(), _cpu()
        result = fn()
        out.append(time.perf_counter() - t0)
        CPU.append(_cpu() - c0)
    return out, result


def ms(values: list[float]) -> str:
    """Wall time of the runs, and the CPU they took (the work on an idle core)."""
    cpu = f"; CPU median {statistics.median(CPU) * 1000:,.0f} ms" if CPU else ""
    return (f"median {statistics.median(values) * 1000:,.0f} ms, "
            f"min {min(values) * 1000:,.0f}, max {max(values) * 1000:,.0f} ms{cpu}")  # fmt: skip


def console(dsn: str, folder: Path, now: float):
    """The web role's head-office pages over `dsn`, as `nowserving web --dsn` makes them."""
    from nowserving.web.accounts import Account, Accounts, hash_password, write_accounts
    from nowserving.web.console import Console
    from nowserving.web.console_headoffice import add_headoffice
    from nowserving.web.feed import Feeds
    from nowserving.web.sessions import AuditLog

    accounts = folder / "users.json"
    hashed = hash_password("pw-bench-1234", n=1 << 10, r=8, p=1)
    write_accounts(accounts, {"hq": Account("hq", "head_office", (), hashed, ())})
    c = Console(Feeds([], None, "web-bench"), Accounts(accounts),
                AuditLog(folder / "audit.log", lambda: now), clock=lambda: now)  # fmt: skip
    return c, add_headoffice(c, dsn)


class _Account:
    name, role = "hq", "head_office"

    def sees(self, branch, region) -> bool:
        return True


def months(conn, args) -> None:
    """Every due month summed up (headoffice/months.py), as the ingest's child process or
    `headoffice rebuild` does: what a month's summary costs to make again."""
    import resource

    if "reports" not in (args.only or ("reports",)):
        return
    from nowserving.headoffice.months import ready_months, summarize_month

    backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    due = ready_months(conn, 0, 0)
    print(f"\n## Month summaries made ({len(due)} months due)")
    for month in due:
        t0, c0 = time.perf_counter(), cpu_seconds(os.getpid()) + cpu_seconds(backend)
        made = summarize_month(conn, month)
        cpu = cpu_seconds(os.getpid()) + cpu_seconds(backend) - c0
        tickets = conn.execute("SELECT coalesce(sum(issued), 0) FROM visits_daily WHERE "
                               "date_trunc('month', day) = %s", (month,)).fetchone()[0]  # fmt: skip
        print(f"- {month:%Y-%m} ({tickets:,} tickets): {made} rows in "
              f"{time.perf_counter() - t0:.2f} s, CPU {cpu:.2f} s")  # fmt: skip
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of this process: {peak:,.0f} MiB")


def reports(pages, args, today: date) -> None:
    from nowserving.reports.crossbranch import cross_report
    from nowserving.web.console_headoffice_page import reports_page

    first = today - timedelta(days=args.days - 1)
    view = {"language": "zh", "account": "hq", "csrf": "x", "error": ""}
    print(f"\n## Reports ({args.runs} runs each; the route's work without HTTP)")
    for by in ("branch", "region", "service"):

        def run(by=by):
            answer = pages.report(_Account(), first, today, by, "wait_p90")
            reports_page({**view, "by": by, "rank": "wait_p90", "from": str(first),
                          "to": str(today)}, answer)  # fmt: skip
            return answer

        took, answer = timed(lambda run=run: (pages._reports.clear(), run())[1], args.runs)
        total = answer[0].total
        print(f"- month, every branch, by {by} ({len(answer[0].rows)} rows, "
              f"{total['issued']:,} tickets): {ms(took)}")  # fmt: skip
        took, _ = timed(run, args.runs)
        print(f"  the same asked again (the report kept, another ranking): {ms(took)}")
    took, answer = timed(lambda: cross_report(pages._report_conn, first, today, "branch",
                                              summaries=False), args.runs)  # fmt: skip
    print(f"- the same month by branch from the daily rollups (no summary; "
          f"{answer.total['issued']:,} tickets): {ms(took)}")  # fmt: skip

    class East(_Account):
        def sees(self, branch, region) -> bool:
            return region == "r1"

    took, answer = timed(
        lambda: (pages._reports.clear(), pages.report(East(), first, today, "service",
                                                      "issued"))[1], args.runs)  # fmt: skip
    print(f"- month, one region's branches (an account limited to it), by service "
          f"({answer[0].total['issued']:,} tickets): {ms(took)}")  # fmt: skip
    year_first = today - timedelta(days=args.year_days - 1)

    class One(_Account):
        def sees(self, branch, region) -> bool:
            return branch == "b0000"

    for by in ("branch", "service"):
        took, answer = timed(
            lambda by=by: (pages._reports.clear(),
                           pages.report(One(), year_first, today, by, "issued"))[1],
            args.runs,
        )  # fmt: skip
        print(f"- one branch's year ({args.year_days} days, by {by}, "
              f"{answer[0].total['issued']:,} tickets): {ms(took)}")  # fmt: skip


def http(c, pages, now: float, args, today: date) -> None:
    try:
        from starlette.testclient import TestClient
    except ImportError as err:
        print(f"\n(no HTTP timing: {err})")
        return
    from starlette.applications import Starlette

    app = Starlette(routes=c.routes)
    first = today - timedelta(days=args.days - 1)
    print("\n## Through HTTP (Starlette's test client, signed in as a head-office account)")
    with TestClient(app, base_url="http://localhost") as client:
        page = client.get("/console/?lang=en")
        csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        client.post("/console/sign-in", data={"account": "hq", "password": "pw-bench-1234",
                                              "csrf": csrf})  # fmt: skip
        for what, url in (
            ("month, every branch, by branch", f"/console/headoffice/reports?from={first}"
             f"&to={today}&by=branch&rank=wait_p90&lang=zh"),
            ("every branch, a year's range (JSON; b0000 alone has a year)",
             "/console/headoffice/reports.json?from="
             f"{today - timedelta(days=args.year_days - 1)}&to={today}&by=service"),
            ("live page", "/console/headoffice?lang=zh"),
            ("live.json", "/console/headoffice/live.json"),
        ):  # fmt: skip
            took, answer = timed(lambda u=url: (pages._reports.clear(), client.get(u))[1],
                                 args.runs)  # fmt: skip
            print(f"- {what}: HTTP {answer.status_code}, {len(answer.content):,} B: {ms(took)}")


def live(c, pages, args, now: float, dsn: str) -> None:
    from nowserving.headoffice.db import Batch
    from nowserving.headoffice.live import live_summary
    from nowserving.web.console_headoffice import CACHE_S
    from nowserving.web.console_headoffice_page import live_page

    print("\n## Live page")

    def run():
        rows = pages.live_rows(_Account(), "zh", now)
        live_page("zh", "hq", "x", rows, now)
        return rows

    def state(n: int, waiting: int) -> dict:
        return {"v": 2, "epoch": 0, "seq": 10**6 + n, "at": now, "business_day": str(today),
                "services": [{"id": "accounts", "waiting": waiting, "issued": 90}],
                "counters": [{"id": f"c{k}", "state": "open" if k < 4 else "closed",
                              "served": 20} for k in range(6)]}  # fmt: skip

    today = datetime.fromtimestamp(now, ZoneInfo(ZONE)).date()
    db = HeadOfficeDb(dsn)
    try:
        db.conn.execute("UPDATE branches SET live = NULL")
        pages._live_cache = None
        took, rows = timed(lambda: (run(), setattr(pages, "_live_cache", None))[0], args.runs)
        print(f"- live_rows + page, {len(rows)} branches, no state summaries (counters open "
              f"from 7 days of events): {ms(took)}")  # fmt: skip
        names = [r["branch"] for r in rows]
        batch = Batch(heard=set(names))
        for n, b in enumerate(names):
            batch.states[b] = (0, 10**6)
            batch.live[b] = live_summary(state(0, 5 + n % 7))
        t0 = time.perf_counter()
        db.write(batch)
        print(f"- one ingest batch carrying all {len(names)} states: "
              f"{(time.perf_counter() - t0) * 1000:,.0f} ms")  # fmt: skip
        took, rows = timed(lambda: (run(), setattr(pages, "_live_cache", None))[0], args.runs)
        print(f"- live_rows + page, {len(rows)} branches, from their state summaries: {ms(took)}")
        waits = []
        CPU.clear()
        for n in range(1, args.runs + 1):
            batch = Batch(heard={"b0007"})
            batch.states["b0007"] = (0, 10**6 + n)
            batch.live["b0007"] = live_summary(state(n, 40 + n))
            t0 = time.perf_counter()
            db.write(batch)
            while True:
                got = {r["branch"]: r for r in pages.live_rows(_Account(), "zh", now)}
                if got["b0007"]["waiting"] == 40 + n:
                    break
                if time.perf_counter() - t0 > 30:
                    print("- a state written by the ingest never showed on the live page")
                    return
            waits.append(time.perf_counter() - t0)
        print(f"- a branch's state stored by the ingest -> live_rows shows it (the page's cache "
              f"of {CACHE_S} s included): {ms(waits)}")  # fmt: skip
        took, count = timed(lambda: rebuild_day(db.conn, "b0001", today), args.runs)
        print(f"- rebuild of one branch's today ({count} visits so far): {ms(took)}")
    finally:
        db.close()


def beside(args, dsn: str) -> None:
    """The ingest's writer (`HeadOfficeDb.write`, batches of 2,000 events) alone, then while
    the month is summed up in a child process at nice 10 (as the ingest's rebuild thread has
    it done), then while it is summed up on a thread of the writer's own process (what the
    child avoids: the GIL)."""
    import threading

    from nowserving.headoffice.db import Batch, EventRow
    from nowserving.headoffice.months import SummaryWorker, summarize_month

    db = HeadOfficeDb(dsn)
    found = db.conn.execute(
        "SELECT extract(epoch FROM at)::float8, type, command_id, device, data::text FROM events "
        "WHERE branch = 'b0001' ORDER BY at, seq LIMIT 2000").fetchall()  # fmt: skip
    month = date(2026, 11, 1)
    seq = [db.conn.execute("SELECT coalesce(max(seq), 0) FROM events WHERE branch = "
                           "'writer-bench'").fetchone()[0]]  # fmt: skip

    def write() -> float:
        rows = []
        for at, kind, command, device, data in found:
            seq[0] += 1
            rows.append(EventRow("writer-bench", 0, seq[0], at, kind, command, device, data))
        t0 = time.perf_counter()
        db.write(Batch(events=rows, heard={"writer-bench"}))
        return time.perf_counter() - t0

    def show(what: str, took: list[float]) -> None:
        took = sorted(took)
        print(
            f"- {what}: {len(took)} batches of {len(found):,} events, median "
            f"{statistics.median(took) * 1000:,.0f} ms, p90 "
            f"{took[int(0.9 * (len(took) - 1))] * 1000:,.0f} ms, max {took[-1] * 1000:,.0f} ms"
        )

    print("\n## The ingest's writer beside a month's summary")
    try:
        show("alone", [write() for _ in range(20)])
        db.conn.execute("INSERT INTO month_summary_due (month) VALUES (%s) "
                        "ON CONFLICT DO NOTHING", (month,))  # fmt: skip
        worker = SummaryWorker(dsn, check_s=0, settle_s=0)
        took = []
        try:
            worker.poll(db.conn)
            while not worker.summarized:
                took.append(write())
                worker.poll(db.conn)
        finally:
            worker.close()
        show("while a child process (nice 10) sums the month up", took)
        done = threading.Event()
        conn = psycopg.connect(dsn, autocommit=True)
        thread = threading.Thread(target=lambda: (summarize_month(conn, month), done.set()))
        thread.start()
        took = []
        while not done.is_set():
            took.append(write())
        thread.join()
        conn.close()
        show("while a thread of the same process sums it up (not done so)", took)
    finally:
        for table in ("events", "branches", "rebuild_due"):
            db.conn.execute(f"DELETE FROM {table} WHERE branch = 'writer-bench'")
        db.close()


def browser(c, args, now: float, dsn: str) -> None:
    """A call's path to the screen: the ingest stores a branch's new state (its batch), the
    open page's script fetches the board (every second), chromium paints the new figure."""
    from playwright.sync_api import sync_playwright

    from nowserving.headoffice.db import Batch
    from nowserving.headoffice.live import live_summary
    from tests.conftest import ManualClock
    from tests.web.conftest import CHROMIUM
    from tests.web.console_fixtures import serving_console

    print("\n## Live page in chromium (uvicorn, the page's own script)")
    today = str(datetime.fromtimestamp(now, ZoneInfo(ZONE)).date())
    db = HeadOfficeDb(dsn)
    c.clock = ManualClock(now)
    waits = []
    try:
        with serving_console(c, c.clock) as role, sync_playwright() as p:
            chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = chromium.new_context(viewport={"width": 1280, "height": 800}).new_page()
            page.goto(f"{role.base}/console/?lang=zh")
            page.locator("input[name=account]").fill("hq")
            page.locator("input[name=password]").fill("pw-bench-1234")
            with page.expect_navigation():
                page.locator("form.signin button").click()
            page.goto(f"{role.base}/console/headoffice?lang=zh", timeout=60_000)
            size = len(page.content())
            for n in range(1, args.runs + 1):
                page.wait_for_timeout(1500)  # a call comes at any moment of the page's second
                waiting = 200 + n
                state = {"v": 2, "epoch": 0, "seq": 2 * 10**6 + n, "at": now,
                         "business_day": today,
                         "services": [{"id": "accounts", "waiting": waiting, "issued": 90}],
                         "counters": [{"id": "c1", "state": "open", "served": 20}]}  # fmt: skip
                batch = Batch(heard={"b0007"})
                batch.states["b0007"] = (0, state["seq"])
                batch.live["b0007"] = live_summary(state)
                t0 = time.perf_counter()
                db.write(batch)
                page.wait_for_function(
                    "n => { const r = document.querySelector('tr[data-branch=b0007]');"
                    " return r && r.children[3].textContent === String(n); }",
                    arg=waiting, timeout=30_000,
                )  # fmt: skip
                waits.append(time.perf_counter() - t0)
            chromium.close()
        CPU.clear()
        print(f"- page of {size:,} B; the ingest's batch -> the new figure on screen: {ms(waits)}")
    finally:
        db.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--branches", type=int, default=500)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--year-days", type=int, default=365)
    parser.add_argument("--templates", type=int, default=6)
    parser.add_argument("--event-days", type=int, default=7)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--only",
        choices=("reports", "live", "http", "browser", "beside"),
        action="append",
        help="time only these parts (repeatable; default: all)",
    )
    parser.add_argument("--dsn", help="a database a --keep run filled (skip the fill)")
    parser.add_argument("--keep", action="store_true",
                        help="leave PostgreSQL running with the filled database (says how "
                        "to stop it)")  # fmt: skip
    args = parser.parse_args()
    print(f"$ {command_line()}")
    now = datetime.combine(date(2026, 11, 30), datetime.min.time(), ZoneInfo(ZONE))
    now = (now + timedelta(hours=15)).timestamp()
    today = datetime.fromtimestamp(now, ZoneInfo(ZONE)).date()
    server = None
    if args.dsn is None:
        server = Postgres()
        server.start(fsync=True)
        args.dsn = server.database()
    try:
        with psycopg.connect(args.dsn, autocommit=True) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]
            print(f"PostgreSQL {version}; psycopg {psycopg.__version__} ({psycopg.pq.__impl__})")
            if server is not None:
                t0 = time.perf_counter()
                counts = fill(conn, args, today)
                print(f"filled in {time.perf_counter() - t0:.0f} s: "
                      + json.dumps(counts, default=lambda x: round(x, 3)))  # fmt: skip
            size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
            print(f"database size: {size.fetchone()[0]}")
            migrate(conn)  # a database kept by an older run: the month summaries' tables
            months(conn, args)
        with tempfile.TemporaryDirectory() as folder:
            c, pages = console(args.dsn, Path(folder), now)
            for conn in (pages._conn, pages._report_conn):
                BACKEND.append(conn.execute("SELECT pg_backend_pid()").fetchone()[0])
            print(f"load average at the start: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)")
            try:
                parts = args.only or ("reports", "live", "http", "browser")
                timings = {
                    "reports": lambda: reports(pages, args, today),
                    "live": lambda: live(c, pages, args, now, args.dsn),
                    "http": lambda: http(c, pages, now, args, today),
                    "browser": lambda: browser(c, args, now, args.dsn),
                    "beside": lambda: beside(args, args.dsn),
                }
                for part, timing in timings.items():
                    if part in parts:
                        timing()
            finally:
                pages.close()
        print(f"\nrun at {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; load average at the end "
              f"{os.getloadavg()[0]:.1f}")  # fmt: skip
    finally:
        if server is not None and args.keep:
            print(f"kept: --dsn '{args.dsn}'; stop it with: {' '.join(server._as)} "
                  f"{server.bin}/pg_ctl -D {server.data} stop")  # fmt: skip
        elif server is not None:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
