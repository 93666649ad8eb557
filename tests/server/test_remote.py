"""Remote tickets through the real server and broker: only the web role joins or checks in
for a phone page, always with the page's token, and from a phone only with the hall code."""

from __future__ import annotations

from nowserving.domain.remote import hall_code, hall_window


def test_only_the_web_role_acts_for_a_remote_ticket_and_only_with_the_hall_code(
    server, connect, clock
):
    """GIVEN the web role and a kiosk WHEN the kiosk asks for a remote ticket THEN it is not
    allowed; the web role without a token neither. WHEN the web role checks a remote ticket in
    without the hall code THEN refused; with a stale one THEN `hall_code_expired`; with the
    current one THEN it is in the line, the result saying so."""
    web, kiosk = connect("web-1"), connect("kiosk-1")
    token = "remote-token-0123456789"
    assert kiosk.request("join_remote", {"service": "accounts", "token": token}).code == (
        "not_allowed"
    )
    assert not web.request("join_remote", {"service": "accounts"}).ok
    joined = web.request("join_remote", {"service": "accounts", "token": token})
    assert joined.ok and joined.result["ticket"]["number"] == "B001"
    ticket = joined.result["ticket"]["id"]
    asked = {"ticket": ticket, "token": token}
    assert web.request("check_in", asked).code == "not_allowed"
    rules = server.config.rules
    window = hall_window(rules, clock())
    stale = hall_code(server.hall.secret, rules.branch_id, window - 3)
    assert web.request("check_in", {**asked, "hall": stale}).code == "hall_code_expired"
    assert server.branch.tickets[ticket].status == "remote"
    now = hall_code(server.hall.secret, rules.branch_id, window)
    checked = web.request("check_in", {**asked, "hall": now})
    assert checked.ok and checked.result["remote"] is True
    assert [t.id for t in server.branch.waiting_line("accounts")] == [ticket]
