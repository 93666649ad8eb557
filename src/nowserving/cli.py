"""The `nowserving` command: roles and operator commands."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path

from nowserving import __version__
from nowserving.errors import ConfigError, NowservingError, RefusedToServe, StoreError
from nowserving.server.ratelimit import COMMANDS_AT_ONCE, COMMANDS_PER_S


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="nowserving", description=__doc__)
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True)

    check = sub.add_parser(
        "check-config", help="validate a branch config (and a device's) and say what is wrong"
    )
    check.add_argument("file", type=Path, nargs="?", help="the branch config (TOML)")
    check.add_argument(
        "--device", type=Path, help="a device config to check too (against the branch config)"
    )

    sim = sub.add_parser("simulate", help="simulate a branch day and measure wait estimates")
    sim.add_argument(
        "--scenario",
        required=True,
        help="a built-in scenario (--list shows them) or a scenario TOML file",
    )
    sim.add_argument("--customers", type=int, help="stop after this many arrivals")
    sim.add_argument("--seed", type=int, default=1)

    sub.add_parser("scenarios", help="list the built-in simulation scenarios")

    audit = sub.add_parser(
        "audit",
        help="how often customers were called inside the "
        "interval printed on their ticket, per service and hour",
    )
    audit.add_argument("--db", type=Path, required=True, help="the server's event log")
    audit.add_argument("--timezone", help="IANA time zone for the hours (default: UTC)")

    acl = sub.add_parser("broker-acl", help="print the Mosquitto ACL file for a branch")
    acl.add_argument("--config", type=Path, required=True, help="branch config (TOML)")

    prov = sub.add_parser(
        "provision",
        help="make every device's bundle and the broker's users, ACL, TLS and bridge config",
    )
    prov.add_argument("--config", type=Path, required=True, help="branch config (TOML)")
    prov.add_argument(
        "--out", type=Path, required=True, help="output folder; re-runs read it back: keep it"
    )
    prov.add_argument(
        "--server-host",
        action="append",
        help="name or IP devices reach the broker at (repeat for more; remembered)",
    )
    prov.add_argument("--tls-port", type=int, help="the devices' TLS port (default 8883)")
    prov.add_argument(
        "--local-port",
        type=int,
        help="plain MQTT on 127.0.0.1 for the server (default 1883; 0: none)",
    )
    prov.add_argument(
        "--broker-dir", help="the broker's folder on the server (default /etc/mosquitto/nowserving)"
    )
    prov.add_argument("--head-office", help="HOST[:PORT] of the head-office broker: make a bridge")
    prov.add_argument(
        "--head-office-ca", type=_readable_file, help="the head-office broker's CA (PEM)"
    )
    prov.add_argument(
        "--revoke",
        action="append",
        default=[],
        metavar="DEVICE",
        help="take a device's access away",
    )
    prov.add_argument(
        "--renew",
        action="append",
        default=[],
        metavar="DEVICE",
        help="give a device a new password",
    )

    server = sub.add_parser("server", help="run the branch server")
    server.add_argument("--config", type=Path, required=True, help="branch config (TOML)")
    _broker_options(server)
    server.add_argument(
        "--db",
        type=Path,
        default=Path("nowserving-events.sqlite"),
        help="event log file (default: %(default)s)",
    )
    server.add_argument(
        "--new",
        action="store_true",
        help="make a new event log if there is none (a branch's first start only: a lost "
        "log is otherwise refused)",
    )
    server.add_argument(
        "--restore",
        action="store_true",
        help="the log was put back from a backup: start a new epoch past every number "
        "devices saw, instead of refusing a log that is behind",
    )
    server.add_argument(
        "--device-rate",
        type=float,
        default=COMMANDS_PER_S,
        metavar="N",
        help="commands a second a device may send on average (default: %(default)s)",
    )
    server.add_argument(
        "--device-burst",
        type=int,
        default=COMMANDS_AT_ONCE,
        metavar="N",
        help="... and at once (default: %(default)s)",
    )

    new_log = sub.add_parser(
        "new-log", help="make a branch's new, empty event log (the server's first start)"
    )
    new_log.add_argument("--config", type=Path, required=True, help="branch config (TOML)")
    new_log.add_argument("--db", type=Path, required=True, help="the event log file to make")

    kiosk = sub.add_parser("kiosk", help="run the ticket kiosk (full screen)")
    kiosk.add_argument("--config", type=Path, required=True, help="branch config (TOML)")
    kiosk.add_argument("--device", type=Path, required=True, help="this device's config (TOML)")
    kiosk.add_argument(
        "--screenshot", type=Path, help="render the start screen offscreen into this PNG, exit"
    )
    kiosk.add_argument("--size", type=_size, default=(1920, 1080), help="WIDTHxHEIGHT")
    kiosk.add_argument("--language", help="start in this language (default: the branch's first)")
    kiosk.add_argument(
        "--headless", action="store_true", help="no screen: ticket buttons and printer only"
    )
    kiosk.add_argument(
        "--state-dir",
        type=Path,
        help="where the offline spool lives (default: $STATE_DIRECTORY or ~/.local/state)",
    )

    counter = sub.add_parser("counter", help="run a counter's buttons and lamps (headless)")
    counter.add_argument("--config", type=Path, required=True, help="branch config (TOML)")
    counter.add_argument("--device", type=Path, required=True, help="this counter's config")
    counter.add_argument("--ui", action="store_true", help="open the staff panel too")
    counter.add_argument(
        "--screenshot", type=Path, help="render the staff panel offscreen into this PNG, exit"
    )
    counter.add_argument("--size", type=_size, default=(1280, 800), help="WIDTHxHEIGHT")
    counter.add_argument("--language", help="the panel's language (default: the branch's first)")

    display = sub.add_parser("display", help="run the lobby display (full screen)")
    display.add_argument("--config", type=Path, required=True, help="branch config (TOML)")
    display.add_argument("--device", type=Path, required=True, help="this display's config")
    display.add_argument(
        "--screenshot", type=Path, help="render the current state offscreen into this PNG, exit"
    )
    display.add_argument(
        "--size", type=_size, help="WIDTHxHEIGHT (default: 1920x1080, or 1080x1920 in portrait)"
    )

    preview = sub.add_parser(
        "ticket-preview", help="write a sample ticket as a picture and as the printer's bytes"
    )
    preview.add_argument("--config", type=Path, help="branch config (default: the example)")
    preview.add_argument("--language", default="zh")
    preview.add_argument("--paper", type=int, choices=(58, 80), default=80)
    preview.add_argument("--profile", help="python-escpos printer profile (default TM-T88V)")
    preview.add_argument("--png", type=Path, help="write the ticket picture here")
    preview.add_argument("--escpos", type=Path, help="write the exact printer bytes here")

    print_test = sub.add_parser("print-test", help="print a self-test ticket on this kiosk")
    print_test.add_argument("--device", type=Path, required=True, help="the kiosk's config")
    print_test.add_argument("--config", type=Path, help="branch config (default: the example)")

    self_test = sub.add_parser(
        "self-test",
        help="check this device on site: broker, server, clock and its hardware; "
        "print the result and publish it in the device's status",
    )
    self_test.add_argument("--device", type=Path, required=True, help="this device's config")
    self_test.add_argument(
        "--config", type=Path, help="branch config (default: branch.toml beside the device's)"
    )
    self_test.add_argument(
        "--buttons-timeout",
        type=float,
        default=30,
        metavar="S",
        help="seconds to press every button; 0: do not check buttons (default: %(default)s)",
    )
    self_test.add_argument(
        "--pattern-seconds",
        type=float,
        default=10,
        metavar="S",
        help="how long a display shows its test pattern; 0: none (default: %(default)s)",
    )
    self_test.add_argument("--pattern-png", type=Path, help="save the test pattern shown")
    self_test.add_argument("--ticket-png", type=Path, help="save the test ticket as a picture")
    self_test.add_argument("--no-print", action="store_true", help="do not print a test ticket")
    self_test.add_argument("--no-announce", action="store_true", help="say no test call")
    self_test.add_argument(
        "--no-publish", action="store_true", help="do not put the result in the device's status"
    )

    branch_status = sub.add_parser(
        "branch-status",
        help="every device's status and last self-test, read with a staff device's login",
    )
    branch_status.add_argument(
        "--device", type=Path, required=True, help="a staff device's config (it may read status/#)"
    )
    branch_status.add_argument(
        "--config", type=Path, help="branch config (default: branch.toml beside the device's)"
    )

    clips = sub.add_parser(
        "voice-clips", help="make a language's clips for spoken calls, with espeak-ng"
    )
    clips.add_argument("--language", required=True, help="e.g. zh or en")
    clips.add_argument("--out", type=Path, required=True, help="the clip set's folder")
    clips.add_argument("--config", type=Path, help="branch config (default: the example)")

    announce = sub.add_parser(
        "announce-preview", help="write the WAV that the lobby display would play for a call"
    )
    announce.add_argument("--number", required=True, help="the ticket number, e.g. A012")
    announce.add_argument("--counter", required=True, help="the counter's id, e.g. c3")
    announce.add_argument("--language", required=True, help="the customer's language")
    announce.add_argument("--wav", type=Path, required=True, help="write the WAV here")
    announce.add_argument("--then", help="then say it in this language too")
    announce.add_argument("--recall", action="store_true", help="announce a recall")
    announce.add_argument(
        "--clips", type=Path, help="the clip set (default: make one with espeak-ng)"
    )
    announce.add_argument("--repeat", type=int, choices=range(1, 6), default=1)
    announce.add_argument("--volume", type=int, choices=range(101), default=100, metavar="0-100")
    announce.add_argument("--config", type=Path, help="branch config (default: the example)")

    demo = sub.add_parser("demo", help="run a whole branch on this machine, simulated")
    demo.add_argument("--config", type=Path, help="branch config (default: the example bank)")
    demo.add_argument(
        "--minutes",
        type=float,
        default=60,
        help="simulated minutes of the branch day to run (default: %(default)s)",
    )
    demo.add_argument(
        "--speed",
        type=float,
        default=60,
        help="simulated seconds per real second (default: %(default)s)",
    )
    demo.add_argument(
        "--out",
        type=Path,
        default=Path("demo-output"),
        help="where the log and event log go (default: %(default)s)",
    )
    demo.add_argument("--seed", type=int, default=1)

    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        if args.command == "check-config":
            return _check_config(args.file, args.device)
        if args.command == "simulate":
            return _simulate(args)
        if args.command == "scenarios":
            return _scenarios()
        if args.command == "audit":
            from nowserving.audit import audit_text

            print(audit_text(args.db, args.timezone or "UTC"))
            return 0
        if args.command == "broker-acl":
            return _broker_acl(args.config)
        if args.command == "provision":
            return _provision(args)
        if args.command == "server":
            return _server(args)
        if args.command == "new-log":
            return _new_log(args)
        if args.command == "kiosk":
            return _kiosk(args)
        if args.command == "counter":
            return _counter(args)
        if args.command == "display":
            return _display(args)
        if args.command == "ticket-preview":
            return _ticket_preview(args)
        if args.command == "print-test":
            return _print_test(args)
        if args.command == "self-test":
            return _self_test(args)
        if args.command == "branch-status":
            return _branch_status(args)
        if args.command == "voice-clips":
            return _voice_clips(args)
        if args.command == "announce-preview":
            return _announce_preview(args)
        if args.command == "demo":
            from nowserving.devtools.demo import run_demo

            return run_demo(args.config, args.minutes, args.speed, args.out, args.seed)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 2
    except NowservingError as err:
        print(f"nowserving: {err}", file=sys.stderr)
        return 1
    return 0


def _broker_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--broker", default="127.0.0.1:1883", type=_address, help="HOST:PORT of the broker"
    )
    parser.add_argument("--username", help="broker user name")
    parser.add_argument(
        "--password-file", type=_readable_file, help="file holding the broker password"
    )
    parser.add_argument("--mqtt-version", choices=("5", "3.1.1"), default="5")
    parser.add_argument("--tls-ca", help="CA certificate: connect with TLS")


def _address(text: str) -> str:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT (e.g. 127.0.0.1:1883)")
    return text


def _readable_file(text: str) -> Path:
    path = Path(text)
    try:
        path.read_bytes()
    except OSError as err:
        raise argparse.ArgumentTypeError(f"cannot read {text}: {err.strerror}") from None
    return path


def _size(text: str) -> tuple[int, int]:
    width, _, height = text.lower().partition("x")
    if not (width.isdigit() and height.isdigit()) or min(int(width), int(height)) < 100:
        raise argparse.ArgumentTypeError(f"{text!r} is not WIDTHxHEIGHT (e.g. 1080x1920)")
    return int(width), int(height)


def _kiosk(args: argparse.Namespace) -> int:
    from nowserving.config import check_device_against_branch, load_config, load_device_config

    config, device = load_config(args.config), load_device_config(args.device)
    check_device_against_branch(device, config, str(args.device))
    from nowserving.kiosk.main import run_kiosk

    return run_kiosk(
        config, device, args.screenshot, args.size, args.language, args.headless, args.state_dir
    )


def _counter(args: argparse.Namespace) -> int:
    from nowserving.config import check_device_against_branch, load_config, load_device_config

    config, device = load_config(args.config), load_device_config(args.device)
    check_device_against_branch(device, config, str(args.device))
    from nowserving.counter.main import run_counter

    return run_counter(config, device, args.ui, args.screenshot, args.size, args.language)


def _display(args: argparse.Namespace) -> int:
    from nowserving.config import check_device_against_branch, load_config, load_device_config

    config, device = load_config(args.config), load_device_config(args.device)
    check_device_against_branch(device, config, str(args.device))
    from nowserving.display.main import run_display

    return run_display(config, device, args.screenshot, args.size)


def _ticket_preview(args: argparse.Namespace) -> int:
    from nowserving.adapters.printer.preview import write_preview
    from nowserving.config import EXAMPLE, load_config

    config = load_config(args.config or EXAMPLE)
    for line in write_preview(
        config, args.language, args.paper, args.profile, args.png, args.escpos
    ):
        print(line)
    return 0


def _print_test(args: argparse.Namespace) -> int:
    from nowserving.adapters.printer.preview import print_test
    from nowserving.config import EXAMPLE, load_config, load_device_config

    device = load_device_config(args.device)
    if device.printer is None:
        raise ConfigError([f"{args.device}: no [printer] table: this device has no printer"])
    for line in print_test(load_config(args.config or EXAMPLE), device.id, device.printer):
        print(line)
    return 0


def _device_and_branch(args: argparse.Namespace):
    """The device file, and the branch config: --config, or branch.toml beside the device
    file (as a provisioned bundle has it)."""
    from nowserving.config import load_config, load_device_config

    device = load_device_config(args.device)
    path = args.config or args.device.parent / "branch.toml"
    if args.config is None and not path.exists():
        raise ConfigError([f"no {path}: give the branch config with --config"], args.command)
    return device, load_config(path)


def _self_test(args: argparse.Namespace) -> int:
    from nowserving.selftest import Options, run_self_test

    device, config = _device_and_branch(args)
    if not args.verbose:  # the table says what matters; connection chatter would bury it
        logging.getLogger("nowserving").setLevel(logging.WARNING)
    options = Options(
        buttons_timeout_s=args.buttons_timeout,
        pattern_seconds=args.pattern_seconds,
        pattern_png=args.pattern_png,
        ticket_png=args.ticket_png,
        print_ticket=not args.no_print,
        announce=not args.no_announce,
        publish=not args.no_publish,
    )
    report = run_self_test(config, device, options, say=lambda line: print(line, flush=True))
    return 0 if report.ok else 1


def _branch_status(args: argparse.Namespace) -> int:
    from nowserving.selftest.branch_status import read_statuses, status_table

    device, config = _device_and_branch(args)
    if not args.verbose:
        logging.getLogger("nowserving").setLevel(logging.WARNING)
    try:
        statuses = read_statuses(device)
    except OSError as err:
        print(f"nowserving: {err}", file=sys.stderr)
        return 1
    lines, well = status_table(statuses, config)
    print("\n".join(lines))
    return 0 if well else 1


def _voice_clips(args: argparse.Namespace) -> int:
    import time

    from nowserving.config import EXAMPLE, load_config
    from nowserving.display.voice import duration, generate, read_clip

    rules = load_config(args.config or EXAMPLE).rules
    started = time.monotonic()
    files = generate(args.language, args.out, {c.id: c.names for c in rules.counters.values()})
    took = time.monotonic() - started
    for path in files:
        print(f"{path}  {duration(read_clip(path)):.2f} s")
    print(f"{len(files)} clips in {args.out} ({took:.1f} s)")
    return 0


def _announce_preview(args: argparse.Namespace) -> int:
    from nowserving.config import EXAMPLE, load_config
    from nowserving.display.announce import write_preview

    rules = load_config(args.config or EXAMPLE).rules
    for line in write_preview(
        rules, args.wav, args.number, args.counter, args.language, then=args.then,
        recall=args.recall, clips_dir=args.clips, repeat=args.repeat, volume=args.volume,
    ):  # fmt: skip
        print(line)
    return 0


def _check_config(path: Path | None, device_path: Path | None) -> int:
    from nowserving.config import (
        EXAMPLE,
        check_device_against_branch,
        load_config,
        load_device_config,
    )

    config = load_config(path or EXAMPLE)
    rules = config.rules
    print(
        f"{path or EXAMPLE}: OK — branch {rules.branch_id}: {len(rules.services)} services, "
        f"{len(rules.counters)} counters, {len(config.devices)} devices, "
        f"languages {', '.join(rules.languages)}"
    )
    if device_path is not None:
        device = load_device_config(device_path)
        check_device_against_branch(device, config, str(device_path))
        hardware = [
            name for name in ("printer", "gpio", "audio", "display") if getattr(device, name)
        ]
        print(
            f"{device_path}: OK — {device.role} {device.id}, broker "
            f"{device.broker.host}:{device.broker.port}"
            + (f", with {', '.join(hardware)}" if hardware else "")
        )
    return 0


def _scenarios() -> int:
    from nowserving.sim import SCENARIOS

    for name, scenario in SCENARIOS.items():
        print(f"{name:<18} {scenario.description}")
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from nowserving.sim import SCENARIOS, load_scenario, simulate
    from nowserving.sim.metrics import evaluate, format_day, format_report

    if args.scenario in SCENARIOS:
        scenario = SCENARIOS[args.scenario]
    elif Path(args.scenario).exists():
        scenario = load_scenario(args.scenario)
    else:
        raise ConfigError(
            [f"no built-in scenario or file {args.scenario!r}; built-in: {', '.join(SCENARIOS)}"],
            "simulate",
        )
    print(f"{scenario.name}: {scenario.description} (seed {args.seed})", flush=True)
    customers = simulate(scenario, seed=args.seed, customers=args.customers)
    abandonment = scenario.abandonment
    print("How the days went (per service):")
    print(format_day(customers))
    print("How good the wait estimates were (customers who waited and were served):")
    print(format_report(evaluate(scenario.name, customers, abandonment)))
    return 0


def _broker_acl(path: Path) -> int:
    from nowserving.config import load_config
    from nowserving.protocol.acl import mosquitto_acl

    config = load_config(path)
    roles = {d.id: d.role for d in config.devices.values()}
    sys.stdout.write(mosquitto_acl(config.rules.branch_id, roles))
    return 0


def _provision(args: argparse.Namespace) -> int:
    from nowserving.config import load_config
    from nowserving.provision import Settings, provision

    settings = Settings(
        server_hosts=args.server_host,
        tls_port=args.tls_port,
        local_port=args.local_port,
        broker_folder=args.broker_dir,
        head_office=args.head_office,
    )
    for line in provision(
        load_config(args.config), args.out, settings, branch_file=args.config,
        head_office_ca=args.head_office_ca, revoke=tuple(args.revoke), renew=tuple(args.renew),
    ):  # fmt: skip
        print(line)
    return 0


def _new_log(args: argparse.Namespace) -> int:
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


def _server(args: argparse.Namespace) -> int:
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


if __name__ == "__main__":
    sys.exit(main())
