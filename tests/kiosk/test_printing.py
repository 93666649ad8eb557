"""The kiosk's print thread: a fault or a bug ends one ticket, never the printing of the
tickets after it, and a bug is logged (so a test that meets one fails)."""

from __future__ import annotations

import queue

import pytest

from nowserving.adapters.printer.device import TicketPrinter, open_escpos
from nowserving.adapters.printer.layout import Feed
from nowserving.config.hardware import PrinterSettings
from nowserving.kiosk.printing import PrintQueue

SETTINGS = PrinterSettings(kind="dummy", paper_mm=80, profile="TM-T88V")
PARTS = [Feed(8)]


@pytest.fixture
def printer():
    return TicketPrinter(open_escpos(SETTINGS), SETTINGS)


@pytest.mark.expect_log_exception
def test_a_bug_on_the_print_thread_is_told_logged_and_printing_goes_on(printer, caplog):
    """GIVEN a `keep` step with a bug WHEN two tickets are printed THEN the first is told
    as failed, with the bug in the log; the second prints."""
    kept = []

    def keep(number, parts):
        kept.append(number)
        if len(kept) == 1:
            raise KeyError("a bug (injected)")

    results: queue.Queue = queue.Queue()
    prints = PrintQueue(printer, keep=keep)
    try:
        prints.submit("A001", PARTS, lambda number, error: results.put((number, error)))
        prints.submit("A002", PARTS, lambda number, error: results.put((number, error)))
        assert results.get(timeout=10) == ("A001", "'a bug (injected)'")
        assert results.get(timeout=10) == ("A002", "")
    finally:
        prints.close()
    assert [r.getMessage() for r in caplog.records if r.exc_info] == ["printing A001 failed"]


@pytest.mark.expect_log_exception
def test_a_failing_callback_does_not_stop_the_printer(printer, caplog):
    """GIVEN a `done` callback that raises WHEN the next ticket is printed THEN it prints and
    its callback is called (the print thread lives on)."""
    results: queue.Queue = queue.Queue()

    def broken(number, error):
        raise RuntimeError("a callback with a bug (injected)")

    prints = PrintQueue(printer)
    try:
        prints.submit("A001", PARTS, broken)
        prints.submit("A002", PARTS, lambda number, error: results.put((number, error)))
        assert results.get(timeout=10) == ("A002", "")
    finally:
        prints.close()
    assert "a callback with a bug (injected)" in caplog.text
