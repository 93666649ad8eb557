"""The ticket page as server-rendered HTML: readable without JavaScript; the shipped script
(static/ticket.js) keeps it current from the same data (`view.ticket_view`)."""

from __future__ import annotations

from html import escape

from nowserving import i18n
from nowserving.web.html import head, language_switch
from nowserving.web.remote_page import remote_parts
from nowserving.web.view import LANGUAGES

RATINGS = ("satisfied", "neutral", "unsatisfied")


def _t(language: str, key: str, **values: object) -> str:
    return escape(i18n.text(language, f"web.{key}", **values))


def _head(language: str, title: str, refresh: bool) -> str:
    # Without JavaScript the page reloads itself every 20 s: still current, if slower.
    again = '<noscript><meta http-equiv="refresh" content="20"></noscript>' if refresh else ""
    return head(language, title, "/static/ticket.css", again)


def ticket_page(
    view: dict,
    here: str,
    csrf: str,
    confirm: bool = False,
    error: bool = False,
    remote: tuple[str, str] = ("", ""),
) -> str:
    """The page of one ticket; `here` is its path (no query), `csrf` the forms' word;
    `remote`: a remote ticket's check-in code and the hall code its hall link brought."""
    lang = view["language"]
    status = view["status"]
    body = [
        f'<body class="status-{status}" data-here="{escape(here)}" data-lang="{lang}" '
        f'data-seq="{view["seq"]}">',
        f'<header><span class="branch">{escape(view["branch"])}</span>'
        f"{language_switch(lang, here)}</header>",
        "<main>",
        f'<p class="label">{_t(lang, "your_number")}</p>',
        f'<h1 id="number">{escape(view["number"])}</h1>',
        f'<p id="service">{escape(view["service"])}</p>',
        f'<p id="title" class="state">{escape(view["title"])}</p>',
    ]
    if error:
        words = escape(view.get("error_text") or i18n.text(lang, "web.failed"))
        body.append(f'<p class="error" role="alert">{words}</p>')
    for key in ("ahead_text", "range_text", "counters_text", "back_by_text"):
        hidden = "" if view.get(key) else " hidden"
        body.append(f'<p id="{key}"{hidden}>{escape(view.get(key, ""))}</p>')
    hidden = "" if view["head_back"] else " hidden"
    body.append(f'<p id="head_back" class="warn"{hidden}>{_t(lang, "head_back")}</p>')
    notices = "".join(f"<li>{escape(n)}</li>" for n in view["notices"])
    body.append(f'<ul id="notices" class="notices">{notices}</ul>')
    body += remote_parts(view, here, csrf, *remote)
    body += _actions(view, here, csrf, confirm)
    call = escape(view.get("call_text", ""))
    hidden = "" if status == "called" else " hidden"
    body.append(
        f'<section id="call" class="call" role="alert"{hidden}><p class="callnum">{call}</p>'
        f'<p class="hint">{_t(lang, "call_hint")}</p></section>'
    )
    body.append("</main>")
    body.append('<script src="/static/ticket.js" defer></script></body></html>')
    return _head(lang, f"{view['number']} · {view['title']}", True) + "".join(body)


def _form(here: str, action: str, csrf: str, button: str, extra: str = "", cls: str = "") -> str:
    return (
        f'<form method="post" action="{here}/{action}"><input type="hidden" name="csrf" '
        f'value="{csrf}">{extra}<button class="{cls}">{button}</button></form>'
    )


def _actions(view: dict, here: str, csrf: str, confirm: bool) -> list[str]:
    lang, status = view["language"], view["status"]
    lang_q = f'<input type="hidden" name="lang" value="{lang}">'
    out = []
    if status == "waiting" and confirm:
        out.append(f'<p class="confirm">{_t(lang, "cancel_confirm")}</p>')
        out.append(_form(here, "cancel", csrf, _t(lang, "cancel_yes"), lang_q, "danger"))
        out.append(f'<a class="button" href="{here}?lang={lang}">{_t(lang, "cancel_no")}</a>')
    elif status == "waiting":
        if not view["stepped_out"]:
            out.append(_form(here, "step-out", csrf, _t(lang, "step_out"), lang_q))
        out.append(
            f'<a class="button quiet" href="{here}?lang={lang}&amp;confirm=cancel">'
            f"{_t(lang, 'cancel')}</a>"
        )
    elif view["can_rate"]:
        out.append(f'<p class="label">{_t(lang, "rate_prompt")}</p><div class="rate">')
        for rating in RATINGS:
            extra = f'{lang_q}<input type="hidden" name="rating" value="{rating}">'
            out.append(_form(here, "rate", csrf, _t(lang, f"rate_{rating}"), extra, rating))
        out.append("</div>")
    elif status == "done" and view["rating"]:
        out.append(f'<p class="thanks">{_t(lang, "rated")}</p>')
    return out


def not_found_page() -> str:
    """The one answer for every unknown branch or token: the same bytes every time."""
    words = " / ".join(escape(i18n.text(code, "web.not_found")) for code in LANGUAGES)
    return (
        _head("zh", "404", False)
        + f'<body class="status-none"><main><h1>404</h1><p>{words}</p></main></body></html>'
    )
