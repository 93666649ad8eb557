"""The remote tickets' pages as server-rendered HTML (docs/appointments.md): the branch's
join page, a booking's check-in page, the hall screen with its QR code, and the parts the
ticket page shows while a remote ticket waits to check in."""

from __future__ import annotations

from html import escape

from nowserving import i18n
from nowserving.web.html import head, language_switch
from nowserving.web.qr import qr_svg
from nowserving.web.view import LANGUAGES


def _t(language: str, key: str, **values: object) -> str:
    return escape(i18n.text(language, f"web.{key}", **values))


def spaced(code: str) -> str:
    """A code as shown, in groups of four or five: easier to read and type."""
    size = 5 if len(code) % 5 == 0 else 4
    return " ".join(code[i : i + size] for i in range(0, len(code), size))


def _page(language: str, title: str, here: str, body: list[str], refresh: int = 0) -> str:
    extra = f'<meta http-equiv="refresh" content="{refresh}">' if refresh else ""
    top = (
        f'<body class="status-remote"><header><span class="branch">{escape(title)}</span>'
        f"{language_switch(language, here)}</header><main>"
    )
    return (
        head(language, title, "/static/ticket.css", extra)
        + top
        + "".join(body)
        + ("</main></body></html>")
    )


def _hidden(name: str, value: str) -> str:
    return f'<input type="hidden" name="{name}" value="{escape(value)}">'


def join_page(language: str, branch: str, here: str, csrf: str, services: list[dict],
              error: str = "") -> str:  # fmt: skip
    """The branch's join page: each service that may be joined remotely, with how many
    wait and the likely wait now, as a button."""
    body = [
        f'<h1 class="title">{_t(language, "join_title")}</h1>',
        f"<p>{_t(language, 'join_intro')}</p>",
    ]
    if error:
        body.append(f'<p class="error" role="alert">{escape(error)}</p>')
    if not services:
        body.append(f"<p>{_t(language, 'join_none')}</p>")
    for service in services:
        fields = (
            _hidden("csrf", csrf) + _hidden("lang", language) + _hidden("service", service["id"])
        )
        body.append(
            f'<form method="post" action="{escape(here)}" class="join">{fields}'
            f"<button>{escape(service['name'])}</button>"
            f'<p class="sub">{escape(service["wait"])}</p></form>'
        )
    return _page(language, branch, here, body)


def remote_parts(view: dict, here: str, csrf: str, code: str, hall: str) -> list[str]:
    """What a remote ticket's page shows to check in: the hall code's form (presence in
    the branch) and, for the kiosk, its check-in code and that code's QR."""
    lang = view["language"]
    if view["status"] != "remote":
        return []
    fields = _hidden("csrf", csrf) + _hidden("lang", lang)
    return [
        f'<p class="warn">{_t(lang, "remote_not_in_line")}</p>',
        f'<form method="post" action="{escape(here)}/check-in" class="checkin">{fields}'
        f'<label for="hall">{_t(lang, "remote_hall_prompt")}</label>'
        f'<input id="hall" name="hall" value="{escape(hall)}" autocomplete="off" '
        f'autocapitalize="characters" maxlength="20" required>'
        f"<button>{_t(lang, 'remote_check_in')}</button></form>",
        f'<p class="label">{_t(lang, "remote_kiosk")}</p>',
        f'<p class="code" id="code">{escape(spaced(code))}</p>',
        f'<div class="qrbox">{qr_svg(code)}</div>',
    ]


def booking_page(language: str, branch: str, here: str, csrf: str, hall: str,
                 error: str = "") -> str:  # fmt: skip
    """A booking's page (its code is in the address): check in with the hall code."""
    fields = _hidden("csrf", csrf) + _hidden("lang", language)
    body = [
        f'<h1 class="title">{_t(language, "booking_title")}</h1>',
        f"<p>{_t(language, 'booking_intro')}</p>",
    ]
    if error:
        body.append(f'<p class="error" role="alert">{escape(error)}</p>')
    body.append(
        f'<form method="post" action="{escape(here)}/check-in" class="checkin">{fields}'
        f'<label for="hall">{_t(language, "remote_hall_prompt")}</label>'
        f'<input id="hall" name="hall" value="{escape(hall)}" autocomplete="off" '
        f'autocapitalize="characters" maxlength="20" required>'
        f"<button>{_t(language, 'remote_check_in')}</button></form>"
    )
    return _page(language, branch, here, body)


def here_unknown_page(language: str, branch: str, here: str) -> str:
    """The hall QR opened on a phone that holds no remote ticket or booking page."""
    body = [f'<h1 class="title">{_t(language, "here_title")}</h1>',
            f"<p>{_t(language, 'here_unknown')}</p>"]  # fmt: skip
    return _page(language, branch, here, body)


def hall_screen(names: dict[str, str], link: str, code: str, minutes: int) -> str:
    """The hall screen (a tablet or TV in the branch): the hall code's QR code, the code
    itself, in every language of the page; it reloads itself to follow the code."""
    words = "".join(
        f'<p class="hallwords" lang="{code_}">{_t(code_, "hall_screen", minutes=minutes)}</p>'
        for code_ in LANGUAGES
    )
    title = " · ".join(escape(names.get(c, "")) for c in LANGUAGES if names.get(c))
    body = (
        f'<body class="hall"><main><h1 class="title">{title}</h1>{words}'
        f'<div class="qrbox big">{qr_svg(link)}</div>'
        f'<p class="code" id="hall_code">{escape(spaced(code))}</p></main></body></html>'
    )
    return head(LANGUAGES[0], "hall", "/static/ticket.css",
                '<meta http-equiv="refresh" content="10">') + body  # fmt: skip
