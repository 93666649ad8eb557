"""Shared fixtures: a real Mosquitto on a free loopback port, the example branch, a server."""

from __future__ import annotations

import logging
import os
import re
import shutil
import threading
from datetime import UTC, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from nowserving.adapters.mqtt import Broker
from nowserving.adapters.store import EventLog
from nowserving.adapters.voice import generate, named_clips
from nowserving.client import BranchClient
from nowserving.config import EXAMPLE, load_config
from nowserving.devtools.broker import LocalMosquitto
from nowserving.domain import BranchRules, CounterSpec, Priority, Service
from nowserving.server.app import BranchServer

# Qt tests run offscreen everywhere (CI has no display; a developer's screen stays quiet).
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC).timestamp()
# 09:00 on the same day at the example branch (Asia/Shanghai).
BRANCH_MORNING = datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()


def small_rules(**overrides) -> BranchRules:
    """Two services, three counters with overlapping skills, a priority class; UTC."""
    services = {
        "a": Service("a", "A", {"zh": "甲", "en": "A"}),
        "b": Service("b", "B", {"zh": "乙", "en": "B"}, first_number=1, last_number=99, padding=2),
    }
    counters = {
        "c1": CounterSpec("c1", {"zh": "一", "en": "One"}, ("a",)),
        "c2": CounterSpec("c2", {"zh": "二", "en": "Two"}, ("a", "b")),
        "c3": CounterSpec("c3", {"zh": "三", "en": "Three"}, ("b",)),
    }
    priorities = {"normal": Priority("normal", 0.0), "priority": Priority("priority", 600.0)}
    fields = dict(
        branch_id="test",
        services=services,
        counters=counters,
        priorities=priorities,
        timezone="UTC",
        day_starts_at=time(4, 0),
    )
    fields.update(overrides)
    return BranchRules(**fields)


@pytest.fixture
def rules() -> BranchRules:
    return small_rules()


@pytest.fixture
def example_config():
    return load_config(EXAMPLE)


@pytest.fixture
def mosquitto(tmp_path):
    with LocalMosquitto(tmp_path / "broker") as broker:
        yield broker


@pytest.fixture
def broker(mosquitto) -> Broker:
    return Broker("127.0.0.1", mosquitto.port)


class ManualClock:
    """A clock the test moves by hand (thread-safe)."""

    def __init__(self, start: float = BRANCH_MORNING) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def server(example_config, broker, tmp_path, clock):
    """The real branch server on the example branch, connected to the test broker."""
    with BranchServer(
        example_config, EventLog(tmp_path / "events.sqlite"), broker, clock=clock
    ) as srv:
        assert srv.wait_serving(10)
        yield srv


@pytest.fixture
def connect(broker, example_config):
    """Connect devices of the example branch: connect("kiosk-1") -> a started BranchClient."""
    clients: list[BranchClient] = []

    def _connect(device: str, **kwargs) -> BranchClient:
        client = BranchClient(broker, example_config.rules.branch_id, device, **kwargs)
        client.start()
        clients.append(client)
        return client

    yield _connect
    for client in clients:
        client.close()


@pytest.fixture
def example_device(broker, tmp_path):
    """example_device("kiosk-1") -> the path of the example branch's device file, as shipped
    (its hardware included) but reaching the test broker."""

    def write(device: str) -> Path:
        text = (EXAMPLE.parent / f"{device}.toml").read_text(encoding="utf-8")
        text = re.sub(r"(?m)^port = 1883.*\n", "", text)  # the kiosk's says the default
        text = text.replace('host = "192.168.10.2"', f'host = "127.0.0.1"\nport = {broker.port}')
        path = tmp_path / f"{device}.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture(scope="session")
def clips(tmp_path_factory) -> Path:
    """The example branch's clip set (chime.wav, zh/ and en/: calls, the kiosk's audio
    guide, its counters, services and priority classes), made once per test session with
    the real espeak-ng."""
    folder = tmp_path_factory.getbasetemp() / "voice"
    if not (folder / "done").exists():
        if shutil.which("espeak-ng") is None:
            pytest.fail("espeak-ng is not installed: run scripts/setup.sh")
        for language in ("zh", "en"):
            generate(language, folder, named_clips(load_config(EXAMPLE)))
        (folder / "done").touch()
    return folder


@pytest.fixture(autouse=True)
def _fail_on_swallowed_thread_errors(monkeypatch):
    """A callback exception on paho's or another thread fails the test instead of vanishing."""
    errors: list[BaseException] = []
    original = threading.excepthook

    def hook(args):
        errors.append(args.exc_value)
        original(args)

    monkeypatch.setattr(threading, "excepthook", hook)
    yield
    assert not errors, f"exception in a background thread: {errors!r}"


class _LoggedExceptions(logging.Handler):
    """Keeps every record of ERROR or worse that carries an exception: what a guarded
    callback logs (`log.exception`) before it swallows what it raised."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.records.append(record)

    def text(self) -> str:
        formatter = logging.Formatter("%(threadName)s %(name)s: %(message)s")
        return "\n\n".join(formatter.format(record) for record in self.records)


@pytest.fixture(autouse=True)
def _fail_on_log_exception(request):
    """An exception logged by a `nowserving` logger fails the test, on whatever thread and
    also while the fixtures close, unless the test is marked `expect_log_exception` (it
    provokes the error on purpose). A guarded callback logs and goes on, so without this a
    bug in one would pass the suite. Like Home Assistant's `fail_on_log_exception`."""
    handler = _LoggedExceptions()
    logger = logging.getLogger("nowserving")
    logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)
    if handler.records and request.node.get_closest_marker("expect_log_exception") is None:
        pytest.fail(
            f"{len(handler.records)} exception(s) logged and swallowed (mark the test "
            f"expect_log_exception if it provokes them):\n{handler.text()}",
            pytrace=False,
        )


@pytest.fixture(autouse=True)
def _quiet_logs(caplog):
    caplog.set_level(logging.INFO, logger="nowserving")
