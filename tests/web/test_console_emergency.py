"""The live page's emergency plan made visible: the server unreachable and a kiosk with
tickets issued offline, in both languages (the view the page is built from)."""

from __future__ import annotations

from nowserving.protocol.views import DeviceStatus
from nowserving.web.console_page import board
from nowserving.web.console_view import live_view
from tests.conftest import T0


def test_the_server_down_and_what_a_kiosk_spooled_are_alerts_in_both_languages(
    example_config,
):
    """GIVEN the server unreachable and kiosk-1 saying 3 tickets issued offline wait for it
    WHEN the live view is built THEN its alerts say both, and the kiosk's row says how
    many, in zh and in en; none when nothing is spooled."""
    statuses = {"kiosk-1": DeviceStatus("kiosk-1", True, {"printer": "ok", "spooled": 3})}
    views = {
        language: live_view(example_config, None, {}, statuses, False, True, language, T0)
        for language in ("zh", "en")
    }
    assert views["en"]["alerts"][:1] == [
        "Server unreachable: kiosks issue tickets offline, counters cannot call"
    ]
    assert (
        "kiosk-1 issued 3 ticket(s) offline that the server has not yet taken: they join "
        "the line in order of issue when it answers again" in views["en"]["alerts"]
    )
    assert (
        "kiosk-1 离线发出的 3 张号票尚未交给服务器：服务器恢复后按取号时间依次排入队列"
        in (views["zh"]["alerts"])
    )
    kiosk = next(d for d in views["zh"]["devices"] if d["id"] == "kiosk-1")
    assert "离线发出 3 张号票，尚未交给服务器" in kiosk["notes"]
    statuses["kiosk-1"] = DeviceStatus("kiosk-1", True, {"printer": "ok", "spooled": 0})
    calm = live_view(example_config, None, {}, statuses, True, True, "en", T0)
    assert not [a for a in calm["alerts"] if "offline that the server" in a]


def test_alerts_most_severe_first_and_many_devices_offline_fold_into_one(example_config):
    """GIVEN the server unreachable, kiosk-2 out of paper, kiosk-1's paper low and the six
    counters and the lobby display never seen WHEN the live view is built THEN the alerts
    run server, paper out, offline (counters before the display), paper low; the seven
    offline devices are one alert naming three, all seven behind a disclosure on the page,
    in zh and en; three offline are three alerts."""
    statuses = {"kiosk-1": DeviceStatus("kiosk-1", True, {"paper": "low"}),
                "kiosk-2": DeviceStatus("kiosk-2", True, {"paper": "out"})}  # fmt: skip
    view = live_view(example_config, None, {}, statuses, False, True, "en", T0)
    offline = [f"counter-{n} is offline" for n in range(1, 7)] + ["lobby-1 is offline"]
    assert view["alerts"] == [
        "Server unreachable: kiosks issue tickets offline, counters cannot call",
        "kiosk-2: out of paper",
        *offline,
        "kiosk-1: paper running low",
    ]
    items = view["alert_items"]
    assert [(i["kind"], i["level"]) for i in items] == [
        ("server", "critical"), ("paper_out", "critical"), ("offline", "warning"),
        ("paper_low", "notice"),
    ]  # fmt: skip
    folded = items[2]
    assert folded["text"] == "7 devices offline: counter-1, counter-2, counter-3 and more"
    assert (folded["summary"], folded["more"]) == ("Show all 7 devices", offline)
    html = board(view, "word").split('<section id="alerts"')[1].split("</section>")[0]
    assert '<details id="alerts-offline"><summary>Show all 7 devices</summary>' in html
    assert html.count("<li") == 4 + len(offline)  # server, paper out, the fold, paper low
    zh = live_view(example_config, None, {}, statuses, False, True, "zh", T0)
    assert zh["alert_items"][2]["text"] == "7 台设备离线：counter-1、counter-2、counter-3 等"
    for n in range(1, 5):
        statuses[f"counter-{n}"] = DeviceStatus(f"counter-{n}", True, {})
    three = live_view(example_config, None, {}, statuses, True, True, "en", T0)["alert_items"]
    assert [i["text"] for i in three if i["kind"] == "offline"] == offline[-3:]
