"""Config files, each validated in full before anything starts: the branch config (one per
branch), the device config (one per kiosk, counter, display or staff PC), and the schema
helper both are read with (also used by the simulator's scenario files)."""

from nowserving.config.branch import (
    EXAMPLE,
    EXAMPLES,
    BranchConfig,
    Device,
    load_config,
    parse_config,
)
from nowserving.config.device import (
    BrokerSettings,
    DeviceConfig,
    DisplaySettings,
    check_device_against_branch,
    load_device_config,
    parse_device_config,
)
from nowserving.config.hardware import AudioSettings, GpioSettings, PrinterSettings

__all__ = [
    "EXAMPLE",
    "EXAMPLES",
    "AudioSettings",
    "BranchConfig",
    "BrokerSettings",
    "Device",
    "DeviceConfig",
    "DisplaySettings",
    "GpioSettings",
    "PrinterSettings",
    "check_device_against_branch",
    "load_config",
    "load_device_config",
    "parse_config",
    "parse_device_config",
]
