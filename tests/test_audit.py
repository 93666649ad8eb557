"""The live audit reads the estimates printed at issue back from the event log."""

from __future__ import annotations

from nowserving.adapters.store import EventLog
from nowserving.audit import audit_rows, audit_text
from nowserving.domain import Branch, Command, NewcomerEstimates
from tests.conftest import T0


def test_audit_counts_calls_inside_the_printed_interval(tmp_path, rules):
    branch, newcomers = Branch(rules), NewcomerEstimates()
    with EventLog(tmp_path / "e.sqlite") as log:

        def run(i, kind, at, **args):
            events, outcome, _ = branch.handle(
                Command(f"a{i}", kind, "d", at, args), newcomers.estimate
            )
            log.append(events)
            return outcome

        run(0, "issue_ticket", T0, service="a")
        run(1, "call_next", T0 + 5, counter="c1")  # staff took 5 s
        run(2, "issue_ticket", T0 + 10, service="a")
        printed = branch.tickets["2026-11-23/A002"].estimate
        run(3, "finish", T0 + 10 + printed["high"] + 50, counter="c1")
        run(4, "call_next", T0 + 10 + printed["high"] + 50, counter="c1")  # after the interval
    rows = audit_rows(tmp_path / "e.sqlite")
    assert len(rows) == 1 and rows[0]["service"] == "a" and rows[0]["hour"] == 9
    assert rows[0]["called"] == 2
    # A001 came to an idle counter: staff's reaction (a new branch's prior, 2-20 s), and
    # waited 5 s: inside; A002 waited past `high`.
    assert rows[0]["inside"] == 1
    assert "50%" in audit_text(tmp_path / "e.sqlite")
