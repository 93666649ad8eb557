"""The console's accounts: who may sign in, as what, for which branches (docs/console.md).

A JSON file written by `nowserving users` (mode 0600). Passwords are kept only as salted
scrypt hashes (the standard library's `hashlib.scrypt`: memory-hard, so a stolen file is
slow to guess at on GPUs) and compared in constant time. Nothing here logs a password.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

from nowserving.errors import NowservingError


class AccountError(NowservingError, ValueError):
    """An account, password or accounts file that cannot be used; the message says why."""


# Roles: a head-office account sees every branch the web role serves; a manager or a
# supervisor only the branches listed for them.
ROLES = ("head_office", "manager", "supervisor")
# What each role may do on the branches it sees (docs/console.md, "Rights"): `live` the
# live page, `notices` post and take down notices, `counters` pause, open and close
# counters, `services` close a service for the day and reopen it, `reports` the reports,
# `staffing` the staffing advice, `accounts` the accounts of its branches, `bookings` the
# bookings page (see, book, cancel).
SUPERVISOR_RIGHTS = frozenset({"live", "notices", "counters", "bookings"})
MANAGER_RIGHTS = SUPERVISOR_RIGHTS | {"services", "reports", "staffing", "accounts"}
RIGHTS = {"head_office": MANAGER_RIGHTS, "manager": MANAGER_RIGHTS,
          "supervisor": SUPERVISOR_RIGHTS}  # fmt: skip
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,39}$")
MIN_PASSWORD = 10

# scrypt's cost: N=2^14, r=8 takes 16 MiB and ~50 ms per check here (bench: docs/console.md).
SCRYPT_N, SCRYPT_R, SCRYPT_P = 1 << 14, 8, 1
_MAXMEM = 64 * 1024 * 1024


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """`scrypt$N$r$p$salt$hash`: the password's hash with a fresh 16-byte salt."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def check_password(password: str, stored: str) -> bool:
    """Whether `password` is the one `stored` (a `hash_password` string) was made from."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(
            password.encode("utf-8"),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=_MAXMEM,
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


# Checked against when the account does not exist: the same work, so the answer's timing
# does not say which names exist.
_DUMMY = hash_password(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class Account:
    """One console user."""

    name: str
    role: str
    branches: tuple[str, ...]  # empty for head office: every branch served
    password_hash: str
    regions: tuple[str, ...] = ()  # a head-office account's regions (empty: every region)

    def may(self, right: str) -> bool:
        """Whether this account's role has `right` (one of RIGHTS' words)."""
        return right in RIGHTS.get(self.role, ())

    def sees(self, branch: str, region: str | None = None) -> bool:
        """Whether this account may see (and act on) `branch`, which is in `region` (the
        head office's branches file; None: in none): a head-office account limited to
        regions sees only their branches."""
        if self.role == "head_office":
            return not self.regions or region in self.regions
        return branch in self.branches


class Accounts:
    """The accounts file, read at start and again whenever it changed on disk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._mtime: float | None = None
        self._accounts: dict[str, Account] = {}
        self._reload()

    def _reload(self) -> None:
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            self._accounts, self._mtime = {}, None
            return
        if mtime != self._mtime:
            self._accounts = read_accounts(self.path)
            self._mtime = mtime

    def get(self, name: str) -> Account | None:
        """The account called `name`, as the file says now."""
        self._reload()
        return self._accounts.get(name)

    def authenticate(self, name: str, password: str) -> Account | None:
        """The account if `password` is its password (slow on purpose: run off the loop)."""
        account = self.get(name)
        ok = check_password(password, account.password_hash if account else _DUMMY)
        return account if ok and account is not None else None


def read_accounts(path: Path) -> dict[str, Account]:
    """Every account in the file at `path`; raises AccountError on a file it cannot use."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        rows = data["accounts"]
        return {
            name: Account(
                name,
                row["role"],
                tuple(row.get("branches", ())),
                row["hash"],
                tuple(row.get("regions", ())),
            )  # fmt: skip
            for name, row in rows.items()
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise AccountError(f"{path}: not a usable accounts file ({err})") from err


def write_accounts(path: Path, accounts: dict[str, Account]) -> None:
    """Write `accounts` to `path` atomically, readable by its owner only."""
    rows = {
        a.name: {
            "role": a.role,
            "branches": list(a.branches),
            "hash": a.password_hash,
            **({"regions": list(a.regions)} if a.regions else {}),
        }
        for a in sorted(accounts.values(), key=lambda a: a.name)
    }
    text = json.dumps({"accounts": rows}, indent=2, ensure_ascii=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_new_account(name: str, role: str, branches: tuple[str, ...],
                      regions: tuple[str, ...] = ()) -> None:  # fmt: skip
    """Raise AccountError for a name, role, branch or region list an account cannot have."""
    if not NAME_RE.match(name):
        raise AccountError(f"account name {name!r}: 2-40 of a-z 0-9 . _ - (starting a-z/0-9)")
    if role not in ROLES:
        raise AccountError(f"role {role!r}: one of {', '.join(ROLES)}")
    if role == "head_office" and branches:
        raise AccountError("a head_office account sees every branch: give no --branch")
    if regions and role != "head_office":
        raise AccountError("only a head_office account is limited by --region")
    if role != "head_office" and not branches:
        raise AccountError(f"a {role} needs at least one --branch")


def check_new_password(password: str) -> None:
    """Raise AccountError for a password too short to keep."""
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")
