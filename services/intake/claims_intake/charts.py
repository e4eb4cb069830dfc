"""The report's chart: claim volumes and amounts per period, as SVG (pygal)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pygal
from pygal.style import DefaultStyle

from claims_intake.api.report_schemas import ClaimsReport


def _money(value: Any) -> str:
    return f"{Decimal(value):.2f}"


def claims_chart_svg(report: ClaimsReport, currency: str) -> bytes:
    """Claims submitted and decided per period (left axis) and charged, payable, paid (right axis)."""
    series = report.series or []
    chart = pygal.Line(
        js=[],  # no script from the internet: the SVG is static
        width=960,
        height=480,
        style=DefaultStyle,
        title=f"Claims submitted {report.from_} to {report.to}, by {report.group_by}",
        x_title="period",
        y_title="claims",
        x_label_rotation=30 if len(series) > 8 else 0,
        show_minor_x_labels=len(series) <= 31,
        legend_at_bottom=True,
        include_x_axis=True,
        dots_size=3,
        print_values=False,
    )
    chart.x_labels = [p.period.isoformat() for p in series]
    chart.x_labels_major = chart.x_labels[:: max(1, len(series) // 12)]
    chart.add("claims submitted", [p.total_claims for p in series])
    chart.add("claims decided", [p.decided_claims for p in series])
    for name in ("charged", "payable", "paid"):
        chart.add(
            f"{name} ({currency})",
            [getattr(p, name) for p in series],
            secondary=True,
            formatter=_money,
        )
    svg = chart.render()
    return svg if isinstance(svg, bytes) else str(svg).encode()
