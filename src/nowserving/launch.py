"""What every device role's launcher shares: the stand-ins a caller may hand its `build`
(`Hardware`), and what `build` returns (`App`).

Each role has `<role>/launcher.py` with `build(config, device, *, hardware, clock, ...)`:
it opens what the device file says (or the stand-ins handed in), wires the role's parts to
one started `BranchClient`, and returns an `App`. The role's `main.py` (the service), the
demo and the tests all start a role this way; closing the `App` closes every part, once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from nowserving.client import BranchClient

log = logging.getLogger(__name__)

Part = TypeVar("Part")


@dataclass(frozen=True)
class Hardware:
    """Stand-ins for the device file's hardware, chosen explicitly by tests, the demo and
    the self-test; None: open what the device file says. A stand-in for hardware the file
    does not name is not used: no `[gpio]`, no pins."""

    escpos: object | None = None  # an open python-escpos printer (its Dummy)
    pin_factory: object | None = None  # a gpiozero pin factory (its MockFactory)
    player: object | None = None  # an audio Player (FilePlayer)


class App:
    """A role's running parts around its client. `close()` closes them in the reverse of
    the order they were added, the client last; a second `close()` does nothing."""

    def __init__(self, client: BranchClient) -> None:
        self.client = client
        self._closers: list[Callable[[], None]] = [client.close]
        self._closed = False

    def owns(self, part: Part, close: Callable[[], None] | None = None) -> Part:
        """Close `part` with the app (its `close()`, or `close`), before what came earlier."""
        self._closers.append(close or part.close)  # type: ignore[attr-defined]
        return part

    @contextmanager
    def building(self) -> Iterator[App]:
        """While `build` opens the parts: if one fails, those already open are closed."""
        try:
            yield self
        except BaseException:
            self.close()
            raise

    def start(self) -> None:
        """Connect to the branch, in the background (the client keeps reconnecting)."""
        self.client.start(wait_s=None)

    def healthy(self) -> bool:
        """For systemd's watchdog: the client's network thread is alive."""
        return self.client.link.alive

    def close(self) -> None:
        """Close every part, newest first, the client last (once)."""
        if self._closed:
            return
        self._closed = True
        while self._closers:
            closer = self._closers.pop()
            try:
                closer()
            except Exception:  # the other parts must still be let go
                log.exception("closing %r failed", closer)

    def __enter__(self) -> App:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
