"""`build`: a counter from its branch and device files — its client, its buttons and lamps
(only when the device file has `[gpio]`) and, when asked, the staff panel; Qt is imported
only for the panel, so a headless counter runs without it."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from nowserving.adapters.gpio import factory_for, pins_status
from nowserving.client import BranchClient, broker_for
from nowserving.config import BranchConfig
from nowserving.config.device import DeviceConfig
from nowserving.counter.app import CounterDevice
from nowserving.launch import App, Hardware

QML = Path(__file__).parent / "qml"


class CounterApp(App):
    """A running counter: `unit` (its buttons, lamps and commands); with the staff panel,
    `panel` (its controller), `bridge` and `view` (not shown yet)."""

    unit: CounterDevice | None = None
    panel = bridge = view = None

    def status(self) -> dict:
        """The counter's fields of its retained status (docs/counter.md, "Status")."""
        return {"gpio": pins_status(self.unit.panel if self.unit else None)}


def build(
    config: BranchConfig,
    device: DeviceConfig,
    *,
    hardware: Hardware | None = None,
    clock: Callable[[], float] = time.time,
    panel_size: tuple[int, int] | None = None,
) -> CounterApp:
    """The counter of `device`, connecting; with `panel_size`, its staff panel too. Its pins
    are those of the device file's `[gpio]`, on `hardware.pin_factory` if one is handed in;
    without `[gpio]` it has none (a staff PC). Raises NowservingError (pins or QML that
    cannot be opened) with whatever was opened closed again."""
    hardware = hardware or Hardware()
    services = config.rules.counters[config.devices[device.id].counter].services
    client = BranchClient(
        broker_for(device),
        config.rules.branch_id,
        device.id,
        watch_lines=tuple(services),
        watch_statuses=panel_size is not None,  # the panel shows the kiosks' alerts
    )
    app = CounterApp(client)
    client.status = app.status
    with app.building():
        factory = factory_for(device.gpio, hardware.pin_factory) if device.gpio else None
        app.unit = app.owns(CounterDevice(config, device, client, factory))
        if panel_size is not None:
            _add_panel(app, config, clock, panel_size)
        app.start()
    return app


def _add_panel(app: CounterApp, config: BranchConfig, clock, size: tuple[int, int]) -> None:
    from PySide6.QtCore import QSize

    from nowserving.client.qt import QtBranchBridge, gui_application, quick_view
    from nowserving.counter.panel import PanelController

    gui_application()
    app.bridge = QtBranchBridge(app.client)
    app.panel = app.owns(PanelController(config, app.unit, app.bridge, clock))
    app.view = app.owns(quick_view(QML, "CounterPanel", {"panel": app.panel}, QSize(*size)))
