"""The lobby screen's test pattern, for `nowserving self-test`: colour bars, a grey ramp, a
red frame on the outermost pixels (is the TV cropping the picture?) and the self-test's
words in every language of the branch, shown full screen for a while."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from PySide6.QtCore import QEventLoop, QSize, QTimer

from nowserving import __version__
from nowserving.client.qt import gui_application, quick_view
from nowserving.config import BranchConfig
from nowserving.config.device import DeviceConfig
from nowserving.errors import NowservingError
from nowserving.i18n import text

QML = Path(__file__).parent / "qml"


@dataclass(frozen=True)
class PatternShown:
    """Where the pattern was shown: Qt's platform, the screen's name and size."""

    platform: str
    screen: str
    width: int
    height: int
    png: Path | None

    @property
    def offscreen(self) -> bool:
        """Whether the pattern is drawn without a screen."""
        return self.platform in ("offscreen", "minimal")


def has_screen_session() -> bool:
    """Whether Qt has something to draw on: a Wayland or X session, or a platform chosen
    explicitly. Without one, Qt would end the process rather than raise."""
    return any(os.environ.get(v) for v in ("WAYLAND_DISPLAY", "DISPLAY", "QT_QPA_PLATFORM"))


def pattern_texts(config: BranchConfig, device: DeviceConfig) -> list[dict[str, str]]:
    """The pattern's words, one entry per language the screen shows."""
    shown = (device.display.languages if device.display else ()) or config.rules.languages
    return [
        {
            "title": text(lang, "selftest.title"),
            "look": text(lang, "selftest.look"),
            "frame": text(lang, "selftest.frame"),
            "device": text(
                lang,
                "selftest.device",
                device=device.id,
                branch=config.names.get(lang, config.rules.branch_id),
            ),
        }
        for lang in shown
    ]


def show_test_pattern(
    config: BranchConfig,
    device: DeviceConfig,
    seconds: float,
    png: Path | None = None,
) -> PatternShown:
    """Show the pattern full screen for `seconds` (in a window when offscreen), then save
    what was drawn to `png` if given. Raises NowservingError if it cannot be shown."""
    if not has_screen_session():
        raise NowservingError(
            "no screen session to draw on (WAYLAND_DISPLAY and DISPLAY are unset): run the "
            "self-test in the display's screen session (docs/install.md)"
        )
    app = gui_application()
    portrait = device.display is not None and device.display.orientation == "portrait"
    size = QSize(1080, 1920) if portrait else QSize(1920, 1080)
    now = datetime.now(ZoneInfo(config.rules.timezone)).strftime("%Y-%m-%d %H:%M")
    footer = f"nowserving {__version__} · {device.id} · {now}"
    view = quick_view(
        QML, "TestPattern", {"texts": pattern_texts(config, device), "footer": footer}, size
    )
    try:
        platform = app.platformName()
        if platform in ("offscreen", "minimal"):
            view.show()
        else:
            view.showFullScreen()
        loop = QEventLoop()
        QTimer.singleShot(int(seconds * 1000), loop.quit)
        loop.exec()
        image = view.grabWindow()
        if png is not None and (image.isNull() or not image.save(str(png))):
            raise NowservingError(f"could not save the test pattern to {png}")
        screen = view.screen()
        return PatternShown(
            platform,
            screen.name() if screen is not None else "",
            image.width(),
            image.height(),
            png,
        )
    finally:
        view.close()
        view.deleteLater()
