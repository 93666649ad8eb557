"""The staff panel, offscreen with pytest-qt, against the real server and Mosquitto."""

from __future__ import annotations

import pytest
from gpiozero.pins.mock import MockFactory
from PySide6.QtCore import QMetaObject
from PySide6.QtQuick import QQuickItem

from nowserving.counter.launcher import build
from nowserving.counter.panel import PanelController
from nowserving.launch import Hardware
from tests.counter.test_buttons import device_config


@pytest.fixture
def panel(qtbot, server, broker, example_config):
    config = device_config("counter-1", broker.port, buttons={})
    with build(
        example_config, config, hardware=Hardware(pin_factory=MockFactory()), panel_size=(1280, 800)
    ) as app:
        app.view.show()
        controller = app.panel
        qtbot.waitUntil(lambda: controller.online and controller._state is not None, timeout=10_000)
        yield controller


def test_the_panel_calls_serves_and_finishes(qtbot, panel, connect):
    """GIVEN two customers WHEN staff use Next, Start, Done on the panel THEN the panel shows
    the called customer, then serving, then the line moves on."""
    kiosk = connect("kiosk-1")
    for _ in range(2):
        kiosk.request("issue_ticket", {"service": "cash"})
    qtbot.waitUntil(lambda: len(panel.waiting) == 2, timeout=10_000)
    panel.press("next")
    qtbot.waitUntil(lambda: panel.ticket.get("number") == "A001", timeout=10_000)
    assert panel.ticket["status"] == "called"
    qtbot.waitUntil(lambda: [w["number"] for w in panel.waiting] == ["A002"], timeout=10_000)
    panel.press("start")
    qtbot.waitUntil(lambda: panel.ticket.get("status") == "serving", timeout=10_000)
    panel.press("done")
    qtbot.waitUntil(lambda: panel.ticket == {}, timeout=10_000)


def test_call_a_given_ticket_transfer_and_post_a_notice(qtbot, panel, connect, server):
    """GIVEN A001 and A002 waiting WHEN staff call A002 with a reason, transfer it, and post
    a notice THEN the server records each, and the panel shows the result."""
    kiosk = connect("kiosk-1")
    for _ in range(2):
        kiosk.request("issue_ticket", {"service": "cash"})
    qtbot.waitUntil(lambda: len(panel.waiting) == 2, timeout=10_000)
    second = panel.waiting[1]["id"]
    panel.callTicket(second, "priority")
    qtbot.waitUntil(lambda: panel.ticket.get("number") == "A002", timeout=10_000)
    assert server.branch.tickets[second].out_of_order == "priority"  # a code, not words
    panel.transfer("accounts")
    qtbot.waitUntil(lambda: panel.ticket == {}, timeout=10_000)
    assert server.branch.tickets[second].service == "accounts"
    panel.postNotice("系统升级，请稍候 / Short delay")
    qtbot.waitUntil(lambda: bool(panel._state and panel._state.notices), timeout=10_000)
    assert panel._state.notices[0].text == "系统升级，请稍候 / Short delay"


def test_a_refusal_is_shown_in_the_panels_language(qtbot, panel):
    assert panel.actions["next"] == {"active": False, "reason": "本窗口暂无等候客户"}
    panel.press("next")  # nobody waits: the button said so, and the server says so too
    qtbot.waitUntil(lambda: panel.message != "", timeout=10_000)
    assert panel.message == "本窗口暂无等候客户"


def test_no_show_is_off_until_enough_recalls_and_says_why(qtbot, panel, connect, clock):
    """GIVEN a called customer (no-show after 2 recalls, recall after 20 s) THEN no-show is
    off saying "已重呼 0/2 次" and recall says when; WHEN pressed anyway THEN the server's
    refusal is said in Chinese with its numbers; after a recall the count moves."""
    connect("kiosk-1").request("issue_ticket", {"service": "cash"})
    qtbot.waitUntil(lambda: len(panel.waiting) == 1, timeout=10_000)
    panel.press("next")
    qtbot.waitUntil(lambda: panel.ticket.get("status") == "called", timeout=10_000)
    assert panel.actions["no_show"] == {"active": False, "reason": "已重呼 0/2 次"}
    assert panel.actions["recall"]["reason"].endswith("秒后可重呼")
    panel.press("no_show")
    qtbot.waitUntil(lambda: panel.message != "", timeout=10_000)
    assert panel.message == "请先再重呼 A001 2 次（已重呼 0/2 次）"
    clock.advance(25)
    panel.press("recall")
    qtbot.waitUntil(lambda: panel.ticket.get("recalls") == 1, timeout=10_000)
    assert panel.actions["no_show"]["reason"] == "已重呼 1/2 次"


def test_pause_with_a_reason_and_open_again(qtbot, panel, server):
    """GIVEN an open counter WHEN staff pause it for lunch on the panel THEN it is paused
    with that reason; WHEN they press the same button again THEN it is open."""
    panel.pause("lunch")
    qtbot.waitUntil(lambda: panel.status == "paused", timeout=10_000)
    assert server.branch.counters["c1"].reason == "lunch"  # a code: put into words where shown
    panel.press("pause")
    qtbot.waitUntil(lambda: panel.status == "open", timeout=10_000)


@pytest.fixture
def make_panel(qtbot, server, broker, example_config):
    """A staff panel for any counter device of the example branch, watching its lines."""
    made = []

    def make(device: str) -> PanelController:
        config = device_config(device, broker.port, buttons={})
        app = build(example_config, config, hardware=Hardware(pin_factory=MockFactory()),
                    panel_size=(1280, 800))  # fmt: skip
        made.append(app)
        controller = app.panel
        qtbot.waitUntil(lambda: controller.online and controller._state is not None, timeout=10_000)
        return controller

    yield make
    for app in made:
        app.close()


def test_the_waiting_list_is_in_the_counters_call_order(qtbot, make_panel, connect, clock):
    """GIVEN an accounts customer, then loans, wealth, a priority accounts customer (boost
    15 min) and a cash customer WHEN room 6 (in_order: wealth, loans, accounts) and counter 2
    (longest_wait: cash, accounts) list who waits THEN each lists them as it would call
    them: room 6 by its services' order, counter 2 by effective wait across both lines."""
    kiosk = connect("kiosk-1")
    numbers = {}
    for name, service, priority in (
        ("accounts", "accounts", "normal"),
        ("loans", "loans", "normal"),
        ("wealth", "wealth", "normal"),
        ("accounts_vip", "accounts", "priority"),
        ("cash", "cash", "normal"),
    ):
        reply = kiosk.request("issue_ticket", {"service": service, "priority": priority})
        numbers[name] = reply.ticket["number"]
        clock.advance(60)
    room6, counter2 = make_panel("counter-6"), make_panel("counter-2")
    expected6 = [numbers[n] for n in ("wealth", "loans", "accounts_vip", "accounts")]
    expected2 = [numbers[n] for n in ("accounts_vip", "accounts", "cash")]
    qtbot.waitUntil(lambda: [w["number"] for w in room6.waiting] == expected6, timeout=10_000)
    qtbot.waitUntil(lambda: [w["number"] for w in counter2.waiting] == expected2, timeout=10_000)


def find(view, name: str) -> QQuickItem | None:
    """The visible item called `name` (a Repeater's or ListView's too, which `findChild`
    does not reach)."""

    def walk(item: QQuickItem):
        if item.isVisible():
            yield item
            for child in item.childItems():
                yield from walk(child)

    return next((i for i in walk(view.rootObject()) if i.objectName() == name), None)


def click(qtbot, view, name: str) -> None:
    """Press the panel's button called `name`, as a touch would (its `clicked`), once it is
    shown and on (a list lays its rows out on the next frame)."""

    def ready() -> bool:
        item = find(view, name)
        return item is not None and bool(item.property("active"))

    qtbot.waitUntil(ready, timeout=5_000)
    QMetaObject.invokeMethod(find(view, name), "clicked")


@pytest.fixture
def panel_app(qtbot, server, broker, example_config):
    config = device_config("counter-1", broker.port, buttons={})
    with build(
        example_config, config, hardware=Hardware(pin_factory=MockFactory()), panel_size=(1280, 800)
    ) as app:
        app.view.show()
        qtbot.waitUntil(lambda: app.panel.online and app.panel._state is not None, timeout=10_000)
        yield app


def test_transfer_asks_to_confirm_says_where_and_can_be_undone(qtbot, panel_app, connect, server):
    """GIVEN A001 called at counter 1 (cash) WHEN staff open the transfer dialog, pick
    accounts and confirm THEN the server has A001 in the accounts line and the panel says
    where it went; WHEN they press undo THEN A001 is at counter 1 again, called as before."""
    panel, view = panel_app.panel, panel_app.view
    connect("kiosk-1").request("issue_ticket", {"service": "cash"})
    qtbot.waitUntil(lambda: len(panel.waiting) == 1, timeout=10_000)
    panel.press("next")
    qtbot.waitUntil(lambda: panel.ticket.get("status") == "called", timeout=10_000)
    ticket = server.branch.counters["c1"].ticket
    assert "cash" not in [t["id"] for t in panel.transferTargets]  # the counter's own
    click(qtbot, view, "act-transfer")
    assert view.rootObject().property("transferOpen")
    assert not find(view, "transfer-yes").property("active")
    click(qtbot, view, "transfer-to-accounts")
    question = find(view, "transfer-question")
    assert question.property("text") == "确认将 A001 转至「开户与账户服务」？"
    assert server.branch.tickets[ticket].service == "cash"  # nothing happens before confirming
    click(qtbot, view, "transfer-yes")
    qtbot.waitUntil(
        lambda: panel.undo.get("text") == "A001 已转至「开户与账户服务」", timeout=10_000
    )
    assert server.branch.tickets[ticket].service == "accounts"
    assert panel.undo["label"].startswith("撤销（")
    click(qtbot, view, "undo")
    qtbot.waitUntil(lambda: panel.ticket.get("number") == "A001", timeout=10_000)
    back = server.branch.tickets[ticket]
    assert (back.service, str(back.status), back.counter) == ("cash", "called", "c1")
    assert panel.message == "A001 已回到本窗口"
    kinds = [e.type for e in server.store.events(0)]
    assert kinds[-2:] == ["ticket_transferred", "transfer_undone"]
    rebuilt = server.store.load(server.config.rules, use_snapshots=False)  # as on a restart
    again = rebuilt.tickets[ticket]
    assert (again.service, str(again.status), rebuilt.counters["c1"].ticket) == (
        "cash", "called", ticket)  # fmt: skip


def test_a_kiosk_out_of_paper_is_an_alert(qtbot, panel, connect):
    """GIVEN the staff panel WHEN kiosk-1's retained status says its paper is out THEN the
    panel shows the alert; WHEN the kiosk goes offline THEN it says so instead."""
    # The status is given at construction: a status set afterwards could be overwritten by
    # the one the client publishes on connecting (read before it was set, sent after).
    kiosk = connect("kiosk-1", status=lambda: {"printer": "ok", "paper": "out"})
    kiosk.publish_status(online=True)
    qtbot.waitUntil(lambda: panel.alerts == ["kiosk-1：打印纸已用完"], timeout=10_000)
    panel.setLanguage("en")
    assert panel.alerts == ["kiosk-1: out of paper"]
    kiosk.publish_status(online=False)
    qtbot.waitUntil(lambda: panel.alerts == ["kiosk-1: offline"], timeout=10_000)


def test_a_notice_is_posted_for_a_chosen_time_shown_with_its_end_and_taken_down(
    qtbot, panel_app, server, clock
):
    """GIVEN the panel WHEN staff choose 60 min and post a notice THEN the server shows it
    until an hour on, the panel lists it with that end in branch time; WHEN they take it
    down THEN it is gone from the summary and the log has notice_taken_down."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    panel, view = panel_app.panel, panel_app.view
    root = view.rootObject()
    root.findChild(QQuickItem, "notice-text").setProperty("text", "系统升级，请稍候")
    click(qtbot, view, "notice-minutes-60")
    click(qtbot, view, "notice-post")
    qtbot.waitUntil(lambda: len(panel.notices) == 1, timeout=10_000)
    posted = server.branch.notices[0]
    assert posted["until"] == posted["at"] + 3600
    zone = ZoneInfo(server.config.rules.timezone)
    end = datetime.fromtimestamp(posted["until"], zone).strftime("%H:%M")
    assert panel.notices[0]["until"] == f"至 {end}"
    qtbot.waitUntil(
        lambda: find(view, f"notice-down-{posted['id']}") is not None,
        timeout=10_000,
    )
    click(qtbot, view, f"notice-down-{posted['id']}")
    qtbot.waitUntil(lambda: panel.notices == [], timeout=10_000)
    assert server.branch.notices == []


def test_a_catalogue_notice_is_posted_in_every_language(qtbot, panel_app, server):
    """GIVEN the panel in Chinese WHEN staff touch "系统较慢" and post THEN the notice reaches
    the server in Chinese and in English (the lobby shows the one it shows), and the panel
    lists it in its own language."""
    from nowserving.i18n import catalog

    panel, view = panel_app.panel, panel_app.view
    click(qtbot, view, "notice-preset-slow")
    click(qtbot, view, "notice-post")
    qtbot.waitUntil(lambda: len(panel.notices) == 1, timeout=10_000)
    posted = server.branch.notices[0]
    assert posted["texts"] == {
        "zh": catalog("zh")["notices"]["text_slow"],
        "en": catalog("en")["notices"]["text_slow"],
    }
    assert panel.notices[0]["text"] == catalog("zh")["notices"]["text_slow"]
    panel.setLanguage("en")
    assert panel.notices[0]["text"] == catalog("en")["notices"]["text_slow"]
