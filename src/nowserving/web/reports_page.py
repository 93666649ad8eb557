"""The console's report page as server-rendered HTML (every text escaped here), its charts
as inline SVG drawn here (no chart library: docs/console.md says why), and the same table
as CSV and XLSX rows."""

from __future__ import annotations

import math
from html import escape

from nowserving import i18n
from nowserving.reports.kpi import GROUPINGS, NOBODY, Report
from nowserving.web.console_page import branch_nav
from nowserving.web.html import head, language_switch

# The table's columns: (measure, kind) — kind "n" a count, "t" seconds shown in minutes,
# "s" a share shown in percent.
COLUMNS = (
    ("issued", "n"), ("served", "n"), ("wait_mean", "t"), ("wait_p50", "t"), ("wait_p90", "t"),
    ("wait_p95", "t"), ("service_mean", "t"), ("service_p50", "t"), ("service_p90", "t"),
    ("within_share", "s"), ("no_shows", "n"), ("cancelled", "n"), ("expired", "n"),
    ("transferred", "n"), ("abandonment", "s"), ("satisfied", "n"), ("neutral", "n"),
    ("unsatisfied", "n"), ("satisfied_share", "s"), ("service_mean_satisfied", "t"),
    ("service_mean_unsatisfied", "t"), ("inside_share", "s"),
)  # fmt: skip
TILES = ("issued", "served", "wait_p50", "wait_p90", "within_share", "abandonment",
         "satisfied_share", "inside_share")  # fmt: skip
KINDS = dict(COLUMNS)


def _t(language: str, key: str, **values: object) -> str:
    return escape(i18n.text(language, f"reports.{key}", **values))


def shown(value: float, kind: str) -> str:
    """A measure as the page shows it: counts whole, times in minutes, shares in percent."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if kind == "t":
        return f"{value / 60:.1f}"
    if kind == "s":
        return f"{value * 100:.0f} %"
    return f"{value:,}"


def exported(value: float, kind: str) -> float | int | None:
    """A measure as CSV and XLSX hold it: counts whole, minutes to 0.01, shares to 0.0001."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if kind == "t":
        return round(value / 60, 2)
    if kind == "s":
        return round(value, 4)
    return int(value)


def group_label(config, by: str, key: object, language: str) -> str:
    """A group's name in `language`: the service's or counter's name, a weekday, an hour."""
    if key == NOBODY:
        return i18n.text(language, "reports.not_called")
    if by == "service" and key in config.rules.services:
        return config.rules.services[key].names.get(language, key)
    if by == "counter" and key in config.rules.counters:
        return config.rules.counters[key].names.get(language, key)
    if by == "staff" and key in config.rules.staff:
        names = config.rules.staff[key].names
        return f"{names.get(language, key)} ({key})" if names else str(key)
    if by == "weekday":
        return i18n.text(language, f"reports.wd_{key}")
    if by == "hour":
        return f"{key:02d}:00"
    return str(key)


def table_rows(config, result: Report, language: str) -> list[list]:
    """The report as rows of cells: a header, one row per group, the total (for CSV/XLSX)."""
    header = [i18n.text(language, f"reports.by_{result.by}")]
    header += [i18n.text(language, f"reports.{m}") for m, _ in COLUMNS]
    rows = [header]
    for key, figures in result.rows:
        label = group_label(config, result.by, key, language)
        rows.append([label, *(exported(figures[m], k) for m, k in COLUMNS)])
    total = [i18n.text(language, "reports.all")]
    rows.append(total + [exported(result.total[m], k) for m, k in COLUMNS])
    return rows


def staff_rows(config, result: Report, language: str) -> list[list]:
    """The staff far from their service's norm, as rows of cells with a header."""
    keys = ("staff", "service", "served", "staff_median", "staff_p90", "service_median", "ratio",
            "satisfied_share")  # fmt: skip
    rows: list[list] = [[i18n.text(language, f"reports.{k}") for k in keys]]
    for o in result.outliers:
        rows.append([
            group_label(config, "staff", o["staff"], language),
            group_label(config, "service", o["service"], language),
            o["served"], exported(o["median"], "t"), exported(o["p90"], "t"),
            exported(o["service_median"], "t"), round(o["ratio"], 2),
            exported(o["satisfied_share"], "s"),
        ])  # fmt: skip
    return rows


# ----- charts ---------------------------------------------------------------------------

COLOURS = ("#2f6fb0", "#e08a1e", "#3a9a5b", "#9b4dca")
LABEL_W = 8.0  # an axis label's width per Latin character (a Chinese one counts two)
TILT = 35  # degrees: labels too long for their slot are slanted, so each shows in full
TILTED_ROOM = 28  # ... up to this many characters' width (14 Chinese ones)


def bar_chart(title: str, labels: list[str], series: list[tuple[str, list[float]]],
              unit: str = "", line: tuple[str, list[float]] | None = None) -> str:  # fmt: skip
    """Grouped bars (one colour per series) over `labels`, with an optional line on a
    right-hand 0-100 % scale; an SVG figure that scales to its box and prints. Labels
    that do not fit under their bars (many services, long names) are slanted."""
    width, left, right, top, plot_h = 960, 48, 48, 14, 202
    n = max(len(labels), 1)
    step = max(1, math.ceil(n / 24))  # at most 24 labels under the bars
    room = max(4, int((width - left - right) / n * step / LABEL_W))  # characters that fit
    tilted = any(_width(label) > room for label in labels[::step])
    drop = 30
    if tilted:  # room below for the longest, and on the left for the first one
        room = TILTED_ROOM
        longest = max(_width(_fit(label, room)) for label in labels) * LABEL_W
        drop = 22 + longest * math.sin(math.radians(TILT))
        left = max(left, int(longest * math.cos(math.radians(TILT)) - (width - left) / n / 2))
    height = top + plot_h + drop + 28
    plot_w = width - left - right
    values = [v for _, vs in series for v in vs if v is not None and not math.isnan(v)]
    peak = _nice(max(values, default=1.0))
    slot = plot_w / n
    bar = max(slot * 0.8 / max(len(series), 1), 0.5)
    parts = [f'<svg viewBox="0 0 {width} {height:.0f}" role="img" aria-label="{escape(title)}" '
             f'class="chart{" tilted" if tilted else ""}">']  # fmt: skip
    for i in range(5):  # the grid and its scale
        y = top + plot_h * i / 4
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" '
                     'class="grid"/>')  # fmt: skip
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" class="axis" text-anchor="end">'
                     f"{_num(peak * (4 - i) / 4)}</text>")  # fmt: skip
    for s, (_, vs) in enumerate(series):
        for i, v in enumerate(vs):
            if v is None or math.isnan(v) or v <= 0:
                continue
            h = plot_h * min(v / peak, 1.0)
            x = left + slot * i + slot * 0.1 + bar * s
            parts.append(f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" '
                         f'height="{h:.1f}" fill="{COLOURS[s]}"><title>{escape(labels[i])}: '
                         f"{_num(v)}{escape(unit)}</title></rect>")  # fmt: skip
    if line is not None:
        points = [
            f"{left + slot * (i + 0.5):.1f},{top + plot_h * (1 - v):.1f}"
            for i, v in enumerate(line[1])
            if v is not None and not math.isnan(v)
        ]
        if points:
            parts.append(f'<polyline points="{" ".join(points)}" class="line"/>')
        for i in range(5):
            parts.append(f'<text x="{width - right + 6}" y="{top + plot_h * i / 4 + 4:.1f}" '
                         f'class="axis">{100 - 25 * i}%</text>')  # fmt: skip
    parts += _labels(labels, left, slot, top + plot_h + 16, step, room, tilted)
    legend = [*(name for name, _ in series), *([line[0]] if line else [])]
    x = left
    for s, name in enumerate(legend):
        colour = COLOURS[s] if s < len(series) else "#c62828"
        parts.append(
            f'<rect x="{x}" y="{height - 14:.0f}" width="12" height="10" fill="{colour}"/>'
            f'<text x="{x + 16}" y="{height - 5:.0f}" class="legend">{escape(name)}</text>'
        )
        x += 28 + 8 * _width(name)
    parts.append("</svg>")
    return f"<figure><figcaption>{escape(title)}</figcaption>{''.join(parts)}</figure>"


def _labels(labels: list[str], left: float, slot: float, base: float, step: int, room: int,
            tilted: bool) -> list[str]:  # fmt: skip
    """The labels under the bars, every `step`th: centred, or slanted to show in full (the
    whole label in its hover title either way)."""
    out = []
    for i in range(0, len(labels), step):
        x = left + slot * (i + 0.5)
        place = (f'text-anchor="end" transform="rotate(-{TILT} {x:.1f} {base})"' if tilted
                 else 'text-anchor="middle"')  # fmt: skip
        out.append(
            f'<text x="{x:.1f}" y="{base}" class="axis" {place}>'
            f"{escape(_fit(labels[i], room))}<title>{escape(labels[i])}</title></text>"
        )
    return out


def _char_width(ch: str) -> int:
    return 2 if ord(ch) > 0x2E80 else 1  # a Chinese character is about two Latin ones wide


def _width(label: str) -> int:
    """`label`'s width in Latin characters (a Chinese one counts two)."""
    return sum(map(_char_width, label))


def _fit(label: str, room: int) -> str:
    """`label` cut to about `room` Latin characters' width (a Chinese one counts two)."""
    width, out = 0, ""
    for ch in label:
        width += _char_width(ch)
        if width > room:
            return out.rstrip() + "…"
        out += ch
    return out


def _nice(peak: float) -> float:
    """A round top for a scale at or above `peak`."""
    if peak <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(peak))
    for step in (1, 2, 2.5, 5, 10):
        if peak <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def _num(v: float) -> str:
    return f"{v:,.0f}" if v >= 100 else f"{v:.2f}".rstrip("0").rstrip(".")  # 1.25, not 1.2


def _charts(config, result: Report, language: str) -> str:
    labels = [group_label(config, result.by, k, language) for k, _ in result.rows]
    rows = [f for _, f in result.rows]
    minutes = i18n.text(language, "reports.minutes_short")
    counts = bar_chart(
        i18n.text(language, "reports.chart_counts"), labels,
        [(i18n.text(language, "reports.issued"), [f["issued"] for f in rows]),
         (i18n.text(language, "reports.served"), [f["served"] for f in rows])],
    )  # fmt: skip
    waits = bar_chart(
        i18n.text(language, "reports.chart_waits"), labels,
        [(i18n.text(language, "reports.wait_p50"), [f["wait_p50"] / 60 for f in rows]),
         (i18n.text(language, "reports.wait_p90"), [f["wait_p90"] / 60 for f in rows])],
        unit=" " + minutes,
    )  # fmt: skip
    speed = bar_chart(
        i18n.text(language, "reports.chart_speed"), labels,
        [(i18n.text(language, "reports.service_mean"), [f["service_mean"] / 60 for f in rows])],
        unit=" " + minutes,
        line=(i18n.text(language, "reports.satisfied_share"), [f["satisfied_share"] for f in rows]),
    )  # fmt: skip
    return f'<section class="charts">{counts}{waits}{speed}</section>'


# ----- the page -------------------------------------------------------------------------


def _header(view: dict) -> str:
    language = view["language"]
    base = view["base"]
    who = i18n.text(language, "console.signed_in_as", account=view["account"])
    return (
        f"<header><h1>{escape(view['name'])} · {_t(language, 'title')}</h1>"
        f'<span class="who">{escape(who)}</span>'
        f"{language_switch(language, base + '/reports')}</header>"
        f"{branch_nav(language, view['branch'], view['rights'], 'reports')}"
    )


def _filters(view: dict) -> str:
    language = view["language"]
    options = "".join(
        f'<option value="{g}"{" selected" if g == view["by"] else ""}>{_t(language, "by_" + g)}'
        "</option>"
        for g in GROUPINGS
    )
    query = escape(view["query"])
    here = escape(view["base"] + "/reports")
    return (
        f'<form method="get" action="{here}" class="filters">'
        f'<input type="hidden" name="lang" value="{language}">'
        f'<label>{_t(language, "from")}<input type="date" name="from" '
        f'value="{escape(view["from"])}" required></label>'
        f'<label>{_t(language, "to")}<input type="date" name="to" value="{escape(view["to"])}" '
        "required></label>"
        f'<label>{_t(language, "by")}<select name="by">{options}</select></label>'
        f'<button type="submit">{_t(language, "show")}</button>'
        f'<a class="button" href="{here}.csv?{query}">{_t(language, "csv")}</a>'
        f'<a class="button" href="{here}.xlsx?{query}">{_t(language, "xlsx")}</a>'
        f'<button type="button" id="print" class="quiet">{_t(language, "print")}</button>'
        "</form>"
    )


def _tiles(result: Report, language: str) -> str:
    tiles = "".join(
        f'<div class="tile"><span>{_t(language, m)}</span>'
        f"<b>{escape(shown(result.total[m], KINDS[m]))}</b></div>"
        for m in TILES
    )
    return f'<section class="tiles">{tiles}</section>'


def _table(config, result: Report, language: str) -> str:
    head_cells = "".join(f'<th scope="col">{_t(language, m)}</th>' for m, _ in COLUMNS)
    by_service = result.by == "service"
    if by_service:
        head_cells = head_cells.replace(
            f'<th scope="col">{_t(language, "no_shows")}',
            f'<th scope="col">{_t(language, "target")}</th><th scope="col">'
            f"{_t(language, 'no_shows')}",
        )

    def cells(key, figures) -> str:
        out = []
        for m, kind in COLUMNS:
            if m == "no_shows" and by_service:
                out.append(_target_cell(result, key, figures, language))
            out.append(f'<td class="num">{escape(shown(figures[m], kind))}</td>')
        return "".join(out)

    body = "".join(
        f'<tr><th scope="row">{escape(group_label(config, result.by, k, language))}</th>'
        f"{cells(k, f)}</tr>"
        for k, f in result.rows
    )
    total = (
        f'<tr class="total"><th scope="row">{_t(language, "all")}</th>'
        f"{cells(None, result.total)}</tr>"
    )
    return (
        f'<section><h2>{_t(language, "table")}</h2><div class="scroll"><table class="report">'
        f'<thead><tr><th scope="col">{_t(language, "by_" + result.by)}</th>{head_cells}</tr>'
        f"</thead><tbody>{body}{total}</tbody></table></div></section>"
    )


def _target_cell(result: Report, key, figures: dict, language: str) -> str:
    if key is None:
        return "<td></td>"
    target = result.targets.get(key)
    text = str(target) if target else "80/10"
    share = target.share if target else 0.8
    if math.isnan(figures["within_share"]):
        return f"<td>{escape(text)}</td>"
    met = figures["within_share"] >= share
    word = _t(language, "met" if met else "missed")
    return f'<td class="{"met" if met else "missed"}">{escape(text)} {word}</td>'


def _outliers(config, result: Report, language: str) -> str:
    if not result.outliers:
        body = f"<p>{_t(language, 'outliers_none')}</p>"
    else:
        head_cells = "".join(
            f'<th scope="col">{escape(str(c))}</th>'
            for c in staff_rows(config, result, language)[0]
        )
        lines = "".join(
            f'<tr><th scope="row">{escape(group_label(config, "staff", o["staff"], language))}</th>'
            f"<td>{escape(group_label(config, 'service', o['service'], language))}</td>"
            + "".join(
                f'<td class="num">{escape(shown(o[k], kind))}</td>'
                for k, kind in (
                    ("served", "n"),
                    ("median", "t"),
                    ("p90", "t"),
                    ("service_median", "t"),
                )  # fmt: skip
            )
            + f'<td class="num">{o["ratio"]:.2f}×</td>'
            f'<td class="num">{escape(shown(o["satisfied_share"], "s"))}</td></tr>'
            for o in result.outliers
        )
        body = f'<table class="report"><thead><tr>{head_cells}</tr></thead>{lines}</table>'
    return f'<section id="outliers"><h2>{_t(language, "outliers")}</h2>{body}</section>'


def reports_page(view: dict, config=None, result: Report | None = None) -> str:
    """The report page: the range and grouping form, then (with a `result`) tiles, charts,
    the table and the staff far from the norm; `view["error"]` in place of them when set."""
    language = view["language"]
    title = f"{view['name']} · {i18n.text(language, 'reports.title')}"
    parts = [head(language, title, "/static/console.css"), '<body class="reports">',
             _header(view), "<main>", _filters(view)]  # fmt: skip
    if view.get("error"):
        parts.append(f'<p class="error" role="alert">{escape(view["error"])}</p>')
    elif result is not None and not result.total["issued"]:
        parts.append(f'<p class="empty">{_t(language, "no_data")}</p>')
    elif result is not None:
        targets = ", ".join(
            f"{group_label(config, 'service', s, language)} {t}" for s, t in result.targets.items()
        )
        parts.append(
            f'<p class="made">{escape(view["made"])}'
            + (f" {_t(language, 'targets', targets=targets)}" if targets else "")
            + "</p>"
        )
        parts += [
            _tiles(result, language),
            _charts(config, result, language),
            _table(config, result, language),
            _outliers(config, result, language),
        ]
    parts.append('</main><script src="/static/reports.js"></script></body></html>')
    return "".join(parts)
