"""A service a manager closed for the day, on the lobby screen: its line says no more
tickets, and the ticker says why, in each language."""

from __future__ import annotations

from tests.display.test_display import (
    lobby,  # noqa: F401
    text_of,
)


def test_a_closed_service_is_in_the_ticker_with_why_in_each_language(qtbot, lobby, connect):  # noqa: F811
    """GIVEN the lobby screen WHEN the manager's staff PC closes loans for the day with a
    reason in zh and en THEN the loans line says no more tickets and the ticker says
    closed and why, in each language; reopened, it goes."""
    controller, view, _ = lobby()
    manager = connect("manager")
    reasons = {"reason_zh": "贷款专员外出", "reason_en": "the loans adviser is out"}
    assert manager.request("close_service", {"service": "loans", **reasons}).ok
    qtbot.waitUntil(lambda: len(controller.notices) == 1, timeout=5_000)
    assert controller.notices[0] == {
        "zh": "贷款与按揭今日暂停取号（贷款专员外出），已取号的客户仍会办理",
        "en": "Loans & mortgages: no new tickets today (the loans adviser is out); "
        "those waiting are still served",
    }
    loans = next(r for r in controller._services() if r["serviceId"] == "loans")
    assert loans["closed"] and loans["wait"]["en"] == "no more tickets today"
    assert "贷款专员外出" in text_of(view, "ticker") or "adviser" in text_of(view, "ticker")
    assert manager.request("reopen_service", {"service": "loans"}).ok
    qtbot.waitUntil(lambda: not controller.notices, timeout=5_000)
