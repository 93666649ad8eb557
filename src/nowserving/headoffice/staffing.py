"""Staffing advice for one branch at the head office, from its events in PostgreSQL, with
the branch console's own code: `reports.history.learn_events` learns the weekday as
`learn` does from the branch's log, `reports.staffing` sizes it (Erlang C and A) and checks
it by simulation (`nowserving headoffice staffing`, docs/headoffice.md). The reading is in
`reports.stored`, which the web console's head-office staffing page shares."""

from __future__ import annotations

from nowserving.reports.stored import StoredEvent, branch_events, learn_branch

__all__ = ["StoredEvent", "branch_events", "learn_branch"]
