"""The live page's emergency plan made visible: the server unreachable and a kiosk with
tickets issued offline, in both languages (the view the page is built from)."""

from __future__ import annotations

from nowserving.protocol.views import DeviceStatus
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
