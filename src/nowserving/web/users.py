"""`nowserving users`: add, remove, list console accounts and set their passwords.

The password is read with getpass at a terminal (twice), else as one line from stdin (for
scripts); it is never an argument, so it is never in the shell's history or `ps`.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable
from pathlib import Path

from nowserving.web.accounts import (
    Account,
    AccountError,
    check_new_account,
    check_new_password,
    hash_password,
    read_accounts,
    write_accounts,
)


def read_password(stdin=None) -> str:
    """The new password: typed twice at a terminal, else the first line of stdin."""
    stdin = stdin or sys.stdin
    if stdin.isatty():
        first = getpass.getpass("new password: ")
        if getpass.getpass("again: ") != first:
            raise AccountError("the two passwords differ")
        return first
    return stdin.readline().rstrip("\r\n")


def manage_users(path: Path, action: str, name: str | None, role: str | None,
                 branches: tuple[str, ...], password: Callable[[], str],
                 regions: tuple[str, ...] = ()) -> list[str]:  # fmt: skip
    """Do `action` (add, remove, passwd, list) on the accounts file at `path`; returns the
    lines to print. Raises AccountError for anything it cannot do."""
    accounts = read_accounts(path) if path.exists() else {}
    if action == "list":
        return [
            f"{a.name}  {a.role}  {','.join(a.branches) or '*'}"
            + (f"  regions {','.join(a.regions)}" if a.regions else "")
            for a in sorted(accounts.values(), key=lambda a: a.name)
        ]
    name = (name or "").strip().lower()
    if action == "add":
        if name in accounts:
            raise AccountError(f"there is already an account {name!r} (passwd to change it)")
        check_new_account(name, role or "", branches, regions)
        secret = password()
        check_new_password(secret)
        accounts[name] = Account(name, role or "", branches, hash_password(secret), regions)
        write_accounts(path, accounts)
        return [f"added {name} ({role})"]
    if name not in accounts:
        raise AccountError(f"no account {name!r} in {path}")
    if action == "remove":
        del accounts[name]
        write_accounts(path, accounts)
        return [f"removed {name}: its sessions end at its next request"]
    if action == "passwd":
        secret = password()
        check_new_password(secret)
        old = accounts[name]
        accounts[name] = Account(name, old.role, old.branches, hash_password(secret), old.regions)
        write_accounts(path, accounts)
        return [f"new password for {name}: its sessions end at their next request"]
    raise AccountError(f"unknown action {action!r}")
