"""The device config: the examples are valid, bad files list every problem at once, and the
cross-check against the branch config catches a device the branch does not know."""

from __future__ import annotations

import dataclasses
from datetime import time
from pathlib import Path

import pytest

from nowserving.config import (
    EXAMPLE,
    EXAMPLES,
    AudioSettings,
    BrokerSettings,
    DeviceConfig,
    DisplaySettings,
    GpioSettings,
    PrinterSettings,
    check_device_against_branch,
    load_config,
    load_device_config,
)
from nowserving.config.hardware import parse_audio
from nowserving.config.schema import Problems, Table
from nowserving.errors import ConfigError
from nowserving.protocol import Role

DEVICE_EXAMPLES = ("kiosk-1", "counter-1", "lobby-1", "manager", "web-1")
DOCS = Path(__file__).parents[2] / "docs" / "config.md"
MINIMAL = '[device]\nid = "kiosk-1"\nrole = "kiosk"\nbranch = "pudong"\n'


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "device.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_device_config(write(tmp_path, text))
    return info.value.problems


def mismatches(device: DeviceConfig) -> list[str]:
    with pytest.raises(ConfigError) as info:
        check_device_against_branch(device, load_config(EXAMPLE))
    return info.value.problems


@pytest.mark.parametrize("name", DEVICE_EXAMPLES)
def test_example_device_files_load_and_match_the_example_branch(name):
    device = load_device_config(EXAMPLES / f"{name}.toml")
    assert device.id == name and device.branch == "pudong"
    check_device_against_branch(device, load_config(EXAMPLE))


def test_there_is_an_example_device_file_for_every_role():
    roles = {load_device_config(EXAMPLES / f"{n}.toml").role for n in DEVICE_EXAMPLES}
    assert roles == set(Role)


def test_examples_describe_the_hardware_of_their_role():
    kiosk = load_device_config(EXAMPLES / "kiosk-1.toml")
    assert kiosk.printer.kind == "usb"
    assert (kiosk.printer.vendor_id, kiosk.printer.product_id) == (0x0416, 0x5011)
    counter = load_device_config(EXAMPLES / "counter-1.toml")
    assert counter.gpio.buttons == {"next": 17, "recall": 27, "finish": 22, "no_show": 24}
    assert counter.gpio.leds == {"open": 5, "waiting": 6, "busy": 23, "error": 26}
    lobby = load_device_config(EXAMPLES / "lobby-1.toml")
    assert lobby.audio.quiet_hours == (time(22, 0), time(7, 0))
    assert lobby.display.languages == ("zh", "en")


def test_a_minimal_file_gets_the_documented_defaults(tmp_path):
    device = load_device_config(write(tmp_path, MINIMAL))
    assert device == DeviceConfig(
        "kiosk-1",
        Role.KIOSK,
        "pudong",
        BrokerSettings("127.0.0.1", 1883, "kiosk-1", None, None, "5"),
    )
    assert device.printer is device.gpio is device.audio is device.display is None


def test_a_malformed_file_lists_every_problem_with_its_location(tmp_path):
    """GIVEN a device file with a problem in every table WHEN it is loaded THEN one
    ConfigError lists them all, in file order, each with its location."""
    text = """
[device]
id = "Kiosk 1"
role = "kisok"
branch = "pudong"
colour = "red"

[broker]
port = 70000
mqtt_version = "4"

[printer]
kind = "usbb"
vendor_id = "0416"
paper_mm = 76

[gpio]
pin_factory = "lgpoi"
buttons = { next = 40, recall = "GPIO17" }
leds = { busy = 17, help = "BOARD11" }

[audio]
volume = 120
quiet_hours = "22:00-7:00"
repeat = 0

[display]
orientation = "portait"
languages = ["zh", "zh", 3]
"""
    assert problems_of(tmp_path, text) == [
        "device.colour: unknown key",
        "device.id: must be a short lower-case id like \"cash\", not 'Kiosk 1'",
        "device.role: unknown role 'kisok' (did you mean 'kiosk'?) "
        "(one of kiosk, counter, display, staff, web)",
        "broker.port: must be from 1 to 65535",
        "broker.mqtt_version: unknown MQTT version '4' (one of 5, 3.1.1)",
        "printer.kind: unknown kind 'usbb' (did you mean 'usb'?) "
        "(one of usb, serial, network, file, dummy)",
        "printer.paper_mm: must be 58 or 80, not 76",
        "printer.vendor_id: must be a number like 0x0416, or a string like \"0x0416\", not '0416'",
        "gpio.pin_factory: unknown pin factory 'lgpoi' (did you mean 'lgpio'?) "
        "(one of default, lgpio, mock)",
        "gpio.buttons.next: pin 40 is not a GPIO pin (GPIOs are 0-27)",
        "gpio.leds.busy: pin 17 is already used by gpio.buttons.recall",
        "gpio.leds.help: pin BOARD11 (GPIO17) is already used by gpio.buttons.recall",
        "audio.volume: must be from 0 to 100",
        "audio.quiet_hours: must be like \"22:00-07:00\", not '22:00-7:00'",
        "audio.repeat: must be from 1 to 5",
        "display.orientation: unknown orientation 'portait' (did you mean 'portrait'?) "
        "(one of landscape, portrait)",
        "display.languages[1]: 'zh' is listed twice",
        "display.languages[2]: must be a non-empty string, not 3",
    ]


def test_an_empty_audio_table_gets_the_documented_defaults(tmp_path):
    device = load_device_config(write(tmp_path, MINIMAL + "[audio]\n"))
    assert device.audio == AudioSettings(
        enabled=True,
        volume=80,
        device=None,
        quiet_hours=None,
        repeat=1,
        clips=None,
        other_language=True,
        max_delay_s=60.0,
    )


def test_audio_reads_the_announcement_keys(tmp_path):
    text = MINIMAL + (
        '[audio]\nclips = "/var/lib/nowserving/voice"\nother_language = false\n'
        "max_delay_s = 90\nrepeat = 5\n"
    )
    audio = load_device_config(write(tmp_path, text)).audio
    assert audio.clips == Path("/var/lib/nowserving/voice")
    assert (audio.other_language, audio.max_delay_s, audio.repeat) == (False, 90.0, 5)


def test_a_relative_clips_folder_is_read_from_the_base_folder(tmp_path):
    root = Table({"audio": {"clips": "voice"}}, "", Problems())
    assert parse_audio(root, base=tmp_path).clips == tmp_path / "voice"


def test_bad_announcement_keys_are_each_reported(tmp_path):
    text = MINIMAL + '[audio]\nclips = ""\nother_language = "yes"\nmax_delay_s = 0\nrepeat = 6\n'
    assert problems_of(tmp_path, text) == [
        "audio.repeat: must be from 1 to 5",
        "audio.clips: must be a folder, not an empty string",
        "audio.other_language: must be true or false, not 'yes'",
        "audio.max_delay_s: must be more than 0 and at most 3600",
    ]


def test_the_device_table_is_required_and_unknown_tables_are_named(tmp_path):
    assert problems_of(tmp_path, "[printers]\nkind = 'usb'\n") == [
        "printers: unknown key (did you mean 'printer'?)",
        "device: is required",
        "device.id: is required",
        "device.role: is required",
        "device.branch: is required",
    ]


def test_a_printer_needs_the_keys_of_its_kind_and_no_others(tmp_path):
    problems = problems_of(
        tmp_path, MINIMAL + '[printer]\nkind = "network"\nbaudrate = 9600\nport = 0\n'
    )
    assert problems == [
        'printer.baudrate: is for a "serial" printer, not a "network" one',
        "printer.port: must be from 1 to 65535",
        'printer.host: is required for a "network" printer',
    ]


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ('kind = "usb"\nvendor_id = "0x0416"\nproduct_id = 0x5011', ("usb", 0x0416, 0x5011)),
        ('kind = "serial"\ndevice = "/dev/ttyUSB0"', ("serial", "/dev/ttyUSB0", 9600)),
        ('kind = "network"\nhost = "10.0.0.9"', ("network", "10.0.0.9", 9100)),
        ('kind = "file"\npath = "/dev/usb/lp0"\npaper_mm = 58', ("file", "/dev/usb/lp0", 58)),
    ],
)
def test_each_printer_kind_reads_its_own_keys(tmp_path, lines, expected):
    p = load_device_config(write(tmp_path, MINIMAL + f"[printer]\n{lines}\n")).printer
    got = {
        "usb": (p.kind, p.vendor_id, p.product_id),
        "serial": (p.kind, p.device, p.baudrate),
        "network": (p.kind, p.host, p.port),
        "file": (p.kind, p.path, p.paper_mm),
    }[p.kind]
    assert got == expected
    assert p.timeout_s == 5.0


def test_pins_may_be_numbers_or_names_and_are_kept_as_bcm_numbers(tmp_path):
    text = MINIMAL + '[gpio]\nbuttons = { a = 4, b = "GPIO5", c = "bcm6", d = "BOARD11" }\n'
    assert load_device_config(write(tmp_path, text)).gpio.buttons == {
        "a": 4,
        "b": 5,
        "c": 6,
        "d": 17,
    }
    problems = problems_of(tmp_path, MINIMAL + '[gpio]\nleds = { a = "BOARD2", b = "P1" }\n')
    assert problems == [
        "gpio.leds.a: pin BOARD2 is not a GPIO pin (power or ground)",
        'gpio.leds.b: must be a pin like 17, "GPIO17" or "BOARD11", not \'P1\'',
    ]


def test_the_password_file_must_exist_relative_to_the_device_file(tmp_path):
    text = MINIMAL + '[broker]\npassword_file = "kiosk-1.password"\n'
    assert problems_of(tmp_path, text) == [
        f"broker.password_file: no such file: '{tmp_path / 'kiosk-1.password'}' "
        "(relative to the device file's folder)"
    ]
    (tmp_path / "kiosk-1.password").write_text("s3cret\n", encoding="utf-8")
    broker = load_device_config(write(tmp_path, text)).broker
    assert broker.password_file == tmp_path / "kiosk-1.password"
    assert broker.read_password() == "s3cret"
    assert "s3cret" not in repr(broker)


def test_an_empty_password_file_is_a_problem(tmp_path):
    (tmp_path / "empty").write_text("", encoding="utf-8")
    problems = problems_of(tmp_path, MINIMAL + '[broker]\npassword_file = "empty"\n')
    assert problems == [f"broker.password_file: '{tmp_path / 'empty'}' is empty"]


def test_tls_makes_the_default_port_8883(tmp_path):
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    broker = load_device_config(
        write(tmp_path, MINIMAL + '[broker]\nhost = "broker.lan"\ntls_ca = "ca.pem"\n')
    ).broker
    assert (broker.host, broker.port, broker.tls_ca) == ("broker.lan", 8883, tmp_path / "ca.pem")


def test_an_unreadable_or_broken_file_is_one_problem(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_device_config(tmp_path / "missing.toml")
    problems = problems_of(tmp_path, "[device\n")
    assert len(problems) == 1 and problems[0].startswith("not valid TOML")


def test_cross_check_catches_a_device_the_branch_does_not_know(tmp_path):
    device = load_device_config(write(tmp_path, MINIMAL.replace("kiosk-1", "kiosk1")))
    assert mismatches(device) == [
        "device.id: 'kiosk1' is not a device of branch 'pudong' (did you mean 'kiosk-1'?)"
    ]


def test_cross_check_catches_a_role_and_branch_mismatch(tmp_path):
    text = MINIMAL.replace('"kiosk"', '"counter"').replace('"pudong"', '"puxi"')
    assert mismatches(load_device_config(write(tmp_path, text))) == [
        "device.branch: 'puxi', but the branch config is for 'pudong'",
        "device.role: 'counter', but branch 'pudong' lists 'kiosk-1' as 'kiosk'",
    ]


def test_cross_check_catches_what_a_display_would_show_but_the_branch_lacks():
    lobby = load_device_config(EXAMPLES / "lobby-1.toml")
    device = DeviceConfig(
        lobby.id,
        lobby.role,
        lobby.branch,
        lobby.broker,
        display=DisplaySettings("portrait", ("zh", "fr"), ("cash", "loan"), ("c1", "c9")),
    )
    assert mismatches(device) == [
        "display.languages[1]: unknown language 'fr'",
        "display.services[1]: unknown service 'loan' (did you mean 'loans'?)",
        "display.counters[1]: unknown counter 'c9'",
    ]


def test_cross_check_catches_counter_buttons_nobody_knows():
    counter = load_device_config(EXAMPLES / "counter-1.toml")
    buttons = {"next": 17, "nxt": 18, "transfer_loans": 19, "transfer_loan": 20}
    device = dataclasses.replace(counter, gpio=GpioSettings(buttons=buttons))
    assert mismatches(device) == [
        "gpio.buttons.nxt: a counter has no button 'nxt' (it knows next, recall, start, "
        "done, finish, no_show, pause, satisfied, neutral, unsatisfied, and "
        "transfer_<service>) (did you mean 'next'?)",
        "gpio.buttons.transfer_loan: no service 'loan' to transfer to (did you mean 'loans'?)",
    ]


def test_cross_check_catches_kiosk_buttons_nobody_knows():
    """A kiosk's buttons are services' and its own (priority and the audio guide's); a
    service called like one of those is a clash, not a silent choice."""
    kiosk = load_device_config(EXAMPLES / "kiosk-1.toml")
    buttons = {"cash": 5, "cahs": 6, "priority": 13, "next": 19, "select": 20, "guide": 21}
    leds = {"cash": 22, "next": 23}
    device = dataclasses.replace(kiosk, gpio=GpioSettings(buttons=buttons, leds=leds))
    assert mismatches(device) == [
        "gpio.buttons.cahs: no service 'cahs' (a kiosk's buttons are services' ids, and "
        "priority, guide, next, select, back) (did you mean 'cash'?)",
        "gpio.leds.next: no service 'next' (a kiosk's leds are services' ids, and priority)",
    ]
    device = dataclasses.replace(kiosk, gpio=GpioSettings(buttons={"next": 19}))
    config = load_config(EXAMPLE)
    services = dict(config.rules.services)
    services["next"] = services["cash"]
    clash = dataclasses.replace(config, rules=dataclasses.replace(config.rules, services=services))
    with pytest.raises(ConfigError) as err:
        check_device_against_branch(device, clash)
    assert err.value.problems == [
        "gpio.buttons.next: 'next' is both a service and the kiosk's next: rename the service"
    ]


@pytest.mark.parametrize(
    "settings",
    [BrokerSettings, PrinterSettings, GpioSettings, AudioSettings, DisplaySettings],
)
def test_docs_describe_every_key_of_every_table(settings):
    # Each settings field is read from the TOML key of the same name.
    text = DOCS.read_text(encoding="utf-8")
    for f in dataclasses.fields(settings):
        assert f"| `{f.name}`" in text or f", `{f.name}`" in text, f.name


def test_a_counter_display_names_a_counter_the_branch_has(tmp_path):
    """GIVEN `[display] counter` WHEN the branch has no such counter THEN the check says
    so, with the closest one as a hint; a known one passes."""
    text = (EXAMPLES / "lobby-1.toml").read_text(encoding="utf-8")
    device = load_device_config(
        write(tmp_path, text.replace("[display]\n", '[display]\ncounter = "c3"\n'))
    )
    assert device.display.counter == "c3"
    check_device_against_branch(device, load_config(EXAMPLE))
    unknown = dataclasses.replace(device, display=DisplaySettings(counter="c33"))
    assert mismatches(unknown) == ["display.counter: unknown counter 'c33' (did you mean 'c3'?)"]
    assert problems_of(tmp_path, text.replace("[display]\n", "[display]\ncounter = 3\n")) == [
        "display.counter: must be a string, not 3"
    ]
