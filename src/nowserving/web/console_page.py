"""The console's pages as server-rendered HTML (every text escaped here): sign-in, the
branch list and the live page, whose board (`board`) the script (static/console.js)
replaces with each update the server pushes."""

from __future__ import annotations

from html import escape

from nowserving import i18n
from nowserving.protocol.vocabulary import PAUSE_REASONS
from nowserving.web.console_view import reason_text
from nowserving.web.html import head, language_switch

BASE = "/console"


def _t(language: str, key: str, **values: object) -> str:
    return escape(i18n.text(language, f"console.{key}", **values))


def _head(language: str, title: str) -> str:
    return head(language, title, "/static/console.css")


def _hidden(csrf: str, language: str) -> str:
    return (
        f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
        f'<input type="hidden" name="lang" value="{language}">'
    )


def sign_in_page(language: str, csrf: str, error: str = "") -> str:
    """The sign-in form (`error`: the message to show above it, already in words)."""
    title = _t(language, "title")
    message = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    return (
        f'{_head(language, i18n.text(language, "console.title"))}<body class="signin">'
        f"<main><header><h1>{title}</h1>{language_switch(language, BASE + '/')}</header>{message}"
        f'<form method="post" action="{BASE}/sign-in" class="signin">{_hidden(csrf, language)}'
        f'<label>{_t(language, "account")}<input name="account" autocomplete="username" '
        'required maxlength="40" autofocus></label>'
        f'<label>{_t(language, "password")}<input name="password" type="password" '
        'autocomplete="current-password" required maxlength="200"></label>'
        f'<button type="submit">{_t(language, "sign_in")}</button></form></main></body></html>'
    )


def _top(language: str, account: str, csrf: str, here: str, name: str) -> str:
    return (
        f"<header><h1>{escape(name)}</h1>"
        f'<span class="who">{_t(language, "signed_in_as", account=account)}</span>'
        f"{language_switch(language, here)}"
        f'<form method="post" action="{BASE}/sign-out" class="inline">{_hidden(csrf, language)}'
        f'<button type="submit" class="quiet">{_t(language, "sign_out")}</button></form>'
        "</header>"
    )


def branches_page(language: str, account: str, csrf: str, branches: list[tuple[str, str]],
                  head_office: bool = False) -> str:  # fmt: skip
    """The branches this account sees: (id, name) each, a link to its live page (and, for
    a head-office account, links to the head office's pages)."""
    items = "".join(
        f'<li><a href="{BASE}/{escape(b)}?lang={language}">{escape(name)}</a></li>'
        for b, name in branches
    )
    return (
        f"{_head(language, i18n.text(language, 'console.title'))}<body>"
        f"{_top(language, account, csrf, BASE + '/', i18n.text(language, 'console.title'))}"
        f"<main>{_head_office_links(language) if head_office else ''}"
        f'<h2>{_t(language, "branches")}</h2><ul class="branches">{items}</ul>'
        "</main></body></html>"
    )


def _head_office_links(language: str) -> str:
    links = "".join(
        f'<li><a href="{BASE}/headoffice{path}?lang={language}">'
        f"{escape(i18n.text(language, f'headoffice.{key}'))}</a></li>"
        for path, key in (("", "live_title"), ("/reports", "reports_title"))
    )
    title = escape(i18n.text(language, "headoffice.title"))
    return f'<h2>{title}</h2><ul class="branches">{links}</ul>'


def branch_nav(language: str, branch: str, rights, current: str) -> str:
    """The links between a branch's pages this account may open (the current one marked)."""
    pages = [("live", "", "live")] + [
        (p, f"/{p}", p) for p in ("bookings", "reports", "staffing") if p in rights
    ]
    mark = ' aria-current="page"'
    links = "".join(
        f'<a href="{BASE}/{escape(branch)}{path}?lang={language}"'
        f"{mark if name == current else ''}>{_t(language, key)}</a>"
        for name, path, key in pages
    )
    return f'<nav class="pages">{links}</nav>'


def live_page(view: dict, account: str, csrf: str, message: str = "") -> str:
    """A branch's live page: header, the notice form, and the board the script updates."""
    language = view["language"]
    here = f"{BASE}/{view['branch']}"
    rights = view.get("rights", ())
    flash = f'<p class="flash" role="status">{escape(message)}</p>' if message else ""
    forms = _notice_form(language, here, csrf) if "notices" in rights else ""
    if "services" in rights:
        forms += _close_service_form(view, here, csrf)
    return (
        f"{_head(language, view['name'] + ' · ' + i18n.text(language, 'console.title'))}"
        f'<body data-here="{escape(here)}" data-lang="{language}">'
        f"{_top(language, account, csrf, here, view['name'])}"
        f"{branch_nav(language, view['branch'], rights, 'live')}{flash}"
        f'<main><div id="board">{board(view, csrf)}</div>{forms}</main>'
        '<script src="/static/console.js"></script></body></html>'
    )


def forbidden_page(language: str, account: str, role: str, csrf: str, branch: str, name: str,
                   right: str) -> str:  # fmt: skip
    """403: what this account's role may not do here, and the way back."""
    here = f"{BASE}/{branch}"
    role_name = i18n.text(language, f"console.role_{role}")
    what = i18n.text(language, f"console.right_{right}")
    return (
        f"{_head(language, '403 · ' + i18n.text(language, 'console.title'))}<body>"
        f"{_top(language, account, csrf, here, name)}"
        f'<main><section id="forbidden"><h2>{_t(language, "forbidden_title")}</h2>'
        f"<p>{_t(language, 'forbidden', role=role_name, what=what)}</p>"
        f'<p><a href="{here}?lang={language}">{_t(language, "back_to_live")}</a></p>'
        "</section></main></body></html>"
    )


def board(view: dict, csrf: str) -> str:
    """The part of the live page that changes: alerts, counters, lines, notices, devices."""
    here = f"{BASE}/{view['branch']}"
    server = "ok" if view["server_online"] else "down"
    hours = (
        f' · <span class="hours {view["hours"]}">{escape(view["hours_text"])}</span>'
        if view.get("hours_text")
        else ""
    )
    return (
        f'<p class="updated">{escape(view["updated"])} · '
        f'<span class="server {server}">{escape(view["server_text"])}</span>{hours}</p>'
        f"{_alerts(view)}{_counters(view, here, csrf)}{_lines(view, here, csrf)}"
        f"{_notices(view, here, csrf)}{_devices(view)}"
    )


def _alerts(view: dict) -> str:
    language = view["language"]
    if not view["alerts"]:
        return f'<section id="alerts" class="calm"><h2>{_t(language, "alerts")}</h2>' \
               f'<p>{_t(language, "no_alerts")}</p></section>'  # fmt: skip
    items = "".join(_alert(item) for item in view["alert_items"])
    return f'<section id="alerts" class="alarm"><h2>{_t(language, "alerts")}</h2>' \
           f"<ul>{items}</ul></section>"  # fmt: skip


def _alert(item: dict) -> str:
    """One alert; a folded one (many late lines, many devices offline) with all of them
    behind a native disclosure, which the script keeps open across updates by its id."""
    text = f'<li class="{item["level"]}">{escape(item["text"])}'
    if not item["more"]:
        return text + "</li>"
    more = "".join(f"<li>{escape(a)}</li>" for a in item["more"])
    return (
        f'{text}<details id="alerts-{item["kind"]}"><summary>{escape(item["summary"])}'
        f"</summary><ul>{more}</ul></details></li>"
    )


def _counter_actions(row: dict, language: str, here: str, csrf: str, rights) -> str:
    if "counters" not in rights:
        return ""
    hidden = (
        _hidden(csrf, language)
        + f'<input type="hidden" name="counter" value="{escape(row["id"])}">'
    )
    if row["state"] == "open":
        options = "".join(
            f'<option value="{r}">{escape(reason_text(language, r))}</option>'
            for r in PAUSE_REASONS
        )
        return (
            f'<form method="post" action="{here}/pause" class="inline">{hidden}'
            f'<select name="reason" aria-label="{_t(language, "reason")}">{options}</select>'
            f'<button type="submit">{_t(language, "pause")}</button></form>'
        )
    return (
        f'<form method="post" action="{here}/open" class="inline">{hidden}'
        f'<button type="submit">{_t(language, "open")}</button></form>'
    )


def _noted(text: str, note: str) -> str:
    """A counter's cell: its text, and a note on a short line of its own under it (who works
    there and "not signed in"; the ticket served and for how long)."""
    return escape(text) + (f"<small>{escape(note)}</small>" if note else "")


def _counters(view: dict, here: str, csrf: str) -> str:
    language = view["language"]
    rows = "".join(
        f'<tr id="counter-{escape(c["id"])}" class="{escape(c["state"])}">'
        f'<th scope="row">{escape(c["name"])}<small>{escape(c["services"])}</small></th>'
        f'<td class="state">{escape(c["state_text"])}</td>'
        f'<td class="staff">{_noted(c["staff"], c["staff_note"])}</td>'
        f'<td class="ticket">{_noted(c["ticket"], c["ticket_note"])}</td>'
        f'<td class="served">{escape(c["served"])}</td>'
        f"<td>{_counter_actions(c, language, here, csrf, view.get('rights', ()))}</td></tr>"
        for c in view["counters"]
    )
    return f'<section id="counters"><h2>{_t(language, "counters")}</h2>' \
           f"<table>{rows}</table></section>"  # fmt: skip


def _reopen(row: dict, language: str, here: str, csrf: str, rights) -> str:
    if not row.get("closed") or "services" not in rights:
        return ""
    return (
        f'<form method="post" action="{here}/reopen-service" class="inline">'
        f'{_hidden(csrf, language)}<input type="hidden" name="service" '
        f'value="{escape(row["id"])}"><button type="submit">{_t(language, "reopen")}'
        "</button></form>"
    )


def _line_class(row: dict) -> str:
    names = [n for n, on in (("late", row["late"]), ("closed", row.get("closed")),
                             ("stopped", row.get("stopped"))) if on]  # fmt: skip
    return f' class="{" ".join(names)}"' if names else ""


def _lines(view: dict, here: str, csrf: str) -> str:
    language = view["language"]
    rights = view.get("rights", ())
    head = (
        f"<tr><th></th><th>{_t(language, 'waiting')}</th><th>{_t(language, 'longest')}</th>"
        f"<th>{_t(language, 'range80')}</th><th>{_t(language, 'priority')}</th><th></th></tr>"
    )
    rows = "".join(
        f'<tr id="line-{escape(row["id"])}"{_line_class(row)}>'
        f'<th scope="row">{escape(row["name"])}'
        + (
            f'<small class="closed">{escape(row["closed_text"])}</small>'
            if row.get("closed")
            else f'<small class="stopped">{escape(row["stopped"])}</small>'
            if row.get("stopped")
            else ""
        )
        + f'</th><td class="num">{row["waiting"]}</td>'
        f"<td>{escape(row['longest'])}</td><td>{escape(row['range'])}</td>"
        f'<td class="num">{row["priority"]}</td>'
        f"<td>{_reopen(row, language, here, csrf, rights)}</td></tr>"
        for row in view["lines"]
    )
    return f'<section id="lines"><h2>{_t(language, "lines")}</h2>' \
           f"<table>{head}{rows}</table></section>"  # fmt: skip


def _notices(view: dict, here: str, csrf: str) -> str:
    language = view["language"]
    may = "notices" in view.get("rights", ())
    if not view["notices"]:
        items = f'<li class="none">{_t(language, "no_notices")}</li>'
    else:
        items = "".join(
            '<li class="notice">'
            + "".join(f'<span lang="{escape(k)}">{escape(v)}</span>' for k, v in n["texts"].items())
            + f"<small>{_t(language, 'until', time=n['until'])}</small>"
            + (
                f'<form method="post" action="{here}/take-down" class="inline">'
                f'{_hidden(csrf, language)}<input type="hidden" name="notice" '
                f'value="{escape(str(n["id"]))}"><button type="submit">'
                f"{_t(language, 'take_down')}</button></form>"
                if may
                else ""
            )
            + "</li>"
            for n in view["notices"]
        )
    return f'<section id="notices"><h2>{_t(language, "notices")}</h2><ul>{items}</ul></section>'


def _devices(view: dict) -> str:
    language = view["language"]
    rows = "".join(
        f'<tr class="{"online" if d["online"] else "offline"}"><th scope="row">{escape(d["id"])}'
        f"<small>{escape(d['role'])}</small></th><td>{escape(d['state_text'])}</td>"
        f"<td>{escape('; '.join(d['notes']))}</td></tr>"
        for d in view["devices"]
    )
    return f'<section id="devices"><h2>{_t(language, "devices")}</h2>' \
           f"<table>{rows}</table></section>"  # fmt: skip


def _notice_form(language: str, here: str, csrf: str) -> str:
    return (
        f'<section id="post"><h2>{_t(language, "post")}</h2>'
        f'<form method="post" action="{here}/notice">{_hidden(csrf, language)}'
        f'<label>{_t(language, "text_zh")}<input name="text_zh" maxlength="200"></label>'
        f'<label>{_t(language, "text_en")}<input name="text_en" maxlength="200"></label>'
        f'<label>{_t(language, "for_minutes")}<input name="minutes" type="number" min="1" '
        'max="1440" value="60" required></label>'
        f'<button type="submit">{_t(language, "post")}</button></form></section>'
    )


def _close_service_form(view: dict, here: str, csrf: str) -> str:
    """Close a service for the rest of the day: which, why (each language), and a box to
    tick that says what it does (the browser and the server both want it)."""
    language = view["language"]
    options = "".join(
        f'<option value="{escape(row["id"])}">{escape(row["name"])}</option>'
        for row in view["lines"]
    )
    return (
        f'<section id="close-service"><h2>{_t(language, "close_service")}</h2>'
        f'<p class="hint">{_t(language, "close_service_rule")}</p>'
        f'<form method="post" action="{here}/close-service">{_hidden(csrf, language)}'
        f'<label>{_t(language, "service")}<select name="service" required>{options}</select>'
        f'</label><label>{_t(language, "reason_zh")}<input name="reason_zh" maxlength="120">'
        f'</label><label>{_t(language, "reason_en")}<input name="reason_en" maxlength="120">'
        f'</label><label class="confirm"><input type="checkbox" name="confirm" value="yes" '
        f"required>{_t(language, 'close_service_confirm')}</label>"
        f'<button type="submit" class="danger">{_t(language, "close_service")}</button>'
        "</form></section>"
    )
