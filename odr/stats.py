"""Public statistics: aggregates only, never a case (CONTRACT §3 /api/v1/stats).

A public figure never counts fewer than `SMALLEST_SHOWN` cases (issue 11, row I): a "1" in
a village's row of a category is a person. A count of 1–4 is published as null ("fewer
than 5"), and a rate or a median is published only when it rests on at least that many
cases. Places and kinds with fewer cases than that are left out of the breakdowns (they
stay in the totals)."""

from __future__ import annotations

from statistics import median
from typing import Any

from ninja import Schema

from odr.categories import Category
from odr.models import Dispute, Region

S = Dispute.Status


SMALLEST_SHOWN = 5


class Bucket(Schema):
    code: str
    name: str
    received: int | None
    resolved: int | None
    success_rate: float | None
    median_days: float | None


class StatsOut(Schema):
    received: int | None
    resolved: int | None
    success_rate: float | None
    median_days: float | None
    by_category: list[Bucket]
    by_region: list[Bucket]


def _summary(rows: list[tuple[str, Any, Any]]) -> dict[str, Any]:
    """rows: (status, created_at, closed_at). Success rate is settled over the cases that
    mediation ended (settled + failed); median days counts filing to settlement."""
    received = len(rows)
    settled = [r for r in rows if r[0] == S.SETTLED]
    failed = sum(1 for r in rows if r[0] == S.FAILED)
    days = [
        (closed - created).total_seconds() / 86400
        for _s, created, closed in settled
        if closed is not None
    ]
    ended = len(settled) + failed
    return {
        "received": _count(received),
        "resolved": _count(len(settled)),
        "success_rate": round(len(settled) / ended, 4) if ended >= SMALLEST_SHOWN else None,
        "median_days": round(median(days), 1) if len(days) >= SMALLEST_SHOWN else None,
    }


def _count(n: int) -> int | None:
    """0 tells nothing about anyone; 1 to 4 might: published as null."""
    return n if n == 0 or n >= SMALLEST_SHOWN else None


def public_stats() -> dict[str, Any]:
    rows = list(
        Dispute.objects.values_list("status", "created_at", "closed_at", "category", "region__code")
    )
    # Regions are counted at county level and, under it, township level.
    regions = {r.code: r for r in Region.objects.select_related("parent")}

    def area_of(code: str) -> Region | None:
        region = regions.get(code)
        while region is not None and region.level not in (
            Region.Level.TOWNSHIP,
            Region.Level.COUNTY,
        ):
            region = regions.get(region.parent.code) if region.parent_id else None
        return region

    by_category = []
    for category in Category:
        subset = [r[:3] for r in rows if r[3] == category.value]
        if len(subset) >= SMALLEST_SHOWN:
            by_category.append(
                {"code": category.value, "name": str(category.label), **_summary(subset)}
            )
    grouped: dict[str, list] = {}
    for row in rows:
        area = area_of(row[4])
        if area is not None:
            grouped.setdefault(area.code, []).append(row[:3])
    by_region = [
        {"code": code, "name": regions[code].name, **_summary(subset)}
        for code, subset in sorted(grouped.items())
        if len(subset) >= SMALLEST_SHOWN
    ]
    return {**_summary([r[:3] for r in rows]), "by_category": by_category, "by_region": by_region}
