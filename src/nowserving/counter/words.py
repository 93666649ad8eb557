"""What the staff panel says, in its language, Qt-free: a refusal from its code and
numbers, why a button is off, what a kiosk's status asks of staff."""

from __future__ import annotations

from nowserving.domain.model import BranchRules
from nowserving.i18n import catalog
from nowserving.protocol.views import CounterView, DeviceStatus


def refusal_text(language: str, code: str | None, params: dict | None = None) -> str:
    """A refusal in `language`: the catalogue's `refusal.<code>` with the reply's numbers
    filled in; a code it does not know (a newer server's) is named, never shown in English
    words. A number the reply lacks is left out rather than shown as a placeholder."""
    words = catalog(language)["refusal"]
    values = _Blank({k: str(v) for k, v in (params or {}).items()})
    template = words.get(code or "")
    if template is None:
        return words["unknown"].format_map(_Blank(code=code or "?"))
    return " ".join(template.format_map(values).split())


class _Blank(dict):
    """Placeholders a reply did not fill are left empty."""

    def __missing__(self, key: str) -> str:
        return ""


def button_states(
    language: str, rules: BranchRules, view: CounterView | None, now: float, waiting: int,
    can_transfer: bool,
) -> dict[str, dict]:  # fmt: skip
    """Per action (next, recall, start, done, no_show, pause, transfer): whether the server
    would take it now, and if not why, in words: {"active": bool, "reason": str}. The
    queue's own rules (domain/branch.py) decide; this only foresees them."""
    words = catalog(language)["panel"]
    status = view.state if view else "closed"
    ticket = view.ticket if view else None
    called = ticket is not None and ticket.status == "called"
    none = words["no_ticket"]
    reasons: dict[str, str] = {}
    if status != "open":
        reasons["next"] = words["why_open_first"]
    elif called:
        reasons["next"] = words["why_busy"].format(number=ticket.number)
    elif waiting == 0:
        reasons["next"] = catalog(language)["refusal"]["queue_empty"]
    if not called:
        not_called = none if ticket is None else words["why_not_called"]
        reasons["recall"] = reasons["start"] = reasons["no_show"] = not_called
    else:
        last = ticket.recalled_at or ticket.called_at or now
        left = rules.recall_cooldown_s - (now - last)
        if left > 0:
            reasons["recall"] = words["recall_in"].format(s=int(left) + 1)
        need = rules.no_show_after_recalls
        if ticket.recalls < need:
            reasons["no_show"] = words["recalls_of"].format(n=ticket.recalls, need=need)
    if ticket is None:
        reasons["done"] = reasons["transfer"] = none
    elif not can_transfer:
        reasons["transfer"] = words["transfer_none"]
    if ticket is not None and status == "open":
        reasons["pause"] = words["why_finish_first"].format(number=ticket.number)
    names = ("next", "recall", "start", "done", "no_show", "pause", "transfer")
    return {n: {"active": n not in reasons, "reason": reasons.get(n, "")} for n in names}


def alerts_of(language: str, status: DeviceStatus) -> list[str]:
    """What a kiosk's retained status asks of staff (docs/kiosk.md, "Status"): offline,
    out of or low on paper, a printer fault, an offline ticket the server refused."""
    words = catalog(language)["panel"]
    device = status.device
    if not status.online:
        return [words["alert_offline"].format(device=device)]
    fields, found = status.fields, []
    paper = fields.get("paper")
    if paper in ("out", "low"):
        found.append(words[f"alert_paper_{paper}"].format(device=device))
    if fields.get("printer") == "error" and paper != "out":
        found.append(words["alert_printer"].format(device=device))
    if fields.get("spool"):
        found.append(words["alert_spool"].format(device=device))
    return found
