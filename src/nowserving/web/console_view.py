"""The console's live view of one branch: counters, lines, devices and alerts, in words of
one language, from what the web role holds (summary, lines, device statuses). Pure: the
page (console_page) and its JSON twin are both built from this dict."""

from __future__ import annotations

import math
from datetime import datetime
from itertools import groupby
from zoneinfo import ZoneInfo

from nowserving import i18n
from nowserving.config import BranchConfig
from nowserving.protocol.views import BranchState, DeviceStatus, Line, wait_minutes
from nowserving.protocol.vocabulary import PAUSE_REASONS

WATCHED_ROLES = ("kiosk", "counter", "display")  # offline is an alert; staff PCs come and go
CLOSING_SOON_S = 30 * 60  # the live page says how long is left this close to closing time
# The kinds of alert, most severe first (the order the page lists them in): the console or
# the server cut off; a customer or a kiosk stuck (critical); devices away; service levels
# (warning); advice (notice).
ALERT_KINDS = ("broker", "server", "spool", "paper_out", "printer", "offline", "spooled", "late",
               "paper_low", "self_test")  # fmt: skip
ALERT_LEVELS = {"offline": "warning", "spooled": "warning", "late": "warning",
                "paper_low": "notice", "self_test": "notice"}  # fmt: skip
# More alerts of one of these kinds than FOLD_OVER are one alert naming the FOLD_OVER worst,
# the rest behind a disclosure: 14 late lines must not push the counters off the screen.
FOLDING = ("late", "offline")
FOLD_OVER = 3


def _t(language: str, key: str, **values: object) -> str:
    return i18n.text(language, f"console.{key}", **values)


def _clock(config: BranchConfig, at: float, fmt: str = "%H:%M") -> str:
    return datetime.fromtimestamp(at, ZoneInfo(config.rules.timezone)).strftime(fmt)


def reason_text(language: str, reason: str | None) -> str:
    """A pause reason in words (a code from PAUSE_REASONS, else the free text as it is)."""
    if reason in PAUSE_REASONS:
        return _t(language, f"reason_{reason}")
    return reason or ""


def live_view(config: BranchConfig, state: BranchState | None, lines: dict[str, Line],
              statuses: dict[str, DeviceStatus], server_online: bool | None, connected: bool,
              language: str, now: float) -> dict:  # fmt: skip
    """The console's content for one branch in `language` at `now` (Unix seconds)."""
    view = {
        "branch": config.rules.branch_id,
        "name": config.names.get(language, config.rules.branch_id),
        "language": language,
        "updated": _t(language, "updated", time=_clock(config, now, "%H:%M:%S")),
        **_hours(config, language, now),
        "seq": state.seq if state else None,
        "connected": connected,
        "server_online": bool(server_online),
        "server_text": _t(language, "server_ok" if server_online else "server_down"),
        "counters": [],
        "lines": [],
        "devices": [],
        "notices": [],
    }
    found = [] if connected else [_alert("broker", _t(language, "broker_down"))]
    if not server_online:
        found.append(_alert("server", view["server_text"]))
    if state is not None:
        view["counters"] = [_counter(c, state, language, now) for c in state.counters]
        view["notices"] = [_notice(config, n, now) for n in state.notices if n.until > now]
        for service in state.services:
            row = _line(config, service, lines.get(service.id), language, now)
            view["lines"].append(row)
            if row["late"]:
                waited = row["waited"]
                order = (-waited, -row["waiting"])  # longest wait first, then most waiting
                found.append(_alert("late", row["late"], order, name=row["name"], minutes=waited))
    _devices(view, found, config, statuses, language)
    target = int(config.rules.wait_warning_s // 60)
    view["alerts"], view["alert_items"] = _alert_wall(found, language, target)
    return view


def _alert(kind: str, text: str, order: tuple = (), **facts: object) -> dict:
    """One alert found: its kind (ALERT_KINDS), its words, where it stands among its kind
    (`order`, worst first) and what a folded alert names of it."""
    return {"kind": kind, "text": text, "order": order, **facts}


def _alert_wall(found: list[dict], language: str, target: int) -> tuple[list[str], list[dict]]:
    """Every alert's words, most severe first, and what the page shows of them: one item
    per alert, except that more than FOLD_OVER of a FOLDING kind are one item saying how
    many and naming the worst, with all of them in `more` (for a disclosure)."""
    found = sorted(found, key=lambda a: (ALERT_KINDS.index(a["kind"]), a["order"]))
    items = []
    for kind, group in groupby(found, key=lambda a: a["kind"]):
        group = list(group)
        level = ALERT_LEVELS.get(kind, "critical")
        if kind not in FOLDING or len(group) <= FOLD_OVER:
            items += [{"kind": kind, "level": level, "text": a["text"], "more": []} for a in group]
            continue
        sep = _t(language, "list_sep")
        if kind == "late":  # "Loans (50 min)": the target is said once, in the headline
            more = [_t(language, "alert_late_line", service=a["name"], minutes=a["minutes"])
                    for a in group]  # fmt: skip
            named = sep.join(more[:FOLD_OVER])
            text = _t(language, "alert_late_many", n=len(group), target=target, worst=named)
        else:
            more = [a["text"] for a in group]
            named = sep.join(a["device"] for a in group[:FOLD_OVER])
            text = _t(language, "alert_offline_many", n=len(group), devices=named)
        items.append({"kind": kind, "level": level, "text": text, "more": more,
                      "summary": _t(language, f"alert_all_{kind}", n=len(group))})  # fmt: skip
    return [a["text"] for a in found], items


def _hours(config: BranchConfig, language: str, now: float) -> dict:
    """The branch's opening state now, by its hours in its zone: open until, closing in a
    few minutes, or closed until when ("" for a branch without hours today)."""
    rules = config.rules
    if not rules.open_at(now):
        opens = rules.next_opening(now)
        if opens is None:
            return {"hours": "closed", "hours_text": _t(language, "branch_closed")}
        same_day = rules.business_day(opens) == rules.business_day(now)
        when = _clock(config, opens, "%H:%M" if same_day else "%m-%d %H:%M")
        return {"hours": "closed", "hours_text": _t(language, "branch_closed_until", time=when)}
    closes = rules.closes_at(now)
    if closes is None:
        return {"hours": "", "hours_text": ""}
    left = closes - now
    if left <= CLOSING_SOON_S:
        minutes = max(1, math.ceil(left / 60))
        text = _t(language, "branch_closing", time=_clock(config, closes), minutes=minutes)
        return {"hours": "closing", "hours_text": text}
    return {"hours": "open", "hours_text": _t(language, "branch_open_until",
                                              time=_clock(config, closes))}  # fmt: skip


def _counter(counter, state: BranchState, language: str, now: float) -> dict:
    names = {s.id: s.names.get(language, s.id) for s in state.services}
    row = {
        "id": counter.id,
        "name": counter.names.get(language, counter.id),
        "state": counter.state,
        "state_text": _t(language, f"state_{counter.state}"),
        "reason": counter.reason,
        "staff": "",
        "staff_note": "",
        "ticket": "",
        "ticket_note": "",
        "served": _t(language, "served", n=counter.served),
        "services": " · ".join(names.get(s, s) for s in counter.services),
    }
    if counter.state == "paused" and counter.reason:
        row["state_text"] = _t(language, "paused_for", reason=reason_text(language, counter.reason))
    # Who, and under it whether they signed in: each a short line, so a tablet's narrow
    # column never breaks "1001 (not signed in)" one word a line.
    row["staff"] = counter.staff or ""
    if not counter.staff:
        row["staff_note"] = _t(language, "nobody")
    elif not counter.signed_in:
        row["staff_note"] = _t(language, "not_signed_in")
    ticket = counter.ticket
    if ticket is not None:
        since = ticket.called_at or now
        minutes = max(0, int((now - since) // 60))
        duration = i18n.duration(language, minutes) if minutes else _t(language, "minutes", n=0)
        row["ticket"] = ticket.number  # for how long under it, as the staff's note
        row["ticket_note"] = _t(language, "serving_for", duration=duration)
    elif counter.state == "open":
        row["ticket"] = _t(language, "idle")
    return row


def _line(config: BranchConfig, service, line: Line | None, language: str, now: float) -> dict:
    waiting = line.waiting if line is not None else service.waiting
    row = {
        "id": service.id,
        "name": service.names.get(language, service.id),
        "waiting": waiting,
        "priority": line.priority_waiting if line is not None else 0,
        "longest": _t(language, "none"),
        "range": _t(language, "none"),
        "late": "",
        "waited": 0,  # minutes the longest waiting has waited
        "closed": service.closed is not None,  # closed for the day by a manager
        "closed_text": "",
        "stopped": "",  # takes no new tickets today: past its last ticket, or its cap
    }
    taking, row["stopped"] = _taking(config, service, language, now)
    if service.closed is not None:
        reason = service.closed.reason_in(language)
        row["closed_text"] = (
            _t(language, "closed_today_reason", time=_clock(config, service.closed.at),
               reason=reason) if reason
            else _t(language, "closed_today", time=_clock(config, service.closed.at))
        )  # fmt: skip
    oldest = line.oldest_issued_at if line is not None else None
    if waiting and oldest is not None:
        waited = row["waited"] = max(0, int((now - oldest) // 60))
        row["longest"] = _t(language, "minutes", n=waited)
        if now - oldest >= config.rules.wait_warning_s:
            target = int(config.rules.wait_warning_s // 60)
            row["late"] = _t(language, "alert_wait", service=row["name"], minutes=waited,
                             target=target)  # fmt: skip
    estimate = service.estimate
    if estimate is not None and taking:  # no newcomers: no newcomer's wait
        minutes = wait_minutes(estimate.low, estimate.high)
        row["range"] = i18n.wait_range(language, minutes.low, minutes.high)
    return row


def _taking(config: BranchConfig, service, language: str, now: float) -> tuple[bool, str]:
    """Whether the service takes a newcomer now, and, while the branch is open, why not in
    words: past its last ticket of the day (the summary's `accepting` may be older than
    that minute) or full ("" while it takes them, or when a manager closed it)."""
    rules = config.rules
    spec = rules.services.get(service.id)
    past_cut = spec is not None and spec.last_ticket_at is not None and \
        rules.past_cutoff(spec, now)  # fmt: skip
    open_now = rules.open_at(now)
    taking = service.accepting and not past_cut and open_now
    if taking or service.closed is not None or not open_now:
        return taking, ""
    if past_cut:
        cut = spec.last_ticket_at.strftime("%H:%M")
        return False, _t(language, "no_new_tickets_since", time=cut)
    return False, _t(language, "no_new_tickets")


def _notice(config: BranchConfig, notice, now: float) -> dict:
    texts = dict(notice.texts) or {notice.language or "": notice.text}
    return {"id": notice.id, "texts": texts, "until": _clock(config, notice.until)}


def _devices(view: dict, found: list[dict], config: BranchConfig,
             statuses: dict[str, DeviceStatus], language: str) -> None:  # fmt: skip
    for device_id, device in sorted(config.devices.items()):
        role = device.role.value
        if role == "web":
            continue  # this role itself
        status = statuses.get(device_id)
        row = {"id": device_id, "role": role, "online": bool(status and status.online),
               "notes": []}  # fmt: skip
        if status is None:
            row["state_text"] = _t(language, "device_never")
        else:
            row["state_text"] = _t(language, "device_online" if status.online else "device_offline")
        if role in WATCHED_ROLES and not row["online"]:
            found.append(_alert("offline", _t(language, "alert_offline", device=device_id),
                                 device=device_id, order=(WATCHED_ROLES.index(role),)))  # fmt: skip
        if status is not None:
            _device_notes(found, config, row, status.fields, language)
        view["devices"].append(row)


def _device_notes(found: list[dict], config: BranchConfig, row: dict, fields: dict,
                  language: str) -> None:  # fmt: skip
    device = row["id"]
    for key in ("printer", "paper", "audio", "gpio"):
        if key in fields:
            row["notes"].append(f"{key}: {str(fields[key])[:80]}")
    if fields.get("paper") == "out":
        found.append(_alert("paper_out", _t(language, "alert_paper_out", device=device)))
    elif fields.get("paper") == "low":
        found.append(_alert("paper_low", _t(language, "alert_paper_low", device=device)))
    if fields.get("printer") == "error":
        found.append(_alert("printer", _t(language, "alert_printer", device=device)))
    if fields.get("spool"):
        found.append(_alert("spool", _t(language, "alert_spool", device=device)))
    spooled = fields.get("spooled")
    if type(spooled) is int and spooled > 0:  # issued offline, not yet taken by the server
        row["notes"].append(_t(language, "spooled", n=spooled))
        found.append(_alert("spooled", _t(language, "alert_spooled", device=device, n=spooled)))
    result = fields.get("self_test")
    if isinstance(result, dict) and isinstance(result.get("at"), int | float):
        when = _clock(config, result["at"], "%m-%d %H:%M")
        ok = bool(result.get("ok"))
        row["notes"].append(_t(language, "self_test_ok" if ok else "self_test_failed", time=when))
        if not ok:
            found.append(_alert("self_test", _t(language, "alert_self_test", device=device)))
