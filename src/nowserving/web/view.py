"""What a ticket's page shows, as plain data: rendered as HTML by `page`, sent as JSON to
the page's script. Only the ticket's own facts and counts: nothing of other customers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from nowserving import i18n
from nowserving.config import BranchConfig
from nowserving.protocol.views import BranchState, Line, wait_minutes

LANGUAGES = ("zh", "en")  # the page's switch
COUNTERS_LISTED = 3  # by name; more are counted


@dataclass
class Record:
    """A ticket's record as the server publishes it for the web role (docs/protocol.md)."""

    data: dict

    def __getattr__(self, key: str):
        try:
            return self.data[key]
        except KeyError:
            raise AttributeError(key) from None


def page_language(record: Record, asked: str | None) -> str:
    """The page's language: the one asked for (the switch), else the ticket's."""
    if asked in LANGUAGES:
        return asked
    return record.language if record.language in LANGUAGES else LANGUAGES[0]


def line_places(line: Line) -> dict[str, int]:
    """Each ticket of the line's head by id: its index (the people ahead of it)."""
    return {ticket.id: i for i, ticket in enumerate(line.tickets)}


def ticket_view(config: BranchConfig, state: BranchState | None, line: Line | None,
                record: Record, language: str, now: float,
                places: dict[str, int] | None = None) -> dict:  # fmt: skip
    """The page's content for `record` in `language` at `now` (Unix seconds); `places` is
    `line_places(line)` when the caller keeps it (else it is worked out here)."""
    t = lambda key, **kw: i18n.text(language, f"web.{key}", **kw)  # noqa: E731
    status = record.status
    by = record.data.get("check_in_by")
    if status == "remote" and isinstance(by, int | float) and now > by:
        status = "dropped"  # the server records it when the queue next acts: say it now
    service = config.rules.services.get(record.service)
    view = {
        "status": status,
        "number": record.number,
        "service": service.names.get(language, record.service) if service else record.service,
        "branch": config.names.get(language, config.rules.branch_id),
        "language": language,
        "seq": record.seq,
        "title": t(f"status_{status}"),
        "ahead": None,
        "ahead_text": "",
        "range_text": "",
        "counters_text": "",
        "counter": "",
        "notices": [],
        "stepped_out": record.stepped_out_at is not None,
        "back_by_text": "",
        "head_back": False,
        "can_rate": False,
        "rating": record.rating,
    }
    if state is not None:
        view["notices"] = [n.in_language(language) for n in state.notices if n.until > now]
    if status == "waiting":
        _waiting(view, config, state, line, record, language, now, places)
        _closed_today(view, state, record, language)
    elif status in ("called", "serving"):
        counter = config.rules.counters.get(record.counter or "")
        name = counter.names.get(language, record.counter) if counter else record.counter
        view["counter"] = name or ""
        view["recalls"] = record.recalls
        if status == "called":
            key = "recalled" if record.recalls else "called"
            view["call_text"] = t(key, number=record.number, counter=view["counter"])
    elif status in ("remote", "dropped"):
        _remote(view, config, state, record, status, language)
    elif status == "done":
        # Until the business day ends (the server's rule; the record is of today, or the
        # page is a 404): the customer may look at the phone long after leaving.
        view["can_rate"] = record.rating is None and record.finished_at is not None
    return view


def _waiting(view: dict, config: BranchConfig, state: BranchState | None, line: Line | None,
             record: Record, language: str, now: float,
             places: dict[str, int] | None) -> None:  # fmt: skip
    t = lambda key, **kw: i18n.text(language, f"web.{key}", **kw)  # noqa: E731
    if line is not None:
        index = (line_places(line) if places is None else places).get(record.id)
        if index is not None:
            _in_head(view, config, line, index, language, now)
        elif line.waiting > len(line.tickets) and line.tickets:
            _beyond_head(view, line, record, language, now)
    if state is not None:
        names = [
            c.names.get(language, c.id)
            for c in state.counters
            if record.service in c.services and c.state == "open"
        ]
        joined = ("、" if language == "zh" else ", ").join(names[:COUNTERS_LISTED])
        if len(names) > COUNTERS_LISTED + 1:  # a phone's screen is for the customer's turn
            view["counters_text"] = t("counters_more", names=joined, n=len(names))
        else:
            view["counters_text"] = t("counters", names=joined) if names else t("counters_none")
    if record.back_by:
        local = datetime.fromtimestamp(record.back_by, ZoneInfo(config.rules.timezone))
        view["back_by_text"] = t("back_by", time=f"{local:%H:%M}")


def _remote(view: dict, config: BranchConfig, state: BranchState | None, record: Record,
            status: str, language: str) -> None:  # fmt: skip
    """A remote ticket not in the line yet: how many wait now and the wait if it checked in
    now (the service's newcomer estimate: honest, as it is nobody's place yet), and by when
    to check in; or that it was dropped, and when."""
    t = lambda key, **kw: i18n.text(language, f"web.{key}", **kw)  # noqa: E731
    by = record.data.get("check_in_by")
    if isinstance(by, int | float):
        local = datetime.fromtimestamp(by, ZoneInfo(config.rules.timezone))
        key = "remote_check_in_by" if status == "remote" else "remote_dropped_at"
        view["back_by_text"] = t(key, time=f"{local:%H:%M}")
    service = state.service(record.service) if state is not None else None
    if status != "remote" or service is None:
        return
    view["ahead_text"] = t("remote_waiting", n=service.waiting)
    if service.estimate is not None:
        minutes = service.estimate.minutes
        view["range_text"] = (
            t("remote_range_now") if minutes.now else
            t("remote_range", range=i18n.wait_range(language, minutes.low, minutes.high))
        )  # fmt: skip


def _closed_today(view: dict, state: BranchState | None, record: Record,
                  language: str) -> None:  # fmt: skip
    """A waiting ticket's service closed for the day: say so first among the notices, and
    that its holder is still served."""
    service = state.service(record.service) if state is not None else None
    if service is None or service.closed is None:
        return
    reason = service.closed.reason_in(language)
    words = i18n.text(language, "web.service_closed_reason" if reason else "web.service_closed",
                      service=view["service"], reason=reason)  # fmt: skip
    view["notices"].insert(0, words)


def _in_head(view: dict, config: BranchConfig, line: Line, index: int, language: str,
             now: float) -> None:  # fmt: skip
    t = lambda key, **kw: i18n.text(language, f"web.{key}", **kw)  # noqa: E731
    held = line.tickets[index]
    # The server's count (bookings due included); its place from a server that predates it.
    ahead, estimate = index if held.ahead is None else held.ahead, held.estimate
    view["ahead"] = ahead
    view["ahead_text"] = i18n.ahead_words(language, ahead, held.ahead_appointments, "web")
    if estimate is not None:
        # The estimate is from `estimated_at`: the time since has passed for everyone.
        gone = max(0.0, now - (line.estimated_at or now))
        low, high = max(0.0, estimate.low - gone), max(0.0, estimate.high - gone)
        minutes = wait_minutes(low, high)
        view["range_text"] = (
            t("range_now") if minutes.now else
            t("range", range=i18n.wait_range(language, minutes.low, minutes.high))
        )  # fmt: skip
        view["low_s"] = low
        rules = config.web
        view["head_back"] = view["stepped_out"] and (
            ahead <= rules.head_back_ahead or low <= rules.head_back_s
        )


def _beyond_head(view: dict, line: Line, record: Record, language: str, now: float) -> None:
    """A ticket behind the line's published head (LINE_HEAD tickets): at least that many are
    ahead; the range is the one given at issue, less the time since (never "any moment")."""
    t = lambda key, **kw: i18n.text(language, f"web.{key}", **kw)  # noqa: E731
    view["ahead_text"] = t("ahead_at_least", n=len(line.tickets))
    estimate = record.data.get("estimate")
    if not isinstance(estimate, dict):
        return
    try:
        gone = max(0.0, now - float(record.issued_at))
        low = max(0.0, float(estimate["low"]) - gone)
        high = max(0.0, float(estimate["high"]) - gone)
    except (KeyError, TypeError, ValueError):
        return
    minutes = wait_minutes(low, high)
    if not minutes.now:
        view["range_text"] = t("range", range=i18n.wait_range(language, minutes.low, minutes.high))
        view["low_s"] = low


def back_by(config: BranchConfig, low_s: float | None, now: float) -> float:
    """When a customer who steps out now must be back: the lower bound of their wait, less
    the branch's margin (never before now)."""
    return now + max(0.0, (low_s or 0.0) - config.web.step_out_margin_s)
