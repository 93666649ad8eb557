"""The kiosk's printer, on a thread of its own: the GUI hands tickets over and is told,
later, whether they printed. A printer that hangs delays only this thread."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from nowserving.adapters.printer.device import Paper, TicketPrinter
from nowserving.adapters.printer.layout import Part
from nowserving.errors import PrinterError

log = logging.getLogger(__name__)

Done = Callable[[str, str], None]  # (ticket number, error or "")


class PrintQueue:
    """Prints tickets in order on a worker thread; `done` is called there, so it must only
    hand the result over (e.g. emit a queued Qt signal)."""

    def __init__(
        self,
        printer: TicketPrinter,
        on_status: Callable[[dict], None] | None = None,
        keep: Callable[[str, list[Part]], None] | None = None,
    ):
        self.printer = printer
        self._keep = keep  # called with each printed ticket (the demo keeps PNGs)
        self.paper_mm = printer.settings.paper_mm
        self.printable_dots = printer.printable_dots
        self._on_status = on_status
        self._jobs: queue.Queue = queue.Queue()
        self.status: dict = {"printer": "ok", "paper": str(Paper.UNKNOWN), "last_error": None}
        self._thread = threading.Thread(target=self._run, name="printer", daemon=True)
        self._thread.start()

    def submit(self, number: str, parts: list[Part], done: Done) -> None:
        """Print `parts` on the print thread; `done(number, error)` when it is over."""
        self._jobs.put((number, parts, done))

    def close(self) -> None:
        """Finish what is queued, then stop the print thread (idempotent)."""
        self._jobs.put(None)
        self._thread.join(timeout=10)
        self.printer.close()

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            number, parts, done = job
            error = ""
            paper = self.printer.paper()
            if paper is Paper.OUT:
                error = "out of paper"
            else:
                try:
                    self.printer.print_ticket(parts)
                    if self._keep is not None:
                        self._keep(number, parts)
                except PrinterError as err:  # paper, cover, cable: the customer must know
                    error = str(err)
                except Exception as err:  # a bug: the customer must know, and so must we
                    log.exception("printing %s failed", number)
                    error = str(err)
            self.status = {
                "printer": "error" if error else "ok",
                "paper": str(paper),
                "last_error": error or self.status["last_error"],
            }
            if self._on_status is not None:
                self._tell("status", self._on_status, self.status)
            # printer thread -> GUI thread (the callee hands it over)
            self._tell("done", done, number, error)

    def _tell(self, what: str, callback: Callable, *args) -> None:
        """Call back, and go on printing if the callback fails (one bug must not end the
        printing of every ticket after it)."""
        try:
            callback(*args)
        except Exception:
            log.exception("the printer's %s callback %r failed", what, callback)
