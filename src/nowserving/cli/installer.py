"""Commands for whoever sets a branch up: provisioning, the broker's ACL, and checking each
device on site."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from nowserving.cli.options import branch_option, device_and_branch, readable_file
from nowserving.errors import ConfigError


def _add_provision(commands) -> None:
    parser = commands.add(
        "provision",
        "make the devices' bundles and the broker's users, ACL, TLS and bridge",
        _run_provision,
    )
    branch_option(parser)
    parser.add_argument(
        "--out", type=Path, required=True, help="output folder; re-runs read it back: keep it"
    )
    parser.add_argument(
        "--server-host",
        action="append",
        help="name or IP devices reach the broker at (repeat for more; remembered)",
    )
    parser.add_argument("--tls-port", type=int, help="the devices' TLS port (default 8883)")
    parser.add_argument(
        "--local-port",
        type=int,
        help="plain MQTT on 127.0.0.1 for the server (default 1883; 0: none)",
    )
    parser.add_argument(
        "--broker-dir", help="the broker's folder on the server (default /etc/mosquitto/nowserving)"
    )
    parser.add_argument(
        "--head-office", help="HOST[:PORT] of the head-office broker: make a bridge"
    )
    parser.add_argument(
        "--head-office-ca", type=readable_file, help="the head-office broker's CA (PEM)"
    )
    parser.add_argument(
        "--revoke", action="append", default=[], metavar="DEVICE",
        help="take a device's access away",
    )  # fmt: skip
    parser.add_argument(
        "--renew", action="append", default=[], metavar="DEVICE",
        help="give a device a new password",
    )  # fmt: skip


def _run_provision(args: argparse.Namespace) -> int:
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


def _add_broker_acl(commands) -> None:
    parser = commands.add(
        "broker-acl", "print the Mosquitto ACL file for a branch", _run_broker_acl
    )
    branch_option(parser)


def _run_broker_acl(args: argparse.Namespace) -> int:
    from nowserving.config import load_config
    from nowserving.protocol.acl import mosquitto_acl

    config = load_config(args.config)
    roles = {d.id: d.role for d in config.devices.values()}
    sys.stdout.write(mosquitto_acl(config.rules.branch_id, roles))
    return 0


def _bundle_options(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--device", type=Path, required=True, help=what)
    parser.add_argument(
        "--config", type=Path, help="branch config (default: branch.toml beside the device's)"
    )


def _add_self_test(commands) -> None:
    parser = commands.add(
        "self-test",
        "check this device on site and publish the result in its status",
        _run_self_test,
    )
    _bundle_options(parser, "this device's config")
    parser.add_argument(
        "--buttons-timeout",
        type=float,
        default=30,
        metavar="S",
        help="seconds to press every button; 0: do not check buttons (default: %(default)s)",
    )
    parser.add_argument(
        "--pattern-seconds",
        type=float,
        default=10,
        metavar="S",
        help="how long a display shows its test pattern; 0: none (default: %(default)s)",
    )
    parser.add_argument("--pattern-png", type=Path, help="save the test pattern shown")
    parser.add_argument("--ticket-png", type=Path, help="save the test ticket as a picture")
    parser.add_argument("--no-print", action="store_true", help="do not print a test ticket")
    parser.add_argument("--no-announce", action="store_true", help="say no test call")
    parser.add_argument(
        "--no-publish", action="store_true", help="do not put the result in the device's status"
    )


def _run_self_test(args: argparse.Namespace) -> int:
    from nowserving.selftest import Options
    from nowserving.selftest import run_self_test as run

    device, config = device_and_branch(args)
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
    report = run(config, device, options, say=lambda line: print(line, flush=True))
    return 0 if report.ok else 1


def _add_branch_status(commands) -> None:
    parser = commands.add(
        "branch-status",
        "every device's status and last self-test (a staff device's login)",
        _run_branch_status,
    )
    _bundle_options(parser, "a staff device's config (it may read status/#)")


def _run_branch_status(args: argparse.Namespace) -> int:
    from nowserving.selftest.branch_status import read_statuses, status_table

    device, config = device_and_branch(args)
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


def _add_print_test(commands) -> None:
    parser = commands.add("print-test", "print a self-test ticket on this kiosk", _run_print_test)
    parser.add_argument("--device", type=Path, required=True, help="the kiosk's config")
    branch_option(parser, required=False)


def _run_print_test(args: argparse.Namespace) -> int:
    from nowserving.adapters.printer.preview import print_test
    from nowserving.config import EXAMPLE, load_config, load_device_config

    device = load_device_config(args.device)
    if device.printer is None:
        raise ConfigError([f"{args.device}: no [printer] table: this device has no printer"])
    for line in print_test(load_config(args.config or EXAMPLE), device.id, device.printer):
        print(line)
    return 0


def _add_voice_clips(commands) -> None:
    parser = commands.add(
        "voice-clips",
        "make a language's clips (spoken calls, the kiosk's audio guide) with espeak-ng",
        _run_voice_clips,
    )
    parser.add_argument("--language", required=True, help="e.g. zh or en")
    parser.add_argument("--out", type=Path, required=True, help="the clip set's folder")
    branch_option(parser, required=False)


def _run_voice_clips(args: argparse.Namespace) -> int:
    import time

    from nowserving.adapters.voice import duration, generate, named_clips, read_clip
    from nowserving.config import EXAMPLE, load_config

    config = load_config(args.config or EXAMPLE)
    started = time.monotonic()
    files = generate(args.language, args.out, named_clips(config))
    took = time.monotonic() - started
    for path in files:
        print(f"{path}  {duration(read_clip(path)):.2f} s")
    print(f"{len(files)} clips in {args.out} ({took:.1f} s)")
    return 0


def _add_staff_pin(commands) -> None:
    parser = commands.add(
        "staff-pin", "hash a staff member's PIN for the server's staff-pins file", _run_staff_pin
    )
    parser.add_argument("staff", help="the staff number, as in the branch's [[staff]]")


def _run_staff_pin(args: argparse.Namespace) -> int:
    """Read the PIN (hidden at a terminal, else one line of stdin) and print the line for
    the pins file. The PIN is never printed, logged or taken as an argument (which `ps`
    and the shell's history would show)."""
    import getpass

    from nowserving.config.pins import PIN_RE, hash_pin

    if sys.stdin.isatty():
        pin = getpass.getpass(f"PIN for {args.staff} (4-8 digits): ")
        again = getpass.getpass("the same PIN again: ")
        if again != pin:
            print("nowserving: the two PINs differ; nothing written", file=sys.stderr)
            return 1
    else:
        pin = sys.stdin.readline().strip()
    if not PIN_RE.match(pin):
        print("nowserving: a PIN is 4 to 8 digits; nothing written", file=sys.stderr)
        return 1
    print(f'{args.staff} = "{hash_pin(pin)}"')
    return 0


COMMANDS = (
    _add_provision,
    _add_broker_acl,
    _add_staff_pin,
    _add_self_test,
    _add_branch_status,
    _add_print_test,
    _add_voice_clips,
)
