"""The staff panel holds at 1024x600 and 1280x800 with a 16-service branch of long Chinese
and English names: a customer at the counter, a line with priority and late customers,
notices, a kiosk alert, and the transfer dialog. A text cut short, spilling out of its box
or over another fails the test (tests/kiosk/test_layout.py's check); rows of a scrolling
list are checked where the list shows them whole."""

from __future__ import annotations

import itertools
import os
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import Q_ARG, QCoreApplication, QEvent, QMetaObject, QRectF, QSize
from PySide6.QtQuick import QQuickItem

from nowserving.adapters.mqtt import Broker
from nowserving.client import BranchClient
from nowserving.client.qt import QtBranchBridge, quick_view
from nowserving.config import BranchConfig, load_config
from nowserving.config.device import parse_device_config
from nowserving.counter.app import CounterDevice
from nowserving.counter.launcher import QML
from nowserving.counter.panel import PanelController
from nowserving.domain import Branch, Command
from nowserving.protocol import encode, line_message, state_message
from nowserving.protocol.views import decode_line, decode_state, decode_status
from tests.kiosk.branches import branch
from tests.kiosk.test_layout import drawn, items, misfits, painted

MORNING = datetime(2026, 12, 7, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()
SIZES = [(1024, 600), (1280, 800)]
SHOTS = (
    Path(os.environ.get("PANEL_SCREENSHOTS", "")) if os.environ.get("PANEL_SCREENSHOTS") else None
)
_ids = itertools.count()


def clipper(item: QQuickItem) -> QQuickItem | None:
    parent = item.parentItem()
    while parent is not None and not parent.clip():
        parent = parent.parentItem()
    return parent


def problems(view, under: QQuickItem | None = None) -> list[str]:
    """What does not fit (see tests/kiosk/test_layout.py `problems`), among the texts under
    `under` (default: the whole panel); a row a scrolling list shows only in part is not
    checked (that is what scrolling is)."""
    found, texts = [], []
    root = view.rootObject()
    screen = QRectF(0, 0, root.width(), root.height())
    for item in items(under or root):
        if not (item.inherits("QQuickText") and item.property("text")):
            continue
        words, rect = item.property("text"), painted(item)
        box = clipper(item)
        if box is not None:
            frame = box.mapRectToScene(QRectF(0, 0, box.width(), box.height()))
            if not frame.adjusted(-1, -1, 1, 1).contains(rect):
                continue
        found += misfits(item, words, rect, screen, root)
        texts.append((words, rect))
    for i, (words, rect) in enumerate(texts):
        for other, other_rect in texts[i + 1 :]:
            if rect.adjusted(1, 1, -1, -1).intersects(other_rect.adjusted(1, 1, -1, -1)):
                found.append(f"on each other: {words!r} and {other!r}")
    return found


def with_desk(config: BranchConfig, folder: Path) -> BranchConfig:
    """The big branch with a counter device at c1 (`desk-1`)."""
    path = folder / "branch-16.toml"
    text = path.read_text(encoding="utf-8")
    text += '\n[[devices]]\nid = "desk-1"\nrole = "counter"\ncounter = "c1"\n'
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def busy_branch(config) -> Branch:
    """The morning so far: c1 serving a customer of its longest-named service, 18 waiting
    (some priority, some past the warning), 2 appointments, two notices posted."""
    core = Branch(config.rules)

    def do(kind: str, at: float, device: str = "kiosk-1", **args) -> None:
        core.handle(Command(f"x{next(_ids)}", kind, device, at, args))

    # Two appointments at s1, one of them priority too, checked in early.
    for hm, priority in (("09:20", "normal"), ("09:25", "priority")):
        booked = core.handle(Command(f"x{next(_ids)}", "book", "manager", MORNING, {
            "service": "s1", "time": f"2026-12-07 {hm}", "priority": priority}))[1]  # fmt: skip
        do("check_in", MORNING, code=booked["code"])
    served = config.rules.counters["c1"].services
    for i in range(18):
        service = served[i % len(served)]
        do("issue_ticket", MORNING + i * 60, service=service,
           priority="priority" if i % 5 == 2 else "normal")  # fmt: skip
    for _ in range(2):
        do("call_next", MORNING + 1500, "desk", counter="c1")
        do("finish", MORNING + 1800, "desk", counter="c1")
    do("call_next", MORNING + 2000, "desk", counter="c1")
    do("recall", MORNING + 2030, "desk", counter="c1")
    do("post_notice", MORNING + 2040, "desk", text="系统升级中，部分业务办理时间延长，请耐心等候",
       minutes="60", language="zh")  # fmt: skip
    do("post_notice", MORNING + 2050, "desk",
       text="Card services are slower today: the bank's card system is being upgraded",
       minutes="120", language="en")  # fmt: skip
    return core


@pytest.fixture
def panel_view(qtbot, tmp_path):
    """panel_view(size, language) -> (controller, view) of counter c1 of the 16-service
    branch, fed its state and lines as the server would send them (no broker needed)."""
    made = []

    def make(size: tuple[int, int], language: str):
        config = with_desk(branch(16, tmp_path, bookable=True), tmp_path)
        client = BranchClient(Broker("127.0.0.1", 9), "big", "desk-1")
        desk = parse_device_config(
            {"device": {"id": "desk-1", "role": "counter", "branch": "big"},
             "broker": {"host": "127.0.0.1", "port": 9}}
        )  # fmt: skip
        device = CounterDevice(config, desk, client)
        bridge = QtBranchBridge(client)
        now = MORNING + 2060
        controller = PanelController(config, device, bridge, lambda: now)
        core = busy_branch(config)
        controller._take_state(decode_state(encode(state_message(core, config.names, now))))
        for sid in config.rules.counters["c1"].services:
            controller._take_line(decode_line(encode(line_message(core, sid, now))))
        status = {"v": 2, "device": "kiosk-1", "online": True, "printer": "ok", "paper": "out"}
        controller._take_status(decode_status("kiosk-1", encode(status)))
        controller.setLanguage(language)
        view = quick_view(QML, "CounterPanel", {"panel": controller}, QSize(*size))
        view.show()
        qtbot.waitExposed(view)
        settled(view)
        made.append((controller, view))
        return controller, view

    yield make
    for controller, view in made:
        view.close()
        controller.close()


def settled(view) -> None:
    """Drawn, with the list rows a new model replaced really gone (their deletion is
    posted; until it runs they still stand where they were)."""
    drawn(view)
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
    drawn(view)


def shoot(view, name: str) -> None:
    if SHOTS is not None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        view.grabWindow().save(str(SHOTS / name))


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_panel_fits_a_big_branch(panel_view, size, language):
    controller, view = panel_view(size, language)
    root = view.rootObject()
    assert problems(view) == []
    shown = [i.property("text") for i in items(root) if i.inherits("QQuickText")]
    assert any(str(t).startswith("⚠") for t in shown)  # the kiosk out of paper
    assert controller.stats["late"] != ""  # some have waited past 20 min
    assert any(row["priorityName"] for row in controller.waiting)
    # Why they are before earlier walk-ins; the priority appointment's boost puts it first.
    why = [(r["appointment"], r["priorityName"] != "") for r in controller.waiting
           if r["appointment"]]  # fmt: skip
    assert why == [(("预约" if language == "zh" else "appointment") + f" {hm}", p)
                   for hm, p in (("09:25", True), ("09:20", False))]  # fmt: skip
    assert controller.actions["no_show"]["active"] is False  # 1 recall of 2
    shoot(view, f"panel-16-{language}-{size[0]}x{size[1]}.png")


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_transfer_dialog_lists_the_other_services_and_fits(panel_view, size, language):
    controller, view = panel_view(size, language)
    root = view.rootObject()
    root.setProperty("transferOpen", True)
    root.setProperty("transferTo", "s2")
    settled(view)
    dialog = root.findChild(QQuickItem, "transfer-dialog")
    assert dialog.isVisible()
    assert problems(view, dialog) == []
    targets = [t["id"] for t in controller.transferTargets]
    own = set(controller.config.rules.counters["c1"].services)
    assert len(targets) == 12 and not own & set(targets)
    shoot(view, f"panel-transfer-{language}-{size[0]}x{size[1]}.png")


@pytest.mark.parametrize("language", ["zh", "en"])
def test_an_appointment_row_says_so_and_fits(panel_view, language):
    """The list scrolled to the first appointment: its row says "预约 09:25" beside the
    priority class that also put it ahead."""
    controller, view = panel_view((1024, 600), language)
    root = view.rootObject()
    waiting = root.findChild(QQuickItem, "waiting")
    first = next(i for i, row in enumerate(controller.waiting) if row["appointment"])
    QMetaObject.invokeMethod(waiting, "positionViewAtIndex", Q_ARG(int, first), Q_ARG(int, 1))
    settled(view)
    badges = [i for i in items(root) if i.objectName() == "why-appointment"]
    assert badges and problems(view, waiting) == []
    shoot(view, f"panel-appointment-{language}-1024x600.png")
