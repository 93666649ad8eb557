"""The `nowserving` command: one subcommand per task, grouped by who runs it.

Each group is a module here with one small function per command: it adds the command's
parser and names its handler (`Commands.add`). A new command is one such function, listed
in its module's COMMANDS; `nowserving --help` lists it under its group.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable

from nowserving import __version__
from nowserving.cli import developer, device, headoffice, installer, operator
from nowserving.errors import ConfigError, NowservingError

# (title, what the group is for, its module): the order `nowserving --help` shows them in.
GROUPS = (
    ("operator", "run and look after the branch", operator),
    ("device", "the apps of the branch's devices", device),
    ("installer", "set a branch up and check it", installer),
    ("developer", "try, preview and simulate", developer),
    ("head office", "every branch's events in PostgreSQL", headoffice),
)


class Commands:
    """Adds commands to the parser, remembering each one's group and summary for --help."""

    def __init__(self, sub) -> None:
        self._sub = sub
        self.group = ""
        self.listed: list[tuple[str, str, str]] = []  # (group, name, summary)

    def add(
        self, name: str, summary: str, handler: Callable[[argparse.Namespace], int]
    ) -> argparse.ArgumentParser:
        """A command `name` run by `handler(args) -> exit status`; returns its parser."""
        parser = self._sub.add_parser(name, description=summary)
        parser.set_defaults(handler=handler)
        self.listed.append((self.group, name, summary))
        return parser


def parser() -> argparse.ArgumentParser:
    """The whole command line: every group's commands, listed by group in --help."""
    top = argparse.ArgumentParser(
        prog="nowserving",
        description="Queue management for service branches.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    top.add_argument("--version", action="version", version=__version__)
    top.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands = Commands(sub)
    lines = ["commands, by who runs them (nowserving COMMAND --help for one):"]
    for title, purpose, module in GROUPS:
        commands.group = title
        for add in module.COMMANDS:
            add(commands)
        lines.append(f"\n  {title}: {purpose}")
        lines += [
            f"    {name:<17} {summary}"
            for group, name, summary in commands.listed
            if group == title
        ]
    top.epilog = "\n".join(lines)
    return top


def main(argv: list[str] | None = None) -> int:
    """Run `nowserving` with `argv`; returns the exit status."""
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.handler(args)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 2
    except NowservingError as err:
        print(f"nowserving: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
