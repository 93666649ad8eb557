"""What a branch prints on a ticket: its layout's content, from the branch config and one
ticket (the kiosk's tickets and the installer's previews and test tickets alike)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from nowserving.adapters.printer.layout import TicketContent
from nowserving.config import BranchConfig


def ticket_content(
    config: BranchConfig,
    *,
    language: str,
    service: str,
    number: str,
    ahead: int,
    wait: tuple[int, int] | None,
    issued_at: float,
    url: str | None = None,
    priority: str | None = None,
    appointment: str | None = None,
    ahead_appointments: int = 0,
) -> TicketContent:
    """The ticket of `number` for `service`, in `language`: with its priority class (when
    not the default one), a checked-in appointment's line ("Appointment 10:30"), the
    counters that serve it, the branch's rule for a missed call and the day's opening hours."""
    rules = config.rules
    spec = rules.services[service]
    classes = list(rules.priorities)
    shown_priority = None
    if priority in rules.priorities and priority != classes[0]:
        shown_priority = rules.priorities[priority].names.get(language, priority)
    hours = rules.hours_on(issued_at)
    return TicketContent(
        language=language,
        branch=config.names.get(language, rules.branch_id),
        service=spec.names.get(language, spec.id),
        number=number,
        ahead=ahead,
        ahead_appointments=ahead_appointments,
        wait=wait,
        issued_at=datetime.fromtimestamp(issued_at, ZoneInfo(rules.timezone)),
        url=url,
        priority=shown_priority,
        appointment=appointment,
        counters=tuple(
            c.names.get(language, c.id) for c in rules.counters.values() if service in c.services
        ),
        recalls=rules.no_show_after_recalls,
        hours=f"{hours[0]:%H:%M}–{hours[1]:%H:%M}" if isinstance(hours, tuple) else None,
    )
