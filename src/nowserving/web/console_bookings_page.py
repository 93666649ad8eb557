"""The console's bookings pages as server-rendered HTML (every text escaped here): a day's
bookings per service with the booking form and cancel buttons, and the answer to a booking
with its code and QR."""

from __future__ import annotations

from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from nowserving import i18n
from nowserving.web.console_page import BASE, _head, _hidden, _t, _top, branch_nav
from nowserving.web.qr import qr_svg

DURATIONS = ("short", "standard", "long")


def _name(names: dict, language: str, default: str) -> str:
    return names.get(language) or next(iter(names.values()), default)


def _bookable(config) -> list:
    return [s for s in config.rules.services.values() if s.bookings_per_hour]


def _status(booking: dict, config, now: float) -> str:
    """The status word's key: a booking still open past its check-in window is a no-show
    already (the server records it when the queue next acts)."""
    status = booking["status"]
    if status == "booked":
        service = config.rules.services.get(booking["service"])
        late_s = service.check_in_late_s if service is not None else 0.0
        if now > booking["at"] + late_s:
            return "no_show"
    return status


def _ref(booking: dict) -> str:
    """The booking system's reference (the console's own form refs say nothing)."""
    ref = booking.get("ref") or ""
    return "" if ref.startswith("console:") else ref


def _hm(config, at: float) -> str:
    return datetime.fromtimestamp(at, ZoneInfo(config.rules.timezone)).strftime("%H:%M")


def _cancel_form(booking: dict, view: dict, here: str, csrf: str) -> str:
    language = view["language"]
    return (
        f'<form method="post" action="{here}/cancel" class="inline cancel">'
        f"{_hidden(csrf, language)}"
        f'<input type="hidden" name="booking" value="{escape(booking["id"])}">'
        f'<input type="hidden" name="day" value="{escape(view["day"])}">'
        f'<label class="confirm"><input type="checkbox" name="confirm" value="yes" required>'
        f"{_t(language, 'bookings_cancel_confirm')}</label>"
        f'<button type="submit" class="danger">{_t(language, "bookings_cancel")}</button>'
        "</form>"
    )


def _service_table(service, rows: list[dict], config, view: dict, here: str, csrf: str) -> str:
    language = view["language"]
    name = _name(service.names, language, service.id)
    head = (
        f"<tr><th>{_t(language, 'bookings_time')}</th><th>{_t(language, 'bookings_status')}</th>"
        f"<th>{_t(language, 'bookings_duration')}</th><th>{_t(language, 'priority')}</th>"
        f"<th>{_t(language, 'bookings_ticket')}</th><th>{_t(language, 'bookings_ref')}</th>"
        "<th></th></tr>"
    )
    body = ""
    for b in rows:
        status = _status(b, config, view["now"])
        priority = config.rules.priorities.get(b["priority"])
        priority_name = _name(priority.names, language, b["priority"]) if priority else ""
        cancel = _cancel_form(b, view, here, csrf) if b["status"] in ("booked", "no_show") else ""
        body += (
            f'<tr id="booking-{escape(b["id"])}" class="{status}">'
            f'<th scope="row">{_hm(config, b["at"])}</th>'
            f'<td class="status">{_t(language, "booking_" + status)}</td>'
            f"<td>{_t(language, 'duration_' + b['duration'])}</td>"
            f"<td>{escape(priority_name)}</td><td>{escape(b.get('number') or '')}</td>"
            f'<td class="ref">{escape(_ref(b))}</td><td>{cancel}</td></tr>'
        )
    if not rows:  # one line, no column heads: a branch with many such services stays short
        head = ""
        body = f'<tr><td colspan="7" class="none">{_t(language, "bookings_none")}</td></tr>'
    return (
        f'<section class="service" id="service-{escape(service.id)}"><h3>{escape(name)} '
        f"<small>{_t(language, 'bookings_per_hour', count=service.bookings_per_hour)}</small>"
        f"</h3><table>{head}{body}</table></section>"
    )


def _book_form(config, view: dict, here: str, csrf: str) -> str:
    language = view["language"]
    services = "".join(
        f'<option value="{escape(s.id)}">{escape(_name(s.names, language, s.id))}</option>'
        for s in _bookable(config)
    )
    durations = "".join(
        f'<option value="{d}"{" selected" if d == "standard" else ""}>'
        f"{_t(language, 'duration_' + d)}</option>"
        for d in DURATIONS
    )
    priorities = "".join(
        f'<option value="{escape(p.id)}">{escape(_name(p.names, language, p.id))}</option>'
        for p in config.rules.priorities.values()
    )
    return (
        f'<section id="book"><h2>{_t(language, "bookings_book")}</h2>'
        f'<form method="post" action="{here}/book">{_hidden(csrf, language)}'
        f'<input type="hidden" name="ref" value="{escape(view["form_ref"])}">'
        f'<label>{_t(language, "service")}<select name="service" required>{services}</select>'
        f'</label><label>{_t(language, "bookings_day")}<input name="day" type="date" '
        f'value="{escape(view["day"])}" required></label>'
        f'<label>{_t(language, "bookings_time")}<input name="time" type="time" required>'
        f'</label><label>{_t(language, "bookings_duration")}<select name="duration">'
        f"{durations}</select></label>"
        f'<label>{_t(language, "priority")}<select name="priority">{priorities}</select>'
        f'</label><label>{_t(language, "bookings_phone")}<input name="phone" type="tel" '
        'inputmode="tel" autocomplete="off" maxlength="20"></label>'
        f'<button type="submit">{_t(language, "bookings_book")}</button></form>'
        f'<p class="hint">{_t(language, "bookings_phone_hint")}</p></section>'
    )


def bookings_page(config, view: dict, account: str, csrf: str) -> str:
    """A day's bookings per bookable service, the day to show, and the booking form."""
    language = view["language"]
    here = f"{BASE}/{view['branch']}/bookings"
    flash = (
        f'<p class="flash" role="status">{escape(view["message"])}</p>' if view["message"] else ""
    )
    rows: dict[str, list[dict]] = {}
    for b in view["bookings"]:
        rows.setdefault(b["service"], []).append(b)
    if view.get("no_log"):
        tables = f'<p class="hint" id="no-log">{_t(language, "bookings_no_log")}</p>'
    else:
        tables = "".join(
            _service_table(s, rows.get(s.id, []), config, view, here, csrf)
            for s in _bookable(config)
        )
    choose = (
        f'<form method="get" action="{here}" class="inline day">'
        f'<input type="hidden" name="lang" value="{language}">'
        f'<label>{_t(language, "bookings_day")}<input name="day" type="date" '
        f'value="{escape(view["day"])}"></label>'
        f'<button type="submit">{_t(language, "bookings_show")}</button></form>'
    )
    title = i18n.text(language, "console.bookings")
    return (
        f"{_head(language, view['name'] + ' · ' + title)}<body>"
        f"{_top(language, account, csrf, here, view['name'])}"
        f"{branch_nav(language, view['branch'], view['rights'], 'bookings')}{flash}"
        f'<main><section id="bookings"><h2>{escape(title)} · {escape(view["day"])}</h2>'
        f"{choose}{tables}</section>{_book_form(config, view, here, csrf)}</main>"
        "</body></html>"
    )


def booked_page(config, language: str, account: str, csrf: str, args: dict, result: dict,
                back: str) -> str:  # fmt: skip
    """The answer to a booking: its code, large and as a QR, when and what for."""
    service = config.rules.services.get(args.get("service"))
    name = _name(service.names, language, service.id) if service is not None else ""
    code = result.get("code") or ""
    picture = (
        f'<figure class="qr">{qr_svg(code)}</figure>'
        if code
        else f'<p class="hint">{_t(language, "bookings_code_gone")}</p>'
    )
    known = result.get("event") == "booking_known"
    heading = "bookings_again" if known else "bookings_made"
    branch_name = config.names.get(language, config.rules.branch_id)
    return (
        f"{_head(language, branch_name + ' · ' + i18n.text(language, 'console.bookings'))}<body>"
        f"{_top(language, account, csrf, back.split('?')[0], branch_name)}"
        f'<main><section id="booked"><h2>{_t(language, heading)}</h2>'
        f"<p>{escape(name)} · {escape(args.get('time', ''))}</p>"
        f'<p class="code" id="code">{escape(code)}</p>{picture}'
        f'<p class="hint">{_t(language, "bookings_tell")}</p>'
        f'<p><a href="{escape(back)}">{_t(language, "bookings_back")}</a></p>'
        "</section></main></body></html>"
    )
