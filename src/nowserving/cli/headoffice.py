"""Commands for the head office: every branch's events into PostgreSQL (docs/headoffice.md).

They need the `headoffice` extra (psycopg 3), imported only when one of them runs."""

from __future__ import annotations

import argparse
import functools
import signal
import sys
import threading
from pathlib import Path

from nowserving.cli.options import broker_options


def _dsn(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dsn",
        required=True,
        help="the PostgreSQL database, as libpq takes it (e.g. 'host=/run/postgresql "
        "dbname=nowserving' or postgresql://user@host/db)",
    )


def _command(sub, name: str, help: str, handler) -> argparse.ArgumentParser:
    """The subcommand `name`, run by `handler`, with the --dsn every one of them takes."""
    parser = sub.add_parser(name, help=help)
    _dsn(parser)
    parser.set_defaults(handler=handler)
    return parser


def _days(parser: argparse.ArgumentParser, first: str, last: str) -> None:
    """--from and --to, the first and last day (`args.first`, `args.last`) of a range."""
    parser.add_argument("--from", dest="first", type=_day, help=first)
    parser.add_argument("--to", dest="last", type=_day, help=last)


COMMAND_NAMES = (
    "ingest",
    "status",
    "migrate",
    "retention",
    "recheck",
    "rebuild",
    "branches",
    "staffing",
)


def _add_headoffice(commands) -> None:
    parser = commands.add(
        "headoffice", "ingest every branch's events into PostgreSQL; say how far it is", _usage
    )
    sub = parser.add_subparsers(
        dest="headoffice_command",
        metavar="|".join(COMMAND_NAMES),
    )
    ingest = _command(
        sub, "ingest", "consume the bridged event streams (runs until stopped)", _run_ingest
    )
    broker_options(ingest)
    ingest.add_argument(
        "--client-id",
        default="nowserving-headoffice-ingest",
        help="the MQTT client id of the kept session (default: %(default)s)",
    )
    ingest.add_argument(
        "--no-rebuild", dest="rebuild", action="store_false",
        help="leave the due visits and rollups to a separate `rebuild --due --every S` "
        "(by default the ingest makes them on a thread beside its writer)",
    )  # fmt: skip
    _command(sub, "status", "per branch: last seq, lag, stale/ok, gaps repaired", _run_status)
    _command(sub, "migrate", "bring the database's schema up to date", _run_migrate)
    retention = _command(
        sub, "retention", "detach (or drop) the months of events older than --keep-months",
        _run_retention,
    )  # fmt: skip
    retention.add_argument(
        "--keep-months", type=int, required=True,
        help="months kept, the running one included (older ones are detached)",
    )  # fmt: skip
    retention.add_argument(
        "--drop", action="store_true",
        help="also drop the detached months (pg_dump them first: docs/headoffice.md)",
    )  # fmt: skip
    retention.add_argument("--dry-run", action="store_true", help="only say what would go")
    _command(
        sub, "recheck", "recount every branch's seqs from the table; a hole is asked for again",
        _run_recheck,
    )  # fmt: skip
    _add_derived(sub)


def _usage(args: argparse.Namespace) -> int:
    names = ", ".join(COMMAND_NAMES[:-1])
    print(f"nowserving headoffice: say {names} or {COMMAND_NAMES[-1]} (--help)", file=sys.stderr)
    return 2


def _imports():
    try:
        import psycopg  # noqa: F401
    except ImportError:
        print(
            "nowserving headoffice needs the headoffice extra: "
            "pip install 'nowserving[headoffice]'",
            file=sys.stderr,
        )
        return False
    return True


def _connect(dsn: str):
    import psycopg

    try:
        return psycopg.connect(dsn, autocommit=True)
    except psycopg.OperationalError as err:
        print(f"nowserving headoffice: cannot reach the database: {err}", file=sys.stderr)
        return None


def _open(dsn: str, ready: bool):
    """A connection to `dsn`, its schema up to date when `ready`; None (said why) if not."""
    conn = _connect(dsn)
    if conn is not None and ready and not _schema_ready(conn):
        conn.close()
        return None
    return conn


def _on_database(ready: bool = False):
    """A command's handler from `run(args, conn)`: with the headoffice extra (exit 2 without)
    and a connection to --dsn, its schema up to date when `ready` (exit 1 without), closed
    after `run`."""

    def handler_of(run):
        @functools.wraps(run)
        def handler(args: argparse.Namespace) -> int:
            if not _imports():
                return 2
            conn = _open(args.dsn, ready)
            if conn is None:
                return 1
            with conn:
                return run(args, conn)

        return handler

    return handler_of


@_on_database()
def _run_migrate(args: argparse.Namespace, conn) -> int:
    from nowserving.headoffice.schema import current_version, migrate

    applied = migrate(conn)
    done = f" (applied {', '.join(applied)})" if applied else ", up to date"
    print(f"schema version {current_version(conn)}{done}")
    return 0


@_on_database()
def _run_status(args: argparse.Namespace, conn) -> int:
    from nowserving.headoffice.health import format_health
    from nowserving.headoffice.schema import current_version
    from nowserving.headoffice.status import branch_statuses, format_statuses

    if current_version(conn) == 0:
        print("nowserving headoffice: the database has no schema yet (run migrate or ingest)",
              file=sys.stderr)  # fmt: skip
        return 1
    if current_version(conn) >= 3:
        print(format_health(conn))
    print(format_statuses(branch_statuses(conn)))
    return 0


def _schema_ready(conn) -> bool:
    from nowserving.headoffice.schema import pending

    missing = pending(conn)
    if missing:
        print(f"nowserving headoffice: the database's schema is not up to date (run migrate: "
              f"{', '.join(missing)} not applied)", file=sys.stderr)  # fmt: skip
        return False
    return True


def _dry_retention(conn, keep_from, drop: bool) -> None:
    from nowserving.headoffice.upkeep import partitions, retired_tables

    for p in partitions(conn):
        if (p.year, p.month) < (keep_from.year, keep_from.month):
            print(f"would detach {p.name} ({p.bytes / 2**20:.0f} MiB)")
    for name in retired_tables(conn) if drop else []:
        print(f"would drop {name}")
    print(f"would keep events from {keep_from} (UTC)")


@_on_database(ready=True)
def _run_retention(args: argparse.Namespace, conn) -> int:
    from datetime import UTC, datetime

    from nowserving.headoffice.upkeep import (
        RetentionError,
        horizon,
        retire,
    )  # fmt: skip

    today = datetime.now(UTC).date()
    try:
        keep_from = horizon(today, args.keep_months)
    except RetentionError as err:
        print(f"nowserving headoffice retention: {err}", file=sys.stderr)
        return 2
    if args.dry_run:
        _dry_retention(conn, keep_from, args.drop)
        return 0
    detached, dropped = retire(conn, args.keep_months, today, drop=args.drop)
    for p in detached:
        print(f"detached {p.name} ({p.bytes / 2**20:.0f} MiB) as retired_{p.name}")
    for name in dropped:
        print(f"dropped {name}")
    print(f"keeping events from {keep_from} (UTC); the ingest stores nothing older")
    return 0


@_on_database(ready=True)
def _run_recheck(args: argparse.Namespace, conn) -> int:
    from nowserving.headoffice.upkeep import recheck_all

    results = recheck_all(conn)
    holes = [r for r in results if r.hole]
    for r in holes:
        print(f"{r.branch}: events from {r.after + 1} are missing (were counted in up to "
              f"{r.before}); the ingest asks the branch for them")  # fmt: skip
    print(f"{len(results)} branch(es) rechecked, {len(holes)} with a hole")
    return 0


def _run_ingest(args: argparse.Namespace) -> int:
    if not _imports():
        return 2
    import psycopg

    from nowserving.adapters.mqtt import Broker
    from nowserving.headoffice.db import HeadOfficeDb
    from nowserving.headoffice.ingest import Ingest

    password = args.password_file.read_text().strip() if args.password_file else None
    broker = Broker.parse(args.broker, username=args.username, password=password,
                          mqtt_version=args.mqtt_version, tls_ca=args.tls_ca)  # fmt: skip
    try:
        db = HeadOfficeDb(args.dsn)
    except psycopg.OperationalError as err:
        print(f"nowserving headoffice: cannot reach the database: {err}", file=sys.stderr)
        return 1
    ingest = Ingest(db, broker, client_id=args.client_id, rebuild=args.rebuild)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: ingest.stopping.set())
        signal.signal(signal.SIGINT, lambda *_: ingest.stopping.set())
    ingest.start()
    try:
        ingest.run()
    finally:
        ingest.close()
        db.close()
    return 0


def _add_derived(sub) -> None:
    rebuild = _command(
        sub, "rebuild", "make the visit facts and rollups again (per branch-day, from events)",
        _run_rebuild,
    )  # fmt: skip
    rebuild.add_argument("--branch", action="append", help="only this branch (repeatable)")
    _days(rebuild, "first local day (YYYY-MM-DD)", "last local day (YYYY-MM-DD)")
    rebuild.add_argument(
        "--due", action="store_true",
        help="only the branch-days whose events changed since their last rebuild",
    )  # fmt: skip
    rebuild.add_argument(
        "--every", type=float, metavar="SECONDS",
        help="with --due: keep rebuilding what falls due, every SECONDS (until stopped)",
    )  # fmt: skip
    staffing = _command(
        sub, "staffing", "a branch's counters needed per hour, from its events here "
        "(as `nowserving staffing` from the branch's log)", _run_staffing,
    )  # fmt: skip
    staffing.add_argument("--branch", required=True, help="the branch")
    staffing.add_argument("--weekday", required=True, help="mon, tue, wed, thu, fri, sat or sun")
    staffing.add_argument("--target", default="80/10", help="PERCENT/MINUTES (default 80/10)")
    _days(staffing, "first day of history", "last day of history")
    staffing.add_argument("--days", type=int, default=200, help="simulated days per check")
    staffing.add_argument("--language", default="zh", help="zh or en (default zh)")
    staffing.add_argument(
        "--config", type=Path,
        help="the branch's config: its services by name and per group where it has groups, "
        "as its console's staffing page (and `web --dsn` with it) shows them",
    )  # fmt: skip
    staffing.add_argument(
        "--counters-start-closed", dest="start_open", action="store_false",
        help="counters count as closed until opened (as the branch's `counters_start_open "
        "= false`)",
    )  # fmt: skip
    branches = _command(sub, "branches", "load the regions and branches file", _run_branches)
    branches.add_argument("file", type=Path, help="the branches file (TOML: docs/headoffice.md)")


def _day(text: str):
    from datetime import date

    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a day like 2026-11-23: {text!r}") from None


@_on_database()
def _run_rebuild(args: argparse.Namespace, conn) -> int:
    from nowserving.headoffice.months import summarize_due
    from nowserving.headoffice.schema import migrate
    from nowserving.headoffice.visits import rebuild, rebuild_due_days

    migrate(conn)
    if not args.due:
        for branch, (days, visits) in rebuild(conn, args.branch, args.first,
                                              args.last).items():  # fmt: skip
            print(f"{branch}: {days} day(s) rebuilt, {visits} visit(s)")
        # The months of those days (and any other due): summed up again now.
        print(f"{summarize_due(conn, 0, 0)} month summary(ies) made", flush=True)
        return 0
    stop = threading.Event()
    if args.every and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
    while True:
        print(f"{rebuild_due_days(conn)} branch-day(s) rebuilt", flush=True)
        print(f"{summarize_due(conn)} month summary(ies) made", flush=True)
        if not args.every or stop.wait(args.every):
            return 0


def _run_staffing(args: argparse.Namespace) -> int:
    if not _imports():
        return 2
    from nowserving.headoffice.staffing import learn_branch
    from nowserving.reports.history import HistoryError
    from nowserving.reports.staffing import ServiceNames, Target, advise, check_by_simulation, table
    from nowserving.reports.stored import stored_service_names, stored_start_open

    try:
        target = Target.parse(args.target)
    except ValueError as err:
        print(f"nowserving headoffice staffing: {err}", file=sys.stderr)
        return 2
    config = _branch_config(args)
    if config is False:
        return 2
    conn = _open(args.dsn, ready=True)
    if conn is None:
        return 1
    with conn:
        # Without --config: as the branches file's `config =` said (none: open).
        start_open = args.start_open and (
            config.rules.counters_start_open if config else stored_start_open(conn, args.branch)
        )
        # Without --config: as the branches file's `config =` named them (none: by id).
        names = ServiceNames.of(config) if config else stored_service_names(conn, args.branch)
        group_of = names.group_of if names else {}
        try:
            history = learn_branch(conn, args.branch, args.weekday, target.wait_s, args.first,
                                   args.last, start_open, group_of)  # fmt: skip
        except HistoryError as err:
            print(f"nowserving headoffice staffing: {err}", file=sys.stderr)
            return 1
    rows = advise(history, target)
    check_by_simulation(history, rows, target, days=args.days)
    labels = names.labels(args.language) if names else None
    print(table(rows, target, history.days, args.language, labels))
    return 0


def _branch_config(args: argparse.Namespace):
    """`--config`'s branch config (None without it), or False after saying why it is not
    the branch's."""
    from nowserving.config import load_config
    from nowserving.errors import ConfigError

    if args.config is None:
        return None
    try:
        config = load_config(args.config)
    except (OSError, ConfigError) as err:
        print(f"nowserving headoffice staffing: {err}", file=sys.stderr)
        return False
    if config.rules.branch_id != args.branch:
        mine = config.rules.branch_id
        print(f"nowserving headoffice staffing: {args.config} is branch {mine}'s config, "
              f"not {args.branch}'s", file=sys.stderr)  # fmt: skip
        return False
    return config


def _run_branches(args: argparse.Namespace) -> int:
    if not _imports():
        return 2
    from nowserving.errors import ConfigError
    from nowserving.headoffice.regions import load_regions, read_regions
    from nowserving.headoffice.schema import migrate

    try:
        regions = read_regions(args.file)
    except ConfigError as err:
        print(f"nowserving headoffice branches: {err}", file=sys.stderr)
        return 1
    conn = _connect(args.dsn)
    if conn is None:
        return 1
    with conn:
        migrate(conn)
        changed = load_regions(conn, regions)
    print(f"{len(regions.regions)} region(s), {len(regions.branches)} branch(es) loaded")
    for branch in changed:
        print(f"{branch}: its zone or targets changed: "
              f"run nowserving headoffice rebuild --branch {branch}")  # fmt: skip
    return 0


COMMANDS = (_add_headoffice,)
