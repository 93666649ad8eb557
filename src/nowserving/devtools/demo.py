"""`nowserving demo`: a whole branch on one machine.

A private Mosquitto, the real branch server with its durable log, and simulated devices
that speak the real wire contract: a kiosk issuing tickets as customers arrive, and every
counter calling, serving and sometimes marking no-shows. The branch's clock starts at
09:00 and runs `speed` times faster than real time. Calls are printed as they happen.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import random
import statistics
import sys
import threading
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from nowserving.adapters.mqtt import Broker
from nowserving.adapters.store import EventLog
from nowserving.client import BranchClient
from nowserving.config import EXAMPLE, BranchConfig, load_config
from nowserving.config.hardware import AudioSettings
from nowserving.devtools.broker import LocalMosquitto
from nowserving.protocol.views import BranchState, EventView, wait_minutes
from nowserving.protocol.vocabulary import Cmd
from nowserving.server.app import BranchServer

log = logging.getLogger(__name__)

ARRIVALS_PER_HOUR = 70  # customers across all services, in simulated time
SHARE = {"cash": 0.45, "accounts": 0.25, "loans": 0.08, "wealth": 0.1, "business": 0.12}
MEAN_SERVICE_MIN = {"cash": 4, "accounts": 9, "loans": 20, "wealth": 15, "business": 8}
NO_SHOW = 0.05
PRIORITY = 0.1
PANELS = 2  # counters whose staff panel the demo opens


class SimClock:
    """Branch time: stands at `start` (epoch seconds) until `begin`, then runs `speed` times
    real time (the doors open at 09:00 however long the devices took to come up)."""

    def __init__(self, start: float, speed: float) -> None:
        self.start, self.speed = start, speed
        self._t0: float | None = None

    def begin(self) -> None:
        """Start the branch clock now."""
        if self._t0 is None:
            self._t0 = time.monotonic()

    def __call__(self) -> float:
        """The branch's time now (Unix seconds)."""
        t0 = self._t0
        return self.start if t0 is None else self.start + (time.monotonic() - t0) * self.speed

    def real(self, simulated_s: float) -> float:
        """How many real seconds `simulated_s` branch seconds take."""
        return simulated_s / self.speed


def _morning(config: BranchConfig) -> float:
    tz = ZoneInfo(config.rules.timezone)
    today = datetime.now(tz).replace(hour=9, minute=0, second=0, microsecond=0)
    return today.timestamp()


def run_demo(config_path: Path | None, minutes: float, speed: float, out: Path, seed: int) -> int:
    """Run the demo branch for `minutes` of branch time at `speed`; returns the exit status."""
    config = load_config(config_path or EXAMPLE)
    db = _fresh_output(out)
    kiosk_demo = _real_kiosk()
    if kiosk_demo is not None:
        from nowserving.devtools.demo_kiosk import make_voice

        make_voice(config, out)  # before the clock starts: it takes a few seconds
    clock = SimClock(_morning(config), speed)
    rng = random.Random(seed)
    stop = threading.Event()
    lines: queue.Queue[dict] = queue.Queue()

    with LocalMosquitto(out / "broker") as mosquitto:
        broker = Broker("127.0.0.1", mosquitto.port)
        print(
            f"nowserving demo: branch {config.names.get('en', config.rules.branch_id)} / "
            f"{config.names.get('zh', '')}, broker 127.0.0.1:{mosquitto.port}, "
            f"{speed:g}x speed, {minutes:g} simulated minutes\n"
        )
        with (
            BranchServer(config, EventLog(db), broker, clock=clock) as server,
            BranchClient(broker, config.rules.branch_id, "manager", on_event=lines.put) as watcher,
        ):
            watcher.wait_state()
            counters = [d.id for d in config.devices.values() if d.role == "counter"]
            panels = counters[:PANELS] if kiosk_demo is not None else []
            # No Qt installed (a server-only install): the kiosk is simulated too.
            workers = _simulated(broker, config, clock, rng, stop, panels, kiosk_demo is None)
            for w in workers:
                w.start()
            written: list[str] = []
            voiced: Counter[str] = Counter()  # what the lobby's announcer did with each call
            if kiosk_demo is not None:

                def staff(counters: dict) -> None:  # the panels' counters, pressed by people
                    for counter in counters.values():
                        args = (counter, config, clock, random.Random(rng.random()), stop)
                        workers.append(_thread(_panel_staff, *args))
                        workers[-1].start()

                written, voiced = kiosk_demo(
                    config, broker, clock, random.Random(rng.random()),
                    lambda r: _arrival(config, r), minutes, out, lines,
                    lambda event: _show(event, config, clock), panels, staff,
                )  # fmt: skip
            else:
                _watch(lines, config, clock, minutes)
            stop.set()
            for w in workers:
                w.join(timeout=10)
            state = watcher.state
        _summary(config, server.store.path, state, out, written, voiced, speed)
    return 0


def _fresh_output(out: Path) -> Path:
    """Make `out` ready: no event log of an earlier run, and a new demo.log that has the
    whole log while the terminal shows the calls and warnings; returns the event log's path."""
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("events.sqlite*"):
        stale.unlink()
    handler = logging.FileHandler(out / "demo.log", mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    for h in root.handlers:
        if h is not handler:
            h.setLevel(logging.WARNING)  # the terminal shows the calls; the file has the rest
    return out / "events.sqlite"


def _thread(target, *args) -> threading.Thread:
    return threading.Thread(target=target, args=args, daemon=True)


def _simulated(broker, config, clock, rng, stop, panels, kiosk: bool) -> list[threading.Thread]:
    """The simulated devices' threads, not started: the kiosk (when the real one cannot
    run) and every counter without a staff panel."""
    workers = [_thread(_kiosk, broker, config, clock, rng, stop)] if kiosk else []
    for device in config.devices.values():
        if device.role == "counter" and device.id not in panels:
            counter_rng = random.Random(rng.random())
            workers.append(_thread(_counter, broker, config, device.id, clock, counter_rng, stop))
    return workers


def _watch(lines: queue.Queue, config: BranchConfig, clock: SimClock, minutes: float) -> None:
    """Without the real kiosk: open the doors, and print the calls for `minutes`."""
    clock.begin()
    end = time.monotonic() + clock.real(minutes * 60)
    while time.monotonic() < end:
        with contextlib.suppress(queue.Empty):
            _show(lines.get(timeout=0.2), config, clock)


def _real_kiosk():
    """The real kiosk for the demo, or None when Qt is not installed."""
    try:
        from nowserving.devtools.demo_kiosk import run_kiosk_demo
    except ImportError:
        return None
    return run_kiosk_demo


def _arrival(config: BranchConfig, rng: random.Random) -> tuple[float, dict]:
    """The next customer: seconds of branch time until they come, and what they want."""
    services = [s for s in SHARE if s in config.rules.services] or list(config.rules.services)
    weights = [SHARE.get(s, 1) for s in services]
    args = {
        "service": rng.choices(services, weights)[0],
        "language": "zh" if rng.random() < 0.7 else "en",
    }
    priorities = list(config.rules.priorities)
    if len(priorities) > 1 and rng.random() < PRIORITY:  # an elderly or pregnant customer
        args["priority"] = priorities[1]
    return rng.expovariate(ARRIVALS_PER_HOUR / 3600), args


def _kiosk(
    broker: Broker, config: BranchConfig, clock: SimClock, rng: random.Random, stop: threading.Event
) -> None:
    with BranchClient(broker, config.rules.branch_id, "kiosk-1") as kiosk:
        while True:
            delay_s, args = _arrival(config, rng)
            if stop.wait(clock.real(delay_s)):
                return
            kiosk.request(Cmd.ISSUE_TICKET, args)


def _counter(
    broker: Broker,
    config: BranchConfig,
    device: str,
    clock: SimClock,
    rng: random.Random,
    stop: threading.Event,
) -> None:
    """A simulated counter without a panel: calls, serves, now and then a no-show."""

    def pause(simulated_s: float) -> bool:
        return stop.wait(clock.real(simulated_s))

    cid = config.devices[device].counter
    serves = config.rules.counters[cid].services
    with BranchClient(broker, config.rules.branch_id, device) as counter:
        while not stop.is_set():
            left = _break_left(config, cid, clock())
            if left > 0:  # staff take their planned break (the estimates expect them to)
                counter.request(Cmd.PAUSE_COUNTER, {"reason": "break"})
                if pause(left):
                    return
                counter.request(Cmd.OPEN_COUNTER)
                continue
            # Staff call when someone waits (another counter may be quicker: then refused).
            reply = counter.request(Cmd.CALL_NEXT) if _waiting(counter.state, serves) else None
            if reply is None or not reply.ok:
                if pause(30):
                    return
            elif rng.random() < NO_SHOW:
                if _no_show(counter, config.rules.no_show_after_recalls, pause):
                    return
            elif _serve(counter, MEAN_SERVICE_MIN.get(reply.ticket["service"], 6), rng, pause):
                return


def _no_show(counter: BranchClient, recalls: int, pause) -> bool:
    """The called customer does not come: recall, then mark a no-show. True: stopped."""
    for _ in range(recalls):
        if pause(45):
            return True
        counter.request(Cmd.RECALL)
    if pause(45):
        return True
    counter.request(Cmd.NO_SHOW)
    return False


def _serve(counter: BranchClient, mean_min: float, rng: random.Random, pause) -> bool:
    """The called customer comes and is served. True: stopped."""
    if pause(rng.uniform(15, 40)):
        return True
    counter.request(Cmd.START)
    if pause(rng.lognormvariate(0, 0.5) * mean_min * 60 / 1.13):
        return True
    counter.request(Cmd.FINISH)
    return False


def _panel_staff(staff, config: BranchConfig, clock, rng: random.Random, stop) -> None:
    """Staff at a counter with a panel (a `demo_kiosk.StaffCounter`): from this thread of
    their own they press its buttons, mock pins driven as a finger drives a real button;
    the panel shows what follows."""

    def pause(simulated_s: float) -> bool:
        return stop.wait(clock.real(simulated_s))

    while not stop.is_set():
        left = _break_left(config, staff.counter, clock())
        if left > 0:  # their planned break: pause, and open again when it ends
            stopped = _panel_break(staff, left, pause)
        elif not _waiting(staff.state, staff.services):  # staff call when someone waits
            stopped = pause(30)
        else:
            stopped = _panel_turn(staff, rng, pause)
        if stopped:
            return


def _panel_turn(staff, rng: random.Random, pause) -> bool:
    """Staff at a panel call the next customer and serve them. True: stopped."""
    staff.press("next")
    if pause(5):
        return True
    view = staff.state.counter(staff.counter) if staff.state else None
    if view is None or view.ticket is None or view.ticket.status != "called":
        return pause(30)
    service = view.ticket.service
    if pause(rng.uniform(15, 40)):
        return True
    staff.press("start")
    mean = MEAN_SERVICE_MIN.get(service, 6) * 60
    if pause(rng.lognormvariate(0, 0.5) * mean / 1.13):
        return True
    staff.press("done")
    return False


def _panel_break(staff, left: float, pause) -> bool:
    """Staff at a panel take their break: the pause button (once the last press has been
    answered), and again when the break is over. True: stopped."""
    if pause(5):
        return True
    staff.press("pause")
    if pause(left):
        return True
    view = staff.state.counter(staff.counter) if staff.state else None
    if view is not None and view.state == "paused":
        staff.press("pause")  # a paused counter's pause button opens it
    return False


def _break_left(config: BranchConfig, counter: str, now: float) -> float:
    """Branch seconds until the end of `counter`'s planned break now under way (0: none):
    the config's breaks, which the wait estimates count on."""
    local = datetime.fromtimestamp(now, ZoneInfo(config.rules.timezone))
    minute = local.hour * 60 + local.minute + local.second / 60
    for start, end in config.rules.counters[counter].breaks:
        if start <= minute < end:
            return (end - minute) * 60
    return 0.0


def _waiting(state: BranchState | None, services) -> int:
    """How many wait for `services`, as the branch's last summary says."""
    return sum(s.waiting for s in state.services if s.id in services) if state else 0


def _clock_text(at: float, config: BranchConfig) -> str:
    return datetime.fromtimestamp(at, ZoneInfo(config.rules.timezone)).strftime("%H:%M:%S")


def _show(event: EventView, config: BranchConfig, clock: SimClock) -> None:
    rules, data = config.rules, event.data
    when = _clock_text(event.at, config)
    if event.type == "ticket_issued":
        service = rules.services[data["service"]]
        flag = "  [priority]" if data["priority"] != next(iter(rules.priorities)) else ""
        print(
            f"{when}  ticket {data['number']:>5}  {service.names.get('zh', '')} / "
            f"{service.names.get('en', '')}  ({data['language']}){flag}"
            f"{_wait_text(data.get('estimate'))}"
        )
    elif event.type in ("ticket_called", "ticket_recalled"):
        counter = rules.counters[data["counter"]]
        verb = "CALL  " if event.type == "ticket_called" else "RECALL"
        print(
            f"{when}  {verb} {data['number']:>5} → {counter.names.get('zh', '')} / "
            f"{counter.names.get('en', '')}"
        )
    elif event.type == "ticket_no_show":
        print(f"{when}  no-show {data['ticket'].split('/')[-1]}")


def _wait_text(estimate: dict | None) -> str:
    """The wait as the ticket prints it: "约 3–8 分钟 / about 3–8 min", in the same whole
    minutes (protocol.views.wait_minutes)."""
    if not estimate:
        return ""
    shown = wait_minutes(estimate["low"], estimate["high"])
    if shown.now:
        return "  — 马上 / now"
    low, high = shown
    return f"  — 约 {low}–{high} 分钟 / about {low}–{high} min, {estimate['ahead']} ahead"


def _summary(
    config: BranchConfig,
    db: Path,
    state: BranchState | None,
    out: Path,
    written: list[str],
    voiced: Counter[str],
    speed: float,
) -> None:
    issued, waits, calls = 0, [], 0
    issued_at: dict[str, float] = {}
    with EventLog(db) as events:
        for event in events.events():
            if event.type == "ticket_issued":
                issued += 1
                issued_at[event.data["ticket"]] = event.at
            elif event.type == "ticket_called" and event.data["ticket"] in issued_at:
                waits.append(event.at - issued_at[event.data["ticket"]])
            calls += event.type in ("ticket_called", "ticket_recalled")
    print(f"\n{issued} tickets issued, {len(waits)} called", end="")
    if waits:
        print(
            f"; wait to be called: mean {statistics.mean(waits) / 60:.1f} min, "
            f"longest {max(waits) / 60:.1f} min",
            end="",
        )
    waiting = sum(s.waiting for s in state.services) if state else 0
    print(f"; {waiting} still waiting.")
    if voiced:
        print(_voice_text(voiced, calls, speed))
    print(f"Look at: {out / 'demo.log'} (the server's log) and {db} (the durable event log).")
    for line in written:
        print(f"  and {line}")
    print(
        "How close were the printed waits? "
        f"{_command()} audit --db {db} --timezone {config.rules.timezone}"
    )


def _voice_text(voiced: Counter[str], calls: int, speed: float) -> str:
    """What the lobby did with the calls: at the demo's speed, most come too late to say."""
    late_s = AudioSettings().max_delay_s
    fates = [f"{voiced['dropped']} dropped"]
    fates += [f"{voiced[fate]} {fate}" for fate in ("silenced", "failed") if voiced[fate]]
    if calls > sum(voiced.values()):
        fates.append(f"{calls - sum(voiced.values())} never had their turn on the screen")
    return (
        f"The lobby spoke {voiced['finished']} of {calls} calls: a call not begun within "
        f"{late_s:g} s of branch time is dropped, and at {speed:g}x speed that is "
        f"{late_s / speed:.2g} s of real time ({'; '.join(fates)})."
    )


def _command() -> str:
    """How to run nowserving from here: the venv's script (relative to the current
    directory when it is below it), else the name on PATH."""
    script = Path(sys.prefix) / "bin" / "nowserving"
    if not script.exists():
        return "nowserving"
    with contextlib.suppress(ValueError):
        return str(script.relative_to(Path.cwd()))
    return str(script)
