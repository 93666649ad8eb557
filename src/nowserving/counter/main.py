"""`nowserving counter`: a counter's buttons and lamps, headless, until stopped."""

from __future__ import annotations

import signal
import threading

from nowserving.adapters.gpio import pin_factory
from nowserving.client import BranchClient, broker_for
from nowserving.config import BranchConfig
from nowserving.config.device import DeviceConfig
from nowserving.counter.app import CounterDevice
from nowserving.errors import ConfigError


def run_counter(config: BranchConfig, device: DeviceConfig) -> int:
    if device.gpio is None or not device.gpio.buttons:
        raise ConfigError(["gpio.buttons: a counter needs at least a `next` button"], device.id)
    client = BranchClient(broker_for(device), config.rules.branch_id, device.id)
    counter = CounterDevice(config, device, client, pin_factory(device.gpio.pin_factory))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    client.start(wait_s=None)
    try:
        stop.wait()
    finally:
        counter.close()
        client.close()
    return 0
