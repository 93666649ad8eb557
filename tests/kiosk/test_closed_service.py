"""A service a manager closed for the day, at the kiosk: its button takes no tap and says
closed today and why, in the language on screen."""

from __future__ import annotations

from nowserving.domain import Branch, Command
from nowserving.protocol import encode, state_message
from nowserving.protocol.views import decode_state
from tests.conftest import ManualClock
from tests.kiosk.test_kiosk import a_kiosk, shanghai


def test_a_closed_service_says_closed_today_and_why(qtbot, example_config):
    """GIVEN loans closed for the day with a reason in zh and en WHEN the kiosk takes the
    summary THEN the loans button is not accepting (its QML takes no tap) and says why in
    each language; cash is as before."""
    at = shanghai(7, 10)
    controller = a_kiosk(example_config, ManualClock(at))
    branch = Branch(example_config.rules)
    args = {"service": "loans", "reason_zh": "专员外出", "reason_en": "Adviser out"}
    branch.handle(Command("m1", "close_service", "manager", at, args))
    state = state_message(branch, example_config.names, at + 1)
    controller._take_state(decode_state(encode(state)))
    controller.setLanguage("en")
    loans, cash = controller._service_row("loans"), controller._service_row("cash")
    assert (loans["accepting"], loans["note"]) == (False, "Closed for today: Adviser out")
    assert cash["accepting"] and cash["note"] == ""
    controller.setLanguage("zh")
    assert controller._service_row("loans")["note"] == "今日暂停办理：专员外出"
    controller.close()
