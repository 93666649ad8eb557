"""The console for real: accounts in a file, a second branch (`minhang`) with its own
server, and the web role serving both with its console on, in uvicorn in a thread."""

from __future__ import annotations

import contextlib
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from nowserving.adapters.store import EventLog
from nowserving.config import load_config
from nowserving.devtools.broker import free_port
from nowserving.server.app import BranchServer
from nowserving.web.accounts import Account, Accounts, hash_password, write_accounts
from nowserving.web.app import make_app
from nowserving.web.console import Console
from nowserving.web.feed import Feeds
from nowserving.web.sessions import AuditLog

EXAMPLES = Path(__file__).parents[2] / "src" / "nowserving" / "examples"
PASSWORD = "correct horse battery"
FAST = {"n": 1 << 10, "r": 8, "p": 1}  # the tests' hashes: the same scheme, cheaper


@dataclass
class ConsoleRole:
    base: str
    feeds: Feeds
    console: Console
    audit: AuditLog

    def url(self, path: str = "/") -> str:
        return f"{self.base}/console{path}"


@pytest.fixture
def second_branch(tmp_path, broker, clock):
    """`minhang`: the example branch under another id, with its own server."""
    folder = tmp_path / "minhang"
    folder.mkdir()
    shutil.copy(EXAMPLES / "staff-pins.toml", folder / "staff-pins.toml")
    text = (EXAMPLES / "bank-branch.toml").read_text(encoding="utf-8")
    text = text.replace('id = "pudong"', 'id = "minhang"', 1).replace("浦东支行", "闵行支行")
    text = text.replace("Pudong Branch", "Minhang Branch")
    (folder / "branch.toml").write_text(text, encoding="utf-8")
    config = load_config(folder / "branch.toml")
    with BranchServer(config, EventLog(folder / "events.sqlite"), broker, clock=clock) as srv:
        assert srv.wait_serving(10)
        yield config


@pytest.fixture
def accounts_file(tmp_path):
    path = tmp_path / "users.json"
    rows = [("hq", "head_office", ()), ("anna", "manager", ("pudong",)),
            ("sam", "supervisor", ("minhang",)), ("sue", "supervisor", ("pudong",))]  # fmt: skip
    write_accounts(path, {n: Account(n, r, b, hash_password(PASSWORD, **FAST)) for n, r, b in rows})
    return path


def make_console(configs, broker, accounts: Path, folder: Path, clock=time.time,
                 client_id: str = "web-1", **options) -> Console:  # fmt: skip
    """The console of a web role (MQTT client `client_id`) following the branches `configs`
    over `broker`: its accounts from the file `accounts`, its audit log folder/audit.log on
    `clock`; `options` as Console takes them (logs=, limits=)."""
    feeds = Feeds(list(configs), broker, client_id)
    audit = AuditLog(folder / "audit.log", clock)
    return Console(feeds, Accounts(accounts), audit, clock=clock, **options)


@contextlib.contextmanager
def serving_console(console: Console, clock):
    """The web role with `console` on, in uvicorn on a thread, once every branch's state is
    in: its ConsoleRole; stopped on leaving."""
    feeds = console.feeds
    port = free_port()
    app = make_app(feeds, clock=clock, console=console)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, access_log=False,
                            log_level="warning", lifespan="on")  # fmt: skip
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, name="uvicorn", daemon=True)
    thread.start()
    try:
        for feed in feeds.branches.values():
            feed.client.wait_state(timeout=10)
        deadline = time.monotonic() + 10  # listening: uvicorn binds after the lifespan
        while not uv.started and time.monotonic() < deadline:
            threading.Event().wait(0.01)
        yield ConsoleRole(f"http://127.0.0.1:{port}", feeds, console, console.audit)
    finally:
        uv.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def console(broker, example_config, server, second_branch, clock, accounts_file, tmp_path):
    configs = [example_config, second_branch]
    with serving_console(make_console(configs, broker, accounts_file, tmp_path, clock),
                         clock) as role:  # fmt: skip
        yield role
