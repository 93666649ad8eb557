"""The panel's sign-in screen, offscreen with pytest-qt, against the real server and
Mosquitto: typed on its keypad, refused in the panel's language, locked, signed out."""

from __future__ import annotations

import pytest
from gpiozero.pins.mock import MockFactory

from nowserving.counter.launcher import build
from nowserving.launch import Hardware
from tests.counter.test_buttons import device_config
from tests.kiosk.test_kiosk import press
from tests.server.test_signin import PIN, branch_config, start  # noqa: F401  (fixtures)


def shot(view, tmp_path, name: str) -> None:
    """The screen as drawn, for looking at (docs/screenshots has copies)."""
    assert view.grabWindow().save(str(tmp_path / f"{name}.png"))


@pytest.fixture
def app(qtbot, start, broker, branch_config):  # noqa: F811
    """Counter c5's panel (no default staff), its server started with known PIN hashes."""
    start()
    config = device_config("counter-5", broker.port, buttons={})
    with build(branch_config, config, hardware=Hardware(pin_factory=MockFactory()),
               panel_size=(1024, 640)) as app:  # fmt: skip
        app.view.show()
        qtbot.waitUntil(lambda: app.panel.online and app.panel._state is not None, timeout=10_000)
        yield app


def type_in(view, digits: str) -> None:
    for digit in digits:
        press(view, f"key_{digit}")


def test_signing_in_on_the_keypad(qtbot, app, tmp_path):
    """GIVEN c5 with nobody signed in THEN the panel shows the sign-in screen; WHEN a wrong
    PIN is typed THEN it says so in the panel's language; WHEN 1005 types the right PIN
    THEN the screen goes and the header says who is signed in; sign-out brings it back."""
    sign_in, view = app.panel.signIn, app.view
    assert sign_in.shown and sign_in.needed
    app.panel.setLanguage("zh")
    type_in(view, "1005" + "0000")  # four digits of staff number move on to the PIN
    press(view, "signInButton")
    qtbot.waitUntil(lambda: sign_in.error == "工号或密码错误", timeout=10_000)
    press(view, "key_1")  # the next PIN's first digit, drawn as a dot
    shot(view, tmp_path, "counter-signin-zh")
    app.panel.setLanguage("en")
    assert sign_in.error == "Wrong staff number or PIN"
    shot(view, tmp_path, "counter-signin-en")
    press(view, "key_clear")
    press(view, "field_pin")
    type_in(view, PIN)
    press(view, "signInButton")
    qtbot.waitUntil(lambda: not sign_in.shown, timeout=10_000)
    assert sign_in.label == "Signed in: Chen Jing (1005)" and sign_in.signedIn
    shot(view, tmp_path, "counter-signed-in-en")
    press(view, "staffButton")  # sign out
    qtbot.waitUntil(lambda: sign_in.shown, timeout=10_000)


def test_a_locked_staff_number_is_shown_counting_down(qtbot, app):
    """WHEN five wrong PINs are sent THEN the screen says the number is locked for 60 s."""
    sign_in = app.panel.signIn
    app.panel.setLanguage("en")
    for _ in range(5):
        sign_in.signIn("1005", "1111")
        qtbot.waitUntil(lambda: not sign_in.busy, timeout=10_000)
    assert "try again in" in sign_in.error and sign_in.error.endswith(" s")
    app.panel.setLanguage("zh")
    assert "秒后再试" in sign_in.error
