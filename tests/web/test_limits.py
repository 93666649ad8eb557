"""The limits that hold across the web role's processes and restarts (web/limits.py): the
console's lock-out and the remote join's per-address limit, through two web roles over one
store file, a second OS process, a restart, and a flood of distinct addresses."""

from __future__ import annotations

import contextlib
import html
import http.cookiejar
import re
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

import pytest

from nowserving.web.limits import FILE_NAME, PRUNE_EVERY, LimitStore
from nowserving.web.sessions import LOCK_S, Lockout
from tests.web.console_fixtures import PASSWORD, make_console, serving_console

PROCESS = """
import sys, time
from nowserving.web.limits import LimitStore
from nowserving.web.sessions import Lockout
with LimitStore(__import__("pathlib").Path(sys.argv[1])) as store:
    lockout = Lockout(lambda: float(sys.argv[2]), store)
    print([lockout.failed("anna", "203.0.113.7") for _ in range(3)])
    print([store.take("join:pudong:198.51.100.4", 3 / 3600, 3, float(sys.argv[2]))
           for _ in range(2)])
"""


class Browser:
    """An HTTP client with its own cookies that does not follow redirects."""

    def __init__(self) -> None:
        class Stay(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), Stay)

    def open(self, url: str, form: dict | None = None) -> tuple[int, str]:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        try:
            with self.opener.open(url, data, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()

    def csrf(self, url: str) -> str:
        status, page = self.open(url)
        assert status == 200, status
        return html.unescape(re.search(r'name="csrf" value="([^"]*)"', page).group(1))


def sign_in(role, password: str) -> int:
    """One sign-in as anna from a fresh browser: the answer's status."""
    browser = Browser()
    word = browser.csrf(role.url("/?lang=en"))
    form = {"csrf": word, "lang": "en", "account": "anna", "password": password}
    return browser.open(role.url("/sign-in"), form)[0]


def join(base: str) -> int:
    """One remote join of `accounts` at pudong from a fresh browser: the answer's status
    (303 to the new page; 400 with the words when refused)."""
    browser = Browser()
    word = browser.csrf(f"{base}/pudong/join?lang=en")
    form = {"csrf": word, "lang": "en", "service": "accounts"}
    return browser.open(f"{base}/pudong/join", form)[0]


@pytest.fixture
def roles(broker, example_config, server, clock, accounts_file, tmp_path):
    """Two web roles (as two uvicorn workers would be) over one limits file; a function
    to start a third one over it (as after a restart)."""
    with contextlib.ExitStack() as stack:

        def start():
            store = stack.enter_context(LimitStore(tmp_path / FILE_NAME))
            console = make_console([example_config], broker, accounts_file, tmp_path, clock,
                                   limits=store)  # fmt: skip
            return stack.enter_context(serving_console(console, clock))

        yield start(), start(), start


def test_two_web_roles_share_the_lock_out_and_the_join_limit_and_a_restart_keeps_them(
    roles, clock, tmp_path
):
    """GIVEN two web roles over one limits file WHEN anna's password is wrong three times
    at one and twice at the other THEN both refuse even the right one as locked, and so
    does a third started afterwards, until the lock-out is over; WHEN one address joins
    twice at one and once at the other THEN its fourth join is refused at both and at
    the third; the file names neither the account nor the address."""
    first, second, restart = roles
    assert [sign_in(first, "wrong words") for _ in range(3)] == [401] * 3
    assert [sign_in(second, "wrong words") for _ in range(2)] == [401] * 2
    assert sign_in(first, PASSWORD) == 429 and sign_in(second, PASSWORD) == 429
    assert [join(first.base), join(first.base), join(second.base)] == [303] * 3
    assert join(second.base) == 400 and join(first.base) == 400
    third = restart()
    assert sign_in(third, PASSWORD) == 429 and join(third.base) == 400
    clock.advance(LOCK_S + 1)
    assert sign_in(third, PASSWORD) == 303
    stored = b"".join(p.read_bytes() for p in tmp_path.glob(FILE_NAME + "*"))
    assert b"anna" not in stored and b"127.0.0.1" not in stored


def test_another_process_counts_towards_the_same_lock_out(tmp_path, clock):
    """GIVEN a second OS process that counted three wrong passwords and two joins WHEN
    this one counts two more wrong passwords and joins once more THEN the fifth locks and
    the fourth join is refused; reopened, the store still says so."""
    path = tmp_path / FILE_NAME
    done = subprocess.run([sys.executable, "-c", PROCESS, str(path), str(clock())],
                          capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
    assert done.stdout.split("\n")[:2] == ["[False, False, False]", "[True, True]"]
    with LimitStore(path) as store:
        lockout = Lockout(clock, store)
        assert lockout.failed("anna", "192.0.2.1") is False
        assert lockout.failed("anna", "192.0.2.1") is True  # the account's fifth
        assert lockout.locked("anna", "192.0.2.99") == LOCK_S
        assert store.take("join:pudong:198.51.100.4", 3 / 3600, 3, clock()) is True
        assert store.take("join:pudong:198.51.100.4", 3 / 3600, 3, clock()) is False
    with LimitStore(path) as store:
        assert Lockout(clock, store).locked("anna", "192.0.2.99") == LOCK_S


def test_the_store_stays_bounded_under_a_flood_of_distinct_addresses(tmp_path, clock):
    """GIVEN a store bounded to 500 rows a table WHEN 5 000 distinct addresses join and
    fail a sign-in THEN neither table holds more than the bound and its slack, the file
    stays small, and a locked address is still locked: the flood evicted what was about
    to expire, not the lock."""
    with LimitStore(tmp_path / FILE_NAME, rows=500) as store:
        lockout = Lockout(clock, store)
        for _ in range(5):
            lockout.failed("anna", "203.0.113.7")
        for n in range(5_000):
            address = f"10.{n >> 16}.{(n >> 8) & 255}.{n & 255}"
            store.take(f"join:pudong:{address}", 3 / 3600, 3, clock())
            lockout.failed(f"x{n}", address)
        assert 0 < store.count("buckets") <= 500 + PRUNE_EVERY
        assert 0 < store.count("lockout") <= 500 + PRUNE_EVERY
        assert lockout.locked("anna", "203.0.113.7") == LOCK_S
    size = sum(p.stat().st_size for p in tmp_path.glob(FILE_NAME + "*"))
    assert size < 8 * 1024 * 1024, size
