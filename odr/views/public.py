"""The pages anyone may see: the home page and the public statistics."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from odr import stats


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "odr/home.html")


def _chart(buckets: list[dict[str, Any]]) -> dict[str, Any]:
    """Rows of a horizontal bar chart: each row a label line, then a bar for received with
    the resolved part drawn over it. Drawn on the server as inline SVG (no script); bar
    widths are percentages, so the chart fills a phone or a desk screen and the text keeps
    its size."""
    top = max((b["received"] or 0 for b in buckets), default=0) or 1
    rows = []
    y = 0
    for bucket in buckets:
        rows.append(
            {
                **bucket,
                "label_y": y + 14,
                "bar_y": y + 20,
                "received_text": _shown(bucket["received"]),
                "resolved_text": _shown(bucket["resolved"]),
                "received_pct": round(bucket["received"] / top * 100, 1),
                "resolved_pct": round((bucket["resolved"] or 0) / top * 100, 1),
                "rate": None
                if bucket["success_rate"] is None
                else round(bucket["success_rate"] * 100),
            }
        )
        y += 46
    return {"rows": rows, "height": max(y, 20)}


def _shown(count: int | None) -> str:
    return "<5" if count is None else str(count)


def stats_page(request: HttpRequest) -> HttpResponse:
    figures = stats.public_figures()
    data = figures.data
    return render(
        request,
        "odr/stats.html",
        {
            "stats": data,
            "computed_at": figures.computed_at,
            "figures_key": figures.computed_at.isoformat(),
            "success_pct": None
            if data["success_rate"] is None
            else round(data["success_rate"] * 100),
            "by_category": _chart(data["by_category"]),
            "by_region": _chart(data["by_region"]),
            "hotline": {
                key: "—" if rate is None else f"{round(rate * 100)}%"
                for key, rate in (
                    ("response", data["hotline"]["response_rate"]),
                    ("resolution", data["hotline"]["resolution_rate"]),
                    ("satisfaction", data["hotline"]["satisfaction_rate"]),
                )
            },
        },
    )
