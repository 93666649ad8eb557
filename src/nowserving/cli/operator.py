"""Commands for whoever runs the branch: its server, its event log, its config, its audit."""

from __future__ import annotations

import argparse
import faulthandler
import logging
import signal
import sys
from pathlib import Path

from nowserving.cli.bookings import add_bookings
from nowserving.cli.options import branch_option, broker_options
from nowserving.errors import RefusedToServe, StoreError
from nowserving.server.ratelimit import COMMANDS_AT_ONCE, COMMANDS_PER_S


def _add_server(commands) -> None:
    parser = commands.add("server", "run the branch server", _run_server)
    branch_option(parser)
    broker_options(parser)
    parser.add_argument(
        "--db",
        type=Path,
        default=Path("nowserving-events.sqlite"),
        help="event log file (default: %(default)s)",
    )
    parser.add_argument(
        "--new",
        action="store_true",
        help="make a new event log if there is none (a branch's first start only: a lost "
        "log is otherwise refused)",
    )
    parser.add_argument(
        "--restore",
        action="store_true",
        help="the log was put back from a backup: start a new epoch past every number "
        "devices saw, instead of refusing a log that is behind",
    )
    parser.add_argument(
        "--device-rate",
        type=float,
        default=COMMANDS_PER_S,
        metavar="N",
        help="commands a second a device may send on average (default: %(default)s)",
    )
    parser.add_argument(
        "--device-burst",
        type=int,
        default=COMMANDS_AT_ONCE,
        metavar="N",
        help="... and at once (default: %(default)s)",
    )


def _run_server(args: argparse.Namespace) -> int:
    from nowserving.adapters.mqtt import Broker
    from nowserving.adapters.store import EventLog
    from nowserving.config import load_config
    from nowserving.server.app import BranchServer
    from nowserving.server.ratelimit import Budget

    config = load_config(args.config)
    password = args.password_file.read_text().strip() if args.password_file else None
    broker = Broker.parse(
        args.broker,
        username=args.username,
        password=password,
        mqtt_version=args.mqtt_version,
        tls_ca=args.tls_ca,
    )
    budget = Budget(args.device_rate, args.device_burst)
    try:
        store = EventLog(args.db, create=args.new, branch=config.rules.branch_id)
        try:
            server = BranchServer(config, store, broker, restore=args.restore, budget=budget)
        except BaseException:
            store.close()
            raise
    except StoreError as err:
        print(f"nowserving: the server will not start: {err}", file=sys.stderr)
        return RefusedToServe.EXIT_CODE
    # `kill -USR1` writes every thread's stack to the log: a server that will not stop
    # (or seems stuck) says where, without being stopped.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    with server:
        signal.signal(signal.SIGTERM, lambda *_: server.done.set())
        signal.signal(signal.SIGINT, lambda *_: server.done.set())
        logging.getLogger("nowserving").info(
            "serving branch %s on %s (event log %s, seq %d)",
            config.rules.branch_id,
            args.broker,
            args.db,
            server.branch.seq,
        )
        server.done.wait()
    if isinstance(server.failure, RefusedToServe):
        print(f"nowserving: {server.failure}", file=sys.stderr)
        return RefusedToServe.EXIT_CODE  # its unit does not restart it: someone must look
    # A failed apply loop ends the process non-zero, so that a supervisor restarts it.
    return 1 if server.failure is not None else 0


def _add_new_log(commands) -> None:
    parser = commands.add(
        "new-log", "make a branch's new, empty event log (the server's first start)", _run_new_log
    )
    branch_option(parser)
    parser.add_argument("--db", type=Path, required=True, help="the event log file to make")


def _run_new_log(args: argparse.Namespace) -> int:
    from nowserving.adapters.store import EventLog
    from nowserving.config import load_config

    config = load_config(args.config)
    branch = config.rules.branch_id
    with EventLog(args.db, create=True, branch=branch) as store:
        events = store.last_seq()
    if events:
        print(f"{args.db} already holds {events} events of branch {branch}: left as it is")
    else:
        print(f"{args.db}: a new event log for branch {branch}")
    return 0


def _add_check_config(commands) -> None:
    parser = commands.add(
        "check-config",
        "validate a branch config (and a device's) and say what is wrong",
        _run_check_config,
    )
    parser.add_argument("file", type=Path, nargs="?", help="the branch config (TOML)")
    parser.add_argument(
        "--device", type=Path, help="a device config to check too (against the branch config)"
    )


def _run_check_config(args: argparse.Namespace) -> int:
    from nowserving.config import (
        EXAMPLE,
        check_device_against_branch,
        load_config,
        load_device_config,
    )

    path = args.file or EXAMPLE
    config = load_config(path)
    rules = config.rules
    print(
        f"{path}: OK — branch {rules.branch_id}: {len(rules.services)} services, "
        f"{len(rules.counters)} counters, {len(config.devices)} devices, "
        f"languages {', '.join(rules.languages)}"
    )
    for warning in ticket_url_warnings(config.ticket_url):
        print(f"{path}: warning: {warning}")
    if args.device is not None:
        device = load_device_config(args.device)
        check_device_against_branch(device, config, str(args.device))
        hardware = [
            name for name in ("printer", "gpio", "audio", "display") if getattr(device, name)
        ]
        print(
            f"{args.device}: OK — {device.role} {device.id}, broker "
            f"{device.broker.host}:{device.broker.port}"
            + (f", with {', '.join(hardware)}" if hardware else "")
        )
    return 0


def ticket_url_warnings(url: str | None) -> list[str]:
    """What looks wrong with `ticket_url` for the web role's ticket page (docs/web.md)."""
    if url is None:
        return ["no ticket_url: tickets print no QR code (set it once the web role runs)"]
    found = []
    if not url.rstrip("/").endswith("/{branch}/t/{token}"):
        found.append(
            f"ticket_url {url!r} does not end in /{{branch}}/t/{{token}}: the web role "
            "serves a ticket's page there (behind a proxy, keep that path)"
        )
    if url.startswith("http://"):
        found.append("ticket_url is plain http: phones cannot be notified (docs/web.md)")
    return found


def _add_audit(commands) -> None:
    parser = commands.add(
        "audit",
        "how often customers were called within the wait printed on their ticket",
        _run_audit,
    )
    parser.add_argument("--db", type=Path, required=True, help="the server's event log")
    parser.add_argument("--timezone", help="IANA time zone for the hours (default: UTC)")


def _run_audit(args: argparse.Namespace) -> int:
    from nowserving.audit import audit_text

    print(audit_text(args.db, args.timezone or "UTC"))
    return 0


def _add_webhooks(commands) -> None:
    parser = commands.add(
        "webhooks", "list the webhook messages waiting and the dead letters", _run_webhooks
    )
    parser.add_argument(
        "--outbox",
        type=Path,
        required=True,
        help="the server's webhook outbox (beside its event log: <log>-webhooks.sqlite)",
    )
    parser.add_argument(
        "--retry", action="store_true", help="send every dead letter again (without its phone)"
    )


def _run_webhooks(args: argparse.Namespace) -> int:
    import time
    from datetime import datetime

    from nowserving.adapters.outbox import WebhookOutbox

    if not args.outbox.exists():
        print(f"nowserving: no webhook outbox at {args.outbox}", file=sys.stderr)
        return 2
    with WebhookOutbox(args.outbox) as outbox:
        dead = outbox.dead_letters()
        print(f"{outbox.waiting()} waiting, {len(dead)} dead letters")
        for letter in dead:
            when = datetime.fromtimestamp(letter.at).isoformat(timespec="seconds")
            print(f"  {when}  {letter.body.get('id')}  after {letter.attempts} tries: "
                  f"{letter.error}")  # fmt: skip
        if args.retry and dead:
            print(f"{outbox.retry_dead(time.time())} put back to be sent again")
    return 0


def _add_staffing(commands) -> None:
    parser = commands.add(
        "staffing", "counters needed per hour (Erlang C/A, checked by simulation)", _run_staffing
    )
    parser.add_argument("--config", type=Path, required=True, help="the branch's config")
    parser.add_argument("--db", type=Path, required=True, help="the server's event log")
    parser.add_argument("--weekday", required=True, help="mon, tue, wed, thu, fri, sat or sun")
    parser.add_argument("--target", default="80/10", help="PERCENT/MINUTES (default 80/10)")
    parser.add_argument("--from", dest="first", help="first day of history (YYYY-MM-DD)")
    parser.add_argument("--to", dest="last", help="last day of history (YYYY-MM-DD)")
    parser.add_argument("--days", type=int, default=200, help="simulated days per check")
    parser.add_argument("--language", help="zh or en (default: the branch's first)")


def _run_staffing(args: argparse.Namespace) -> int:
    from datetime import date

    from nowserving.config import load_config
    from nowserving.reports.history import learn
    from nowserving.reports.staffing import Target, advise, check_by_simulation, table

    try:
        target = Target.parse(args.target)
        first = date.fromisoformat(args.first) if args.first else None
        last = date.fromisoformat(args.last) if args.last else None
    except ValueError as err:
        print(f"nowserving staffing: {err}", file=sys.stderr)
        return 2
    config = load_config(args.config)
    rules = config.rules
    history = learn(args.db, args.weekday, rules.timezone, target.wait_s, first, last,
                    rules.counters_start_open)  # fmt: skip
    rows = advise(history, target)
    check_by_simulation(history, rows, target, days=args.days)
    print(table(rows, target, history.days, args.language or rules.languages[0]))
    return 0


def _add_users(commands) -> None:
    parser = commands.add(
        "users", "add, remove, list the console's accounts and set passwords", _run_users
    )
    parser.add_argument("action", choices=("add", "remove", "passwd", "list"))
    parser.add_argument("name", nargs="?", help="the account (a-z 0-9 . _ -)")
    parser.add_argument("--file", type=Path, required=True, help="the accounts file (JSON)")
    parser.add_argument("--role", choices=("head_office", "manager", "supervisor"), help="with add")
    parser.add_argument(
        "--branch", action="append", default=[],
        help="a branch the account sees (repeat; none for head_office)",
    )  # fmt: skip
    parser.add_argument(
        "--region", action="append", default=[],
        help="with add, head_office only: the region it sees (repeat; none: every region)",
    )  # fmt: skip


def _run_users(args: argparse.Namespace) -> int:
    from nowserving.web.accounts import AccountError
    from nowserving.web.users import manage_users, read_password

    if args.action != "list" and not args.name:
        print("nowserving users: name the account", file=sys.stderr)
        return 2
    try:
        lines = manage_users(args.file, args.action, args.name, args.role,
                             tuple(args.branch), read_password,
                             tuple(args.region))  # fmt: skip
    except AccountError as err:
        print(f"nowserving users: {err}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    return 0


COMMANDS = (
    _add_server,
    add_bookings,
    _add_staffing,
    _add_new_log,
    _add_check_config,
    _add_audit,
    _add_webhooks,
    _add_users,
)
