"""The staffing page as server-rendered HTML (every text escaped here): the form (weekday,
date range, target) and the advice table, in the page's language."""

from __future__ import annotations

import math
from html import escape

from nowserving import i18n
from nowserving.reports.history import WEEKDAYS
from nowserving.reports.staffing import Row, ServiceNames, Target
from nowserving.web.console_page import BASE, _t, _top, branch_nav
from nowserving.web.html import head

REFRESH_S = 2  # the "working on it" page reloads itself this often


def staffing_page(page: dict) -> str:
    """The whole page from what `StaffingPages.page` gathered."""
    language, branch, config = page["language"], page["branch"], page["config"]
    name = config.names.get(language, branch)
    here = f"{BASE}/{branch}/staffing"
    title = f"{i18n.text(language, 'console.staffing')} · {name}"
    refresh = f'<meta http-equiv="refresh" content="{REFRESH_S}">' if page["working"] else ""
    return (
        head(language, title, "/static/console.css", refresh)
        + f'<body class="staffing">{_top(language, page["account"], page["csrf"], here, name)}'
        f"{branch_nav(language, branch, page['rights'], 'staffing')}<main>"
        f'<section id="staffing"><h2>{_t(language, "staffing")}</h2>'
        f"{_form(page, here)}{_body(page)}</section>"
        f'<p class="hint">{_t(language, "staffing_help")}</p></main></body></html>'
    )


def _form(page: dict, here: str) -> str:
    language = page["language"]
    return (
        f'<form method="get" action="{here}" class="staffing-ask">'
        f'<input type="hidden" name="lang" value="{language}">'
        f"{ask_fields(language, page['ask'])}</form>"
    )


def ask_fields(language: str, ask) -> str:
    """The question's fields and its button: weekday, days from and to, target (the branch
    console's form and the head office's, which adds the branch before them)."""
    days = "".join(
        f'<option value="{d}"{" selected" if d == ask.weekday else ""}>'
        f"{_t(language, f'weekday_{d}')}</option>"
        for d in WEEKDAYS
    )
    first = ask.first.isoformat() if ask.first else ""
    last = ask.last.isoformat() if ask.last else ""
    return (
        f'<label>{_t(language, "weekday")}<select name="weekday">{days}</select></label>'
        f'<label>{_t(language, "from")}<input type="date" name="from" value="{first}"></label>'
        f'<label>{_t(language, "to")}<input type="date" name="to" value="{last}"></label>'
        f'<label>{_t(language, "target")}<input name="target" value="{escape(ask.target)}" '
        'size="6" maxlength="12" pattern="[0-9.]+/[0-9.]+"></label>'
        f'<button type="submit">{_t(language, "advise")}</button>'
    )


def _body(page: dict) -> str:
    language = page["language"]
    if not page["has_log"]:
        return f'<p class="error" role="alert">{_t(language, "staffing_no_log")}</p>'
    if page["error"]:
        detail = page["advice"].error if page["advice"] is not None else ""
        words = _t(language, f"staffing_{page['error']}")
        extra = f"<small>{escape(detail)}</small>" if detail else ""
        return f'<p class="error" role="alert">{words}{extra}</p>'
    if page["working"]:
        return f'<p class="working" role="status">{_t(language, "staffing_working")}</p>'
    advice = page["advice"]
    if advice is None:
        return f'<p class="hint">{_t(language, "staffing_ask")}</p>'
    return _table(page, advice)


def _heading(page: dict, service: str, span: int) -> str:
    """A service's (or group's) rows' heading: its name in the page's language; on the head
    office's page its id under it (a group's: its services' ids), as its report names them.
    Its names: `page["services"]` (a `ServiceNames`: the head office's, from the config the
    web role serves or from `branch_dim`), else the branch config's; none: its ids."""
    names = page.get("services")
    if names is None and page["config"] is not None:
        names = ServiceNames.of(page["config"])
    name = service if names is None else names.labels(page["language"]).get(service, service)
    ids = ""
    if page.get("ids") and names is not None:
        ids = " · ".join(names.members(service)) if service in names.groups else service
    small = f"<small>{escape(ids)}</small>" if ids and ids != name else ""
    return (f'<tr class="group" data-service="{escape(service)}"><th colspan="{span}" '
            f'scope="rowgroup">{escape(name)}{small}</th></tr>')  # fmt: skip


def _cell(value, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return format(value, fmt)


def _table(page: dict, advice) -> str:
    language = page["language"]
    target = Target.parse(page["ask"].target)
    caption = i18n.text(language, "staffing.title", share=round(target.share * 100),
                        minutes=round(target.wait_s / 60), days=advice.days)  # fmt: skip
    heads = ("hour", "arrivals", "service_time", "had", "got", "erlang_c", "erlang_a",
             "simulated")  # fmt: skip
    head = "".join(f'<th scope="col">{_t(language, f"col_{k}")}</th>' for k in heads)
    body = []
    for service in dict.fromkeys(r.service for r in advice.rows):
        body.append(_heading(page, service, len(heads)))
        body += [_row(r, target) for r in advice.rows if r.service == service]
    return (
        f'<table id="advice"><caption>{escape(caption)}</caption><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _row(r: Row, target: Target) -> str:
    proposed = r.proposed
    short = proposed is not None and r.had + 0.5 < proposed  # had fewer than it needed
    missed = not math.isnan(r.level_got) and r.level_got < target.share
    sim = "–" if r.simulated is None else f"{r.simulated[0]:.0%} ± {_cell(r.simulated[1], '.0%')}"
    cells = (
        (f"{r.hour:02d}:00", ""),
        (_cell(r.arrivals_per_hour, ".1f"), "num"),
        (_cell(r.mean_service_s / 60, ".1f"), "num"),
        (_cell(r.had, ".1f"), "num short" if short else "num"),
        (_cell(r.level_got, ".0%"), "num missed" if missed else "num"),
        (_cell(None if r.erlang_c is None else r.erlang_c.counters, "d"), "num"),
        (_cell(None if r.erlang_a is None else r.erlang_a.counters, "d"), "num"),
        (sim, "num"),
    )
    return "<tr>" + "".join(f'<td class="{c}">{escape(v)}</td>' for v, c in cells) + "</tr>"
