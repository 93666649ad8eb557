"""A counter's buttons and lamps through gpiozero's MockFactory, pins driven from another
thread (as real callbacks come), against the real server and Mosquitto: one press is one
call, whatever the contact does; the lamps say what the counter is doing."""

from __future__ import annotations

import threading
import time

import pytest
from gpiozero.pins.mock import MockFactory

from nowserving.client import BranchClient
from nowserving.config.device import DeviceConfig, parse_device_config
from nowserving.counter.app import CounterDevice
from tests.kiosk.test_buttons import press
from tests.waiting import wait_until

BUTTONS = {"next": 5, "recall": 6, "start": 13, "done": 19, "no_show": 20, "pause": 21}
LAMPS = {"open": 17, "waiting": 27, "busy": 22, "error": 23}


def device_config(
    counter_device: str, port: int, buttons=BUTTONS, hold_s=0.2, leds=LAMPS
) -> DeviceConfig:
    return parse_device_config(
        {
            "device": {"id": counter_device, "role": "counter", "branch": "pudong"},
            "broker": {"host": "127.0.0.1", "port": port},
            "gpio": {"pin_factory": "mock", "buttons": buttons, "leds": leds,
                     "bounce_ms": 50, "hold_s": hold_s},
        }
    )  # fmt: skip


@pytest.fixture
def counter(server, broker, example_config):
    """counter-1 (counter c1, serving cash) with six buttons and four lamps."""
    made = []

    def make(device="counter-1", buttons=BUTTONS, leds=LAMPS):
        factory = MockFactory()
        client = BranchClient(broker, "pudong", device)
        config = device_config(device, broker.port, buttons, leds=leds)
        unit = CounterDevice(example_config, config, client, factory)
        client.start()
        client.wait_state()
        made.append((unit, client))
        return unit, factory, client

    yield make
    for unit, client in made:
        unit.close()
        client.close()


def wait_for(predicate, timeout: float = 10):
    """Wait on a condition of the counter (its lamps are set on paho's thread)."""
    return wait_until(predicate, timeout, "the counter to get there")


def issue(connect, n: int, service: str = "cash") -> list[str]:
    kiosk = connect("kiosk-1")
    return [kiosk.request("issue_ticket", {"service": service}).ticket["number"] for _ in range(n)]


def test_a_bounce_storm_calls_one_customer(counter, connect, server):
    """GIVEN two customers waiting WHEN 'next' bounces 20 times within 30 ms THEN one
    customer is called (nobody skipped), and the busy lamp blinks."""
    issue(connect, 2)
    unit, factory, _ = counter()
    press(factory, BUTTONS["next"], bounces=10, span_s=0.03)
    wait_for(lambda: server.branch.counters["c1"].ticket is not None)
    wait_for(lambda: unit._state and unit._state.counter("c1").ticket is not None)
    assert server.branch.counters["c1"].ticket.endswith("/A001")
    assert [t.number for t in server.branch.waiting_line("cash")] == ["A002"]
    # The lamps follow the state a moment later, on the same thread: wait for them.
    wait_for(lambda: unit.panel._modes.get("busy") == "blink")  # a customer is called


def test_a_double_tap_calls_once(counter, connect, server):
    issue(connect, 3)
    unit, factory, _ = counter()
    press(factory, BUTTONS["next"])
    press(factory, BUTTONS["next"])  # a second tap ~at once: the first is still on its way
    wait_for(lambda: server.branch.counters["c1"].ticket is not None)
    wait_for(lambda: unit._in_flight is None)
    assert len(server.branch.waiting_line("cash")) == 2  # exactly one called


def test_a_long_press_of_the_only_button_recalls(counter, connect, server, clock):
    """GIVEN a counter with only a 'next' button WHEN it is pressed, then held THEN the
    first calls, the second recalls."""
    issue(connect, 1)
    unit, factory, _ = counter(buttons={"next": 5})
    press(factory, 5)
    wait_for(lambda: server.branch.counters["c1"].ticket is not None and unit._in_flight is None)
    clock.advance(30)  # past the recall cool-down: the customer had time to walk up
    button = factory.pin(5)

    def hold() -> None:
        button.drive_low()
        time.sleep(0.4)  # the finger stays down past hold_s (0.2 s)
        button.drive_high()

    finger = threading.Thread(target=hold)
    finger.start()
    finger.join()
    ticket = server.branch.counters["c1"].ticket
    wait_for(lambda: server.branch.tickets[ticket].recalls == 1)
    wait_for(lambda: unit._in_flight is None)
    assert server.branch.tickets[ticket].recalls == 1  # and the release did not call again


def test_two_counters_pressing_together_get_different_customers(counter, connect, server):
    issue(connect, 2)
    unit1, factory1, _ = counter("counter-1")
    unit2, factory2, _ = counter("counter-2")
    fingers = [
        threading.Thread(target=press, args=(factory1, BUTTONS["next"])),
        threading.Thread(target=press, args=(factory2, BUTTONS["next"])),
    ]
    for f in fingers:
        f.start()
    for f in fingers:
        f.join()
    wait_for(lambda: server.branch.counters["c1"].ticket and server.branch.counters["c2"].ticket)
    assert server.branch.counters["c1"].ticket != server.branch.counters["c2"].ticket


def test_no_broker_lights_the_error_lamp_and_skips_nobody(counter, connect, server, mosquitto):
    """GIVEN the broker is down WHEN 'next' is pressed THEN the error lamp lights and nobody
    is called; WHEN it is back and 'next' is pressed again THEN the first in line is called
    (the press reuses the same command id)."""
    issue(connect, 2)
    unit, factory, client = counter()
    mosquitto.stop()
    wait_for(lambda: not client.connected)
    press(factory, BUTTONS["next"])
    wait_for(lambda: factory.pin(LAMPS["error"]).state, timeout=10)
    assert unit.error == "server unreachable"
    mosquitto.start()
    wait_for(lambda: client.connected and server.link.connected.is_set(), timeout=20)
    assert server.branch.counters["c1"].ticket is None  # nobody was called while away
    press(factory, BUTTONS["next"])
    wait_for(lambda: server.branch.counters["c1"].ticket is not None, timeout=20)
    assert server.branch.counters["c1"].ticket.endswith("/A001")
    wait_for(lambda: not factory.pin(LAMPS["error"]).state)


def test_next_with_nobody_waiting_is_routine(counter, server, caplog):
    """GIVEN nobody waiting WHEN 'next' is pressed THEN the error lamp says so, and the
    device's log has it as routine (INFO), not as a warning."""
    unit, factory, _ = counter()
    press(factory, BUTTONS["next"])
    wait_for(lambda: factory.pin(LAMPS["error"]).state)  # lit after the refusal is logged
    device = "nowserving.counter.app"  # the server logs the refusal too, in its own words
    said = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == device]
    assert said == [("INFO", "counter c1: next refused: nobody is waiting for counter c1")]


def test_lamps_follow_the_counter(counter, connect, server):
    """Open and idle: open lit; someone waits: waiting lit; called: busy blinks; serving:
    busy lit; paused: open blinks; done: busy dark."""
    unit, factory, client = counter()
    lamp = {name: factory.pin(pin) for name, pin in LAMPS.items()}
    wait_for(lambda: lamp["open"].state and not lamp["waiting"].state and not lamp["busy"].state)
    issue(connect, 1)
    wait_for(lambda: lamp["waiting"].state)
    press(factory, BUTTONS["next"])
    wait_for(lambda: unit._state.counter("c1").ticket is not None)
    wait_for(lambda: len(lamp["busy"].states) > 3)  # blinking
    press(factory, BUTTONS["start"])
    wait_for(lambda: unit._state.counter("c1").ticket.status == "serving")
    wait_for(lambda: unit.panel._modes.get("busy") == "on")  # the lamps follow the state
    lamp["busy"].clear_states()
    threading.Event().wait(0.6)  # long enough to see a blink, were there one
    assert lamp["busy"].state and len(lamp["busy"].states) == 1
    press(factory, BUTTONS["done"])
    wait_for(lambda: unit._state.counter("c1").ticket is None and not lamp["busy"].state)
    press(factory, BUTTONS["pause"])
    wait_for(lambda: unit._state.counter("c1").state == "paused")
    wait_for(lambda: len(lamp["open"].states) > 3)  # blinking while paused


def test_the_feedback_keypad_rates_the_customer_just_finished_once(counter, connect, server):
    """GIVEN a counter with a keypad WHEN a customer is finished THEN the feedback lamp
    lights and one press rates that customer; a second press, or a press before anyone was
    finished, is ignored."""
    keypad = {**BUTTONS, "satisfied": 7, "neutral": 8, "unsatisfied": 9}
    lamps = {**LAMPS, "feedback": 10}
    issue(connect, 1)
    unit, factory, client = counter(buttons=keypad, leds=lamps)
    assert unit.act("satisfied") is None  # nobody finished yet: ignored
    for button in ("next", "start", "done"):
        press(factory, keypad[button])
        wait_for(lambda: unit._in_flight is None)
    wait_for(lambda: factory.pin(lamps["feedback"]).state)
    ticket = unit._state and server.branch.counters["c1"].last_finished
    press(factory, keypad["unsatisfied"])
    press(factory, keypad["satisfied"])  # the same customer again: ignored
    wait_for(lambda: server.branch.tickets[ticket].rating == "unsatisfied")
    assert not factory.pin(lamps["feedback"]).state
    # The server's memory changes before its log is saved (the save comes before anything
    # is published, not before the memory): wait for the log too.
    rated = wait_for(lambda: [e for e in server.store.events() if e.type == "ticket_rated"])
    assert [e.data["rating"] for e in rated] == ["unsatisfied"]


def test_a_transfer_button_sends_the_customer_to_its_service(counter, connect, server):
    """GIVEN a counter with a `transfer_loans` button WHEN the customer at the counter is
    sent on THEN they wait in the loans line, and a press with nobody there lights the error
    lamp and changes nothing."""
    buttons = {**BUTTONS, "transfer_loans": 7}
    (number,) = issue(connect, 1)
    unit, factory, client = counter(buttons=buttons)
    press(factory, buttons["transfer_loans"])  # nobody at the counter yet: refused
    wait_for(lambda: factory.pin(LAMPS["error"]).state)
    press(factory, BUTTONS["next"])
    wait_for(lambda: unit._state.counter("c1").ticket is not None)
    threading.Event().wait(0.06)  # a finger, not a bounce: longer than bounce_ms apart
    press(factory, buttons["transfer_loans"])
    wait_for(lambda: unit._state.counter("c1").ticket is None)
    (ticket,) = [t for t in server.branch.tickets.values() if t.number == number]
    assert (ticket.service, ticket.status.value, ticket.transfers) == ("loans", "waiting", 1)
    assert not factory.pin(LAMPS["error"]).state
