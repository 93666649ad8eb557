"""Console accounts: `nowserving users` on a real file, scrypt hashes, sessions' expiry."""

from __future__ import annotations

import io
import stat

import pytest

from nowserving.cli import main
from nowserving.web.accounts import Accounts, check_password, hash_password, read_accounts
from nowserving.web.sessions import IDLE_S, MAX_AGE_S, Lockout, Sessions


def run_users(monkeypatch, capsys, *argv: str, stdin: str = "") -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    status = main(["users", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_users_add_list_passwd_remove(tmp_path, monkeypatch, capsys):
    """GIVEN no accounts file WHEN a manager is added with the password on stdin, listed,
    given a new password and removed THEN the file (owner-only) holds only a scrypt hash,
    the right password is accepted and the old one no longer."""
    path = tmp_path / "users.json"
    args = ("--file", str(path))
    assert run_users(monkeypatch, capsys, "add", "anna", "--role", "manager", "--branch",
                     "pudong", *args, stdin="first password 1\n")[0] == 0  # fmt: skip
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "first password 1" not in path.read_text()
    assert run_users(monkeypatch, capsys, "list", *args)[1] == "anna  manager  pudong\n"
    accounts = Accounts(path)
    assert accounts.authenticate("anna", "first password 1").branches == ("pudong",)
    assert run_users(monkeypatch, capsys, "passwd", "anna", *args, stdin="second pass 2\n")[0] == 0
    assert accounts.authenticate("anna", "first password 1") is None
    assert accounts.authenticate("anna", "second pass 2") is not None
    assert run_users(monkeypatch, capsys, "remove", "anna", *args)[0] == 0
    assert read_accounts(path) == {}


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (("add", "bob", "--role", "manager"), "needs at least one --branch"),
        (("add", "bob", "--role", "head_office", "--branch", "x"), "give no --branch"),
        (("add", "Bob!", "--role", "head_office"), "account name"),
        (("add", "bob", "--role", "head_office"), "at least 10 characters"),
        (("remove", "nobody"), "no account 'nobody'"),
    ],
)
def test_users_refuses_what_it_cannot_keep(tmp_path, monkeypatch, capsys, argv, said):
    status, _, err = run_users(monkeypatch, capsys, *argv, "--file", str(tmp_path / "u.json"),
                               stdin="short\n")  # fmt: skip
    assert status == 2 and said in err


def test_a_hash_is_salted_and_checked_in_full():
    first, second = hash_password("same words here"), hash_password("same words here")
    assert first != second and first.startswith("scrypt$16384$8$1$")
    assert check_password("same words here", second)
    assert not check_password("same words herE", first)
    assert not check_password("same words here", "pbkdf2$1$2$3$4$5")
    assert not check_password("same words here", "garbage")


def test_sessions_end_when_idle_or_too_old_and_lockout_counts_in_a_row(clock):
    sessions = Sessions(clock)
    first = sessions.open("anna")
    clock.advance(IDLE_S - 1)
    assert sessions.find(first.id) is first
    clock.advance(IDLE_S + 1)
    assert sessions.find(first.id) is None
    kept = sessions.open("anna")
    for _ in range(int(MAX_AGE_S // (IDLE_S / 2)) + 1):
        clock.advance(IDLE_S / 2)
        sessions.find(kept.id)
    assert sessions.find(kept.id) is None  # a working day at most, however busy
    lockout = Lockout(clock)
    for _ in range(4):
        assert not lockout.failed("anna", "10.0.0.1")
    lockout.succeeded("anna", "10.0.0.1")
    assert not lockout.failed("anna", "10.0.0.1")  # a right password started the count again
    for _ in range(3):
        lockout.failed("bob", "10.0.0.2")
    assert lockout.failed("bob", "10.0.0.2") is False
    assert lockout.failed("carol", "10.0.0.2") is True  # the address's fifth in a row
    assert lockout.locked("anyone", "10.0.0.2") == 300
