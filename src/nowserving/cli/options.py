"""What several commands read from their command line: argument types, broker options, and
the device and branch files."""

from __future__ import annotations

import argparse
from pathlib import Path

from nowserving.errors import ConfigError


def address(text: str) -> str:
    """HOST:PORT, checked."""
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT (e.g. 127.0.0.1:1883)")
    return text


def readable_file(text: str) -> Path:
    """A file that can be read now."""
    path = Path(text)
    try:
        path.read_bytes()
    except OSError as err:
        raise argparse.ArgumentTypeError(f"cannot read {text}: {err.strerror}") from None
    return path


def size(text: str) -> tuple[int, int]:
    """WIDTHxHEIGHT of a screen, at least 100 each."""
    width, _, height = text.lower().partition("x")
    if not (width.isdigit() and height.isdigit()) or min(int(width), int(height)) < 100:
        raise argparse.ArgumentTypeError(f"{text!r} is not WIDTHxHEIGHT (e.g. 1080x1920)")
    return int(width), int(height)


def broker_options(parser: argparse.ArgumentParser) -> None:
    """--broker, --username, --password-file, --mqtt-version, --tls-ca."""
    parser.add_argument(
        "--broker", default="127.0.0.1:1883", type=address, help="HOST:PORT of the broker"
    )
    parser.add_argument("--username", help="broker user name")
    parser.add_argument(
        "--password-file", type=readable_file, help="file holding the broker password"
    )
    parser.add_argument("--mqtt-version", choices=("5", "3.1.1"), default="5")
    parser.add_argument("--tls-ca", help="CA certificate: connect with TLS")


def branch_option(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """--config: the branch config (required, or the example branch by default)."""
    if required:
        parser.add_argument("--config", type=Path, required=True, help="branch config (TOML)")
    else:
        parser.add_argument("--config", type=Path, help="branch config (default: the example)")


def device_and_branch(args: argparse.Namespace):
    """The device file, and the branch config: --config, or branch.toml beside the device
    file (as a provisioned bundle has it)."""
    from nowserving.config import load_config, load_device_config

    device = load_device_config(args.device)
    path = args.config or args.device.parent / "branch.toml"
    if args.config is None and not path.exists():
        raise ConfigError([f"no {path}: give the branch config with --config"], args.command)
    return device, load_config(path)


def checked_device(args: argparse.Namespace):
    """(branch config, device config) from --config and --device, checked together."""
    from nowserving.config import check_device_against_branch, load_config, load_device_config

    config, device = load_config(args.config), load_device_config(args.device)
    check_device_against_branch(device, config, str(args.device))
    return config, device
