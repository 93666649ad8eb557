"""The head office's pages as server-rendered HTML (every text escaped here): every branch
live, grouped by region, and the cross-branch report with its ranking."""

from __future__ import annotations

from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from nowserving import i18n
from nowserving.web.console_page import BASE, _top
from nowserving.web.html import head
from nowserving.web.reports_page import shown

HERE = f"{BASE}/headoffice"
REFRESH_S = 5
# The report's columns: (measure, kind) as reports_page.shown takes them.
COLUMNS = (("issued", "n"), ("served", "n"), ("within_share", "s"), ("wait_p50", "t"),
           ("wait_p90", "t"), ("service_mean", "t"), ("satisfied_share", "s"),
           ("no_shows", "n"), ("abandonment", "s"))  # fmt: skip
STATUS_CLASS = {"ok": "open", "behind": "paused", "server down": "offline", "stale": "offline"}


def _t(language: str, key: str, **values: object) -> str:
    return escape(i18n.text(language, f"headoffice.{key}", **values))


def _nav(language: str, current: str) -> str:
    pages = (("live", "", "live_title"), ("reports", "/reports", "reports_title"),
             ("staffing", "/staffing", "staffing_title"))  # fmt: skip
    mark = ' aria-current="page"'
    links = "".join(
        f'<a href="{HERE}{path}?lang={language}"{mark if name == current else ""}>'
        f"{_t(language, key)}</a>"
        for name, path, key in pages
    )
    home = f'<a href="{BASE}/?lang={language}">{_t(language, "branches")}</a>'
    return f'<nav class="pages">{home}{links}</nav>'


def _minutes(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds / 60:.0f}"


def live_page(language: str, account: str, csrf: str, rows: list[dict], now: float,
              ingests: list[dict] | None = None) -> str:  # fmt: skip
    """Every branch's state now, one table per region (a region-less group last), under
    the ingest's own health; the script (static/headoffice.js) replaces the board every
    second (a browser without scripts reloads the page every REFRESH_S)."""
    title = i18n.text(language, "headoffice.live_title")
    extra = f'<noscript><meta http-equiv="refresh" content="{REFRESH_S}"></noscript>'
    return (
        f"{head(language, title, '/static/console.css', extra)}"
        f'<body class="headoffice" data-here="{HERE}" data-lang="{language}">'
        f"{_top(language, account, csrf, HERE, title)}{_nav(language, 'live')}"
        f'<main><div id="board">{live_board(language, rows, now, ingests or [])}</div></main>'
        '<script src="/static/headoffice.js"></script></body></html>'
    )


def live_board(language: str, rows: list[dict], now: float, ingests: list[dict]) -> str:
    """The live page's board: when, the ingest's health, then a table per region."""
    sections, region, body = [], None, []

    def close() -> None:
        if region is not None:
            name = region or i18n.text(language, "headoffice.no_region")
            sections.append(
                f'<section class="region"><h2>{escape(name)}</h2><table>{_live_header(language)}'
                f"<tbody>{''.join(body)}</tbody></table></section>"
            )

    for row in rows:
        if row["region_name"] != region:
            close()
            region, body = row["region_name"], []
        body.append(_live_row(language, row))
    close()
    if not rows:
        sections.append(f'<p class="updated">{_t(language, "none_yet")}</p>')
    when = datetime.fromtimestamp(now, ZoneInfo("UTC")).strftime("%H:%M:%S UTC")
    return (
        f'<p class="updated">{_t(language, "updated", time=when)}</p>'
        f"{_ingest_section(language, ingests, now)}{''.join(sections)}"
    )


def _ingest_section(language: str, ingests: list[dict], now: float) -> str:
    """The ingest processes' health: up or not reporting, rows/s, stored, the last error."""
    if not ingests:
        none = _t(language, "ingest_none")
        return f'<section class="ingest"><p class="alert">{none}</p></section>'
    rows = []
    for i in ingests:
        state = "ingest_up" if i["up"] else "ingest_silent"
        error = i["last_error"]
        last = _t(language, "ingest_no_error")
        if error is not None:
            ago = _minutes(max(0.0, now - (error["at"] or now)))
            last = _t(language, "ingest_error", minutes=ago, message=error["message"])
        started = datetime.fromtimestamp(i["started_at"], ZoneInfo("UTC"))
        said = _t(language, state, seconds=f"{i['reported_s_ago']:.0f}")
        rows.append(
            f'<tr class="{"open" if i["up"] else "offline"}">'
            f'<th scope="row">{escape(i["client_id"])}</th>'
            f'<td class="state">{said}</td>'
            f'<td class="num">{i["rows_per_s"]:,.0f}</td>'
            f'<td class="num">{i["stored"]:,}</td>'
            f"<td>{started:%Y-%m-%d %H:%M} UTC</td><td>{last}</td></tr>"
        )
    cells = "".join(f'<th scope="col">{_t(language, k)}</th>' for k in
                    ("ingest", "ingest_state", "ingest_rate", "ingest_stored",
                     "ingest_started", "ingest_last_error"))  # fmt: skip
    return (
        f'<section class="ingest"><h2>{_t(language, "ingest_title")}</h2><table>'
        f"<thead><tr>{cells}</tr></thead><tbody>{''.join(rows)}</tbody></table></section>"
    )


def _live_header(language: str) -> str:
    cells = "".join(
        f'<th scope="col">{_t(language, key)}</th>'
        for key in (
            "branch",
            "status",
            "counters_open",
            "waiting",
            "longest_wait",
            "served_today",
            "sla_today",
            "devices_down",
            "lag",
            "gaps_repaired",
        )  # fmt: skip
    )
    return f"<thead><tr>{cells}</tr></thead>"


def _live_row(language: str, row: dict) -> str:
    status = row["status"]
    sla = "—" if row["sla"] is None else f"{row['sla'] * 100:.0f} %"
    down = "—" if row["devices_down"] is None else str(row["devices_down"])
    if row.get("devices_down_names"):
        names = ", ".join(row["devices_down_names"])
        down = _t(language, "devices_down_list", count=row["devices_down"], names=names)
    lag = "—" if row["lag"] is None else f"{row['lag']:,}"
    link = f"{BASE}/{escape(row['branch'])}?lang={language}"
    return (
        f'<tr class="{STATUS_CLASS.get(status, "")}" data-branch="{escape(row["branch"])}">'
        f'<th scope="row"><a href="{link}">{escape(row["name"])}</a>'
        f"<small>{escape(row['branch'])}</small></th>"
        f'<td class="state">{_t(language, "status_" + status.replace(" ", "_"))}</td>'
        f'<td class="num">{row["counters_open"]} / {row["counters_known"]}</td>'
        f'<td class="num">{row["waiting"]}</td>'
        f'<td class="num">{_minutes(row["longest_wait_s"])}</td>'
        f'<td class="num">{row["served"]}</td><td class="num">{sla}</td>'
        f'<td class="num">{down}</td>'
        f'<td class="num">{lag}</td>'
        f'<td class="num">{row["gaps_repaired"]:,}</td></tr>'
    )


def reports_page(view: dict, answer) -> str:
    """The cross-branch report: the query form, the ranked table, the total."""
    language = view["language"]
    title = i18n.text(language, "headoffice.reports_title")
    error = f'<p class="error" role="alert">{escape(view["error"])}</p>' if view["error"] else ""
    table = ""
    if answer is not None:
        report, ranked, regions, dims = answer
        table = _report_table(language, view["by"], ranked, report.total, regions, dims,
                              view.get("services", {}))  # fmt: skip
        if report.as_of is not None:  # a month's summary made before its latest rebuilds
            when = datetime.fromtimestamp(report.as_of, ZoneInfo("UTC")).strftime("%H:%M UTC")
            note = _t(language, "summary_as_of", time=when, minutes=5)
            table = f'<p class="updated">{note}</p>{table}'

    return (
        f'{head(language, title, "/static/console.css")}<body class="headoffice">'
        f"{_top(language, view['account'], view['csrf'], HERE + '/reports', title)}"
        f"{_nav(language, 'reports')}<main>{_form(view)}{error}{table}</main></body></html>"
    )


def _form(view: dict) -> str:
    from nowserving.reports.crossbranch import GROUPS, RANKINGS

    language = view["language"]

    def options(values, chosen, prefix):
        return "".join(
            f'<option value="{v}"{" selected" if v == chosen else ""}>'
            f"{_t(language, prefix + v)}</option>"
            for v in values
        )

    return (
        f'<section><form method="get" action="{HERE}/reports" class="staffing-ask">'
        f'<input type="hidden" name="lang" value="{language}">'
        f"<label>{_t(language, 'from')}"
        f'<input type="date" name="from" value="{view["from"]}"></label>'
        f'<label>{_t(language, "to")}<input type="date" name="to" value="{view["to"]}"></label>'
        f'<label>{_t(language, "by")}<select name="by">{options(GROUPS, view["by"], "by_")}'
        f"</select></label>"
        f'<label>{_t(language, "rank")}<select name="rank">'
        f"{options(RANKINGS, view['rank'], 'm_')}</select></label>"
        f'<button type="submit">{_t(language, "show")}</button></form></section>'
    )


def _label(language: str, by: str, key: str, regions: dict, dims: dict,
           services: dict) -> str:  # fmt: skip
    """A row's name: a branch's or region's, or a service's where a config this role
    serves names it (`services`: {id: {language: name}}), else its id."""
    if by == "branch":
        dim = dims.get(key)
        return (dim[1] if language == "zh" else dim[2]) if dim else key
    if by == "region":
        if not key:
            return i18n.text(language, "headoffice.no_region")
        return (regions.get(key) or {}).get(language, key)
    return (services.get(key) or {}).get(language, key) if by == "service" else key


def _report_table(language: str, by: str, ranked, total: dict, regions, dims,
                  services: dict) -> str:  # fmt: skip
    head_cells = "".join(f'<th scope="col">{_t(language, "m_" + m)}</th>' for m, _ in COLUMNS)
    rows = []
    for rank, key, figures in ranked:
        cells = "".join(f'<td class="num">{shown(figures[m], k)}</td>' for m, k in COLUMNS)
        label = escape(_label(language, by, key, regions, dims, services))
        small = f"<small>{escape(key)}</small>" if by in ("branch", "service") else ""
        rows.append(f'<tr data-key="{escape(key)}"><td class="num">{rank}</td>'
                    f'<th scope="row">{label}{small}</th>{cells}</tr>')  # fmt: skip
    total_cells = "".join(f'<td class="num">{shown(total[m], k)}</td>' for m, k in COLUMNS)
    empty = "" if rows else f'<p class="updated">{_t(language, "no_data")}</p>'
    return (
        f'<section class="report"><table><thead><tr><th scope="col">#</th>'
        f'<th scope="col">{_t(language, "by_" + by)}</th>{head_cells}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody><tfoot><tr><td></td>"
        f'<th scope="row">{_t(language, "total")}</th>{total_cells}</tr></tfoot></table>'
        f"{empty}</section>"
    )
