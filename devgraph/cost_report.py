"""What ``devgraph cost report`` and the cost loaders print: tables, JSON and an SVG trend chart.

The chart is plain SVG 1.1 written here (no plotting library): one line per top spender,
month by month, in the report's main currency, which any browser opens.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

from rich.console import Console
from rich.table import Table
from rich.text import Text

from graph_api.cost import CostReport
from graph_api.model.cost import amount_text
from loaders.cloud import CostLoadReport

NO_KEY = {
    "TEAM": "(no owner)",
    "SYSTEM": "(no system)",
    "DOMAIN": "(no domain)",
    "COMPONENT": "(not a component)",
}
# Colour-blind-safe palette (Okabe-Ito), one colour per line.
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")


def report_json(report: CostReport) -> dict[str, Any]:
    """``{"rows": [{key, currency, amount}], "unallocated": [...], "total": [...]}``."""
    return {
        "groupBy": report.group_by.value,
        "from": report.window.start.isoformat(),
        "to": report.window.end.isoformat(),
        "metric": report.metric.value,
        "rows": [
            {"key": r.key, "currency": r.currency, "amount": amount_text(r.amount)}
            for r in report.rows
        ],
        "unallocated": [
            {"currency": c, "amount": amount_text(a)} for c, a in report.unallocated.items()
        ],
        "total": [{"currency": c, "amount": amount_text(a)} for c, a in report.total.items()],
    }


def report_table(report: CostReport) -> Table:
    by = report.group_by.value
    table = Table(
        title=f"{report.metric.value} cost by {by.lower().replace('_', ' ')}, "
        f"{report.window.start} to {report.window.end}"
    )
    table.add_column(by.lower().replace("_", " "))
    table.add_column("currency")
    table.add_column("amount", justify="right")
    for row in report.rows:
        table.add_row(row.key or NO_KEY.get(by, "(none)"), row.currency, amount_text(row.amount))
    for currency, amount in report.unallocated.items():
        table.add_row(Text("unallocated", style="yellow"), currency, amount_text(amount))
    for currency, amount in report.total.items():
        table.add_row(Text("total", style="bold"), currency, amount_text(amount), style="bold")
    return table


def print_cost_loads(reports: list[CostLoadReport], console: Console) -> None:
    """A summary table of cost loads, then every error and warning on its own line."""
    table = Table(title="cost load summary")
    for column in ("source", "lines", "facts", "changed", "total (effective)", "unallocated"):
        table.add_column(column, justify="left" if column == "source" else "right")
    for r in reports:
        totals = ", ".join(
            f"{amount_text(v['effective'])} {c}" for c, v in sorted(r.totals.items())
        )
        nobody = ", ".join(f"{amount_text(v)} {c}" for c, v in sorted(r.unallocated.items()))
        state = "failed" if not r.ok else "yes" if r.changed else "no"
        table.add_row(r.source, str(r.lines), str(r.facts), state, totals, nobody)
    console.print(table)
    for r in reports:
        for error in r.errors:
            console.print(Text.assemble(("error ", "red"), error), soft_wrap=True)
        for warning in r.warnings:
            console.print(Text.assemble(("warning ", "yellow"), warning), soft_wrap=True)


def _nice_step(top: Decimal) -> Decimal:
    """A round grid step (1, 2 or 5 times a power of ten) giving about five lines."""
    raw = top / 5 if top > 0 else Decimal(1)
    power = Decimal(10) ** (raw.adjusted())
    for factor in (1, 2, 5, 10):
        if raw <= power * factor:
            return power * factor
    return power * 10


def trend_svg(
    series: dict[tuple[str | None, str], dict[date, Decimal]],
    *,
    title: str,
    top: int = 6,
    no_key: str = "(none)",
) -> str:
    """A line chart of the ``top`` largest series of the main currency, as an SVG document."""
    by_currency: dict[str, Decimal] = {}
    for (_, currency), points in series.items():
        by_currency[currency] = by_currency.get(currency, Decimal(0)) + sum(points.values())
    width, height, left, right, upper, lower = 960, 520, 90, 260, 60, 60
    plot_w, plot_h = width - left - right, height - upper - lower
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif">',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
    ]
    if not by_currency:
        out.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle">no cost</text>')
        return "\n".join([*out, "</svg>", ""])
    currency = max(by_currency, key=lambda c: (by_currency[c], c))
    lines = sorted(
        ((key, points) for (key, cur), points in series.items() if cur == currency),
        key=lambda item: (-sum(item[1].values()), item[0] or ""),
    )[:top]
    months = sorted({m for _, points in lines for m in points})
    values = [v for _, points in lines for v in points.values()]
    high, low = max([Decimal(0), *values]), min([Decimal(0), *values])
    step = _nice_step(high - low)
    floor = (low / step).to_integral_value(rounding="ROUND_FLOOR") * step
    ceiling = max((high / step).to_integral_value(rounding="ROUND_CEILING") * step, floor + step)

    def x(index: int) -> float:
        return left + (plot_w * index / max(len(months) - 1, 1))

    def y(value: Decimal) -> float:
        return upper + plot_h * float((ceiling - value) / (ceiling - floor))

    out.append(
        f'<text x="{left}" y="32" font-size="18" font-weight="bold">'
        f"{escape(title)} ({escape(currency)})</text>"
    )
    tick = floor
    while tick <= ceiling:
        out.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
            'stroke="#dddddd"/>'
        )
        out.append(
            f'<text x="{left - 8}" y="{y(tick) + 4:.1f}" font-size="12" text-anchor="end">'
            f"{escape(_short(tick))}</text>"
        )
        tick += step
    for index, month in enumerate(months):
        out.append(
            f'<text x="{x(index):.1f}" y="{upper + plot_h + 20}" font-size="12" '
            f'text-anchor="middle">{month:%b %y}</text>'
        )
    for number, (key, points) in enumerate(lines):
        colour = COLOURS[number % len(COLOURS)]
        coords = " ".join(
            f"{x(i):.1f},{y(points.get(m, Decimal(0))):.1f}" for i, m in enumerate(months)
        )
        out.append(
            f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2.5"/>'
        )
        for i, month in enumerate(months):
            out.append(
                f'<circle cx="{x(i):.1f}" cy="{y(points.get(month, Decimal(0))):.1f}" r="3" '
                f'fill="{colour}"/>'
            )
        label_y = upper + 10 + number * 22
        out.append(
            f'<rect x="{left + plot_w + 20}" y="{label_y - 9}" width="14" height="4" '
            f'fill="{colour}"/>'
        )
        label = (key or no_key).split("/")[-1]
        total = amount_text(sum(points.values()))
        out.append(
            f'<text x="{left + plot_w + 40}" y="{label_y - 3}" font-size="13">'
            f"{escape(label)} {escape(_short(Decimal(total)))}</text>"
        )
    return "\n".join([*out, "</svg>", ""])


def _short(value: Decimal) -> str:
    """1234567 -> 1.2M: axis and legend labels stay short."""
    for limit, suffix in ((Decimal(10**9), "G"), (Decimal(10**6), "M"), (Decimal(10**3), "k")):
        if abs(value) >= limit:
            return f"{value / limit:.1f}{suffix}"
    return f"{value:.0f}" if value == value.to_integral_value() else f"{value:.2f}"
