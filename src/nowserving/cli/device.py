"""The device roles' apps: each loads its branch and device files, checks them together,
and runs its role."""

from __future__ import annotations

import argparse
from pathlib import Path

from nowserving.cli.options import branch_option, checked_device, size
from nowserving.errors import ConfigError


def _device_options(parser: argparse.ArgumentParser, what: str) -> None:
    branch_option(parser)
    parser.add_argument("--device", type=Path, required=True, help=f"{what} config (TOML)")


def _add_kiosk(commands) -> None:
    parser = commands.add("kiosk", "run the ticket kiosk (full screen)", _run_kiosk)
    _device_options(parser, "this kiosk's")
    parser.add_argument(
        "--screenshot", type=Path, help="render the start screen offscreen into this PNG, exit"
    )
    parser.add_argument("--size", type=size, default=(1920, 1080), help="WIDTHxHEIGHT")
    parser.add_argument("--language", help="start in this language (default: the branch's first)")
    parser.add_argument(
        "--headless", action="store_true", help="no screen: ticket buttons and printer only"
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        help="where the offline spool lives (default: $STATE_DIRECTORY or ~/.local/state)",
    )


def _run_kiosk(args: argparse.Namespace) -> int:
    config, device = checked_device(args)
    from nowserving.kiosk.main import run_kiosk as run

    return run(
        config, device, args.screenshot, args.size, args.language, args.headless, args.state_dir
    )


def _add_counter(commands) -> None:
    parser = commands.add("counter", "run a counter's buttons and lamps (headless)", _run_counter)
    _device_options(parser, "this counter's")
    parser.add_argument("--ui", action="store_true", help="open the staff panel too")
    parser.add_argument(
        "--screenshot", type=Path, help="render the staff panel offscreen into this PNG, exit"
    )
    parser.add_argument("--size", type=size, default=(1280, 800), help="WIDTHxHEIGHT")
    parser.add_argument("--language", help="the panel's language (default: the branch's first)")


def _run_counter(args: argparse.Namespace) -> int:
    config, device = checked_device(args)
    from nowserving.counter.main import run_counter as run

    return run(config, device, args.ui, args.screenshot, args.size, args.language)


def _add_display(commands) -> None:
    parser = commands.add("display", "run the lobby display (full screen)", _run_display)
    _device_options(parser, "this display's")
    parser.add_argument(
        "--screenshot", type=Path, help="render the current state offscreen into this PNG, exit"
    )
    parser.add_argument(
        "--size",
        type=size,
        help="WIDTHxHEIGHT (default: 1920x1080, 1080x1920 in portrait, 1280x400 above a counter)",
    )
    parser.add_argument(
        "--counter", help="be the screen above this counter (as [display] counter = ...)"
    )


def _run_display(args: argparse.Namespace) -> int:
    config, device = checked_device(args)
    if args.counter is not None:  # checked like [display] counter
        from dataclasses import replace

        from nowserving.config import DisplaySettings, check_device_against_branch

        display = replace(device.display or DisplaySettings(), counter=args.counter)
        device = replace(device, display=display)
        check_device_against_branch(device, config, "--counter")
    from nowserving.display.main import run_display as run

    return run(config, device, args.screenshot, args.size)


def _add_web(commands) -> None:
    parser = commands.add(
        "web", "serve the ticket pages behind the QR codes (one or more branches)", _run_web
    )
    parser.add_argument(
        "--config", type=Path, action="append", required=True,
        help="a branch config (TOML); repeat it to serve several branches (a head office)",
    )  # fmt: skip
    parser.add_argument("--device", type=Path, required=True, help="this web role's config")
    parser.add_argument("--listen", default="127.0.0.1:8080", help="HOST:PORT to serve HTTP on")
    parser.add_argument(
        "--forwarded-allow-ips", default="127.0.0.1",
        help="the reverse proxies whose X-Forwarded-For is believed (for per-address limits)",
    )  # fmt: skip
    parser.add_argument(
        "--users", type=Path,
        help="the console's accounts file (`nowserving users`); without it, no console",
    )  # fmt: skip
    parser.add_argument(
        "--audit-log", type=Path,
        help="where the console logs every sign-in and action (default: beside --users)",
    )  # fmt: skip
    parser.add_argument(
        "--log", action="append", default=[], metavar="BRANCH=FILE",
        help="a branch's event log on this host (its server's, or a copy), read for the "
             "console's reports and staffing advice; repeatable",
    )  # fmt: skip
    parser.add_argument(
        "--reports-dir", type=Path,
        help="where the reports' visit projections are kept (default: beside --users)",
    )  # fmt: skip
    parser.add_argument(
        "--state-dir", type=Path,
        help="where the limits shared by the role's processes are kept, over restarts too "
             "(default: $STATE_DIRECTORY or ~/.local/state/nowserving)",
    )  # fmt: skip
    parser.add_argument(
        "--dsn",
        help="the head office's PostgreSQL (libpq DSN): with --users, the head-office pages "
             "(every branch live, cross-branch reports; docs/headoffice.md)",
    )  # fmt: skip


def _run_web(args: argparse.Namespace) -> int:
    from nowserving.config import check_device_against_branch, load_config, load_device_config

    device = load_device_config(args.device)
    configs = [load_config(path) for path in args.config]
    for config in configs:
        # The device file names one branch; every branch served must list the device.
        from dataclasses import replace

        check_device_against_branch(
            replace(device, branch=config.rules.branch_id), config, str(args.device)
        )
    host, _, port = args.listen.rpartition(":")
    logs = _branch_logs(args.log, [c.rules.branch_id for c in configs])
    from nowserving.web.main import run_web

    return run_web(configs, device, host or "127.0.0.1", int(port), args.forwarded_allow_ips,
                   args.users, args.audit_log, logs, args.reports_dir, args.dsn,
                   args.state_dir)  # fmt: skip


def _branch_logs(given: list[str], branches: list[str]) -> dict[str, Path]:
    """`--log BRANCH=FILE` options as {branch: path}; ConfigError for any that is wrong."""
    logs, problems = {}, []
    for item in given:
        branch, sep, path = item.partition("=")
        if not sep or not path:
            problems.append(f"--log {item!r}: give BRANCH=FILE, e.g. pudong=/var/lib/ns/events.db")
        elif branch not in branches:
            problems.append(f"--log {item!r}: no --config serves branch {branch!r}")
        elif not Path(path).exists():
            problems.append(f"--log {item!r}: there is no event log at {path}")
        else:
            logs[branch] = Path(path)
    if problems:
        raise ConfigError(problems, "web")
    return logs


COMMANDS = (_add_kiosk, _add_counter, _add_display, _add_web)
