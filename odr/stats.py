"""Public statistics: aggregates only, never a case (CONTRACT §3 /api/v1/stats).

A public figure never counts fewer than `SMALLEST_SHOWN` cases (issue 11, row I): a "1" in
a village's row of a category is a person. A count of 1–4 is published as null ("fewer
than 5"), and a rate or a median is published only when it rests on at least that many
cases. Places and kinds with fewer cases than that are left out of the breakdowns (they
stay in the totals). The same holds for `by_level` (a count of 1–4 is null) and the
hotline's three rates (null when the tickets they rest on are fewer than 5).

Everything is counted in the database (issue 14): COUNT … GROUP BY for the totals, the
categories and the areas, and the median of the days from filing to settlement with
`percentile_cont` on PostgreSQL, or on SQLite with a window (ROW_NUMBER and COUNT over the
group) that returns only the one or two middle rows of each group. No dispute row is read
into Python: the count is the same few queries however many cases there are (its time
grows with them).

A request does not count, though: it reads the figures the worker counted (issue 14,
point 2). `refresh_figures`, one of the reminders loop's jobs (`manage.py send_reminders
--loop 300`, which `./dev serve` and `./dev prod` run), recounts the public figures and
every dashboard's (odr.figures) and keeps each in one row of `FigureSnapshot` with the
time it was counted; `/api/v1/stats`, `/stats/` and `/dashboard/` read that row (one
query whatever the caseload), and `/stats/` and `/dashboard/` say when the figures were
counted. A snapshot is exact: it is the same count, made a few minutes earlier (the
rendered figures of the two pages are kept in the cache per count and language). Where
there is none yet (a new platform, a new coordinator's area) or the one there is older
than `ODR_FIGURES_MAX_AGE` seconds (1,800 by default: the worker has stopped), the
request counts now, as before, and keeps its count in the cache for
`ODR_STATS_CACHE_SECONDS` (60; 0 under tests, whose `ODR_FIGURES_MAX_AGE` is 0 too: every
test request counts), never in the database (a GET writes nothing, issue 7 §3)."""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection, transaction
from django.db.models import (
    Aggregate,
    Case,
    Count,
    F,
    FloatField,
    Func,
    IntegerField,
    Q,
    QuerySet,
    Value,
    When,
    Window,
)
from django.db.models.functions import RowNumber
from django.utils import timezone
from ninja import Schema

from odr.categories import Category
from odr.models import Dispute, FigureSnapshot, Region

logger = logging.getLogger(__name__)

S = Dispute.Status


SMALLEST_SHOWN = 5
# Regions are counted at county level and, under it, township level: a dispute counts in
# the nearest of its region and the region's ancestors that is a township or a county.
AREA_LEVELS = (Region.Level.TOWNSHIP, Region.Level.COUNTY)
# Deep enough for the five levels (province … village): a village's area is one step up.
_AREA_DEPTH = 4
SECONDS_PER_DAY = 86400


class Bucket(Schema):
    code: str
    name: str
    received: int | None
    resolved: int | None
    success_rate: float | None
    median_days: float | None


class LevelsOut(Schema):
    """Settled cases by the level of the organisation that settled them; null: 1 to 4."""

    village: int | None
    township: int | None
    county: int | None


class HotlineOut(Schema):
    """The 12345 tickets' three rates (odr.figures); null when resting on fewer than 5."""

    response_rate: float | None
    resolution_rate: float | None
    satisfaction_rate: float | None


class StatsOut(Schema):
    received: int | None
    resolved: int | None
    success_rate: float | None
    median_days: float | None
    by_category: list[Bucket]
    by_region: list[Bucket]
    by_level: LevelsOut
    hotline: HotlineOut


# --- SQL pieces --------------------------------------------------------------------------


class SecondsBetween(Func):
    """Seconds from the second datetime to the first, as a float, in SQL."""

    arity = 2
    output_field = FloatField()

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(
            compiler,
            connection,
            template="((julianday(%(expressions)s)) * 86400.0)",
            arg_joiner=") - julianday(",
            **extra,
        )

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(
            compiler,
            connection,
            template="(EXTRACT(EPOCH FROM (%(expressions)s))::double precision)",
            arg_joiner=" - ",
            **extra,
        )


class Median(Aggregate):
    """PostgreSQL's continuous median (the mean of the two middle values of an even set,
    as statistics.median)."""

    function = "percentile_cont"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()
    allow_distinct = False


def _area(region: str = "region") -> Case:
    """The id of the dispute's area (township or county), or null above county level.
    `region`: the lookup of the region from the rows counted (a ticket's is
    "dispute__region")."""
    whens = []
    path = region
    for _depth in range(_AREA_DEPTH + 1):
        whens.append(When(**{f"{path}__level__in": AREA_LEVELS}, then=F(f"{path}_id")))
        path += "__parent"
    return Case(*whens, default=Value(None), output_field=IntegerField())


_SETTLED_WITH_DAYS = Q(status=S.SETTLED, closed_at__isnull=False)


def _counts() -> dict[str, Any]:
    out = {
        "received": Count("pk"),
        "settled": Count("pk", filter=Q(status=S.SETTLED)),
        "failed": Count("pk", filter=Q(status=S.FAILED)),
        "timed": Count("pk", filter=_SETTLED_WITH_DAYS),
    }
    if connection.vendor == "postgresql":
        out["median_seconds"] = Median(
            SecondsBetween("closed_at", "created_at"), filter=_SETTLED_WITH_DAYS
        )
    return out


def _medians_by_window(disputes: QuerySet, group: Any | None) -> dict[Any, float]:
    """The median seconds from filing to settlement per group, from the one or two middle
    rows of each group (ROW_NUMBER over the durations in order); `group` None: one group."""
    partition = {"partition_by": [group]} if group is not None else {}
    rows = (
        disputes.filter(_SETTLED_WITH_DAYS)
        .annotate(
            key=group if group is not None else Value(None, output_field=IntegerField()),
            seconds=SecondsBetween("closed_at", "created_at"),
        )
        .annotate(
            position=Window(RowNumber(), order_by=[F("seconds").asc(), F("pk").asc()], **partition),
            size=Window(Count("pk"), **partition),
        )
        # The middle row of an odd group, the two middle rows of an even one.
        .filter(position__gte=(F("size") + 1) / 2, position__lte=(F("size") + 2) / 2)
        .order_by()
        .values_list("key", "seconds")
    )
    middle: dict[Any, list[float]] = defaultdict(list)
    for key, seconds in rows:
        middle[key].append(seconds)
    return {key: sum(values) / len(values) for key, values in middle.items()}


def _grouped(disputes: QuerySet, group: Any | None) -> dict[Any, dict[str, Any]]:
    """The counts (and medians) per value of `group`; `group` None: the whole set."""
    if group is None:
        rows = [{"key": None, **disputes.aggregate(**_counts())}]
    else:
        rows = list(disputes.annotate(key=group).values("key").annotate(**_counts()).order_by())
    out = {row["key"]: row for row in rows}
    if connection.vendor != "postgresql":
        medians = _medians_by_window(disputes, group)
        for key, row in out.items():
            row["median_seconds"] = medians.get(key)
    return out


def _summary(row: dict[str, Any] | None) -> dict[str, Any]:
    """Success rate is settled over the cases that mediation ended (settled + failed);
    median days counts filing to settlement."""
    row = row or {"received": 0, "settled": 0, "failed": 0, "timed": 0}
    ended = row["settled"] + row["failed"]
    median_seconds = row.get("median_seconds")
    return {
        "received": _count(row["received"]),
        "resolved": _count(row["settled"]),
        "success_rate": round(row["settled"] / ended, 4) if ended >= SMALLEST_SHOWN else None,
        "median_days": round(median_seconds / SECONDS_PER_DAY, 1)
        if row["timed"] >= SMALLEST_SHOWN and median_seconds is not None
        else None,
    }


def _count(n: int) -> int | None:
    """0 tells nothing about anyone; 1 to 4 might: published as null."""
    return n if n == 0 or n >= SMALLEST_SHOWN else None


# --- the figures -------------------------------------------------------------------------


def count_public_stats() -> dict[str, Any]:
    """The figures, counted now, as the snapshot keeps them: JSON, and without the
    categories' names, which depend on the reader's language (`named` adds them)."""
    disputes = Dispute.objects.order_by()
    total = _grouped(disputes, None).get(None)
    categories = _grouped(disputes, F("category"))
    by_category = [
        {"code": category.value, **_summary(row)}
        for category in Category
        if (row := categories.get(category.value)) and row["received"] >= SMALLEST_SHOWN
    ]
    areas = {
        key: row
        for key, row in _grouped(disputes, _area()).items()
        if key is not None and row["received"] >= SMALLEST_SHOWN
    }
    regions = Region.objects.filter(pk__in=list(areas)).only("code", "name")
    by_region = sorted(
        ({"code": r.code, "name": r.name, **_summary(areas[r.pk])} for r in regions),
        key=lambda bucket: bucket["code"],
    )
    from odr import figures
    from odr.models import HotlineTicket

    levels = figures.resolved_by_level(disputes)
    rates = figures.hotline_rates(HotlineTicket.objects.all(), smallest=SMALLEST_SHOWN)
    return {
        **_summary(total),
        "by_category": by_category,
        "by_region": by_region,
        "by_level": {level: _count(n) for level, n in levels.items()},
        "hotline": {
            key: rates[key] for key in ("response_rate", "resolution_rate", "satisfaction_rate")
        },
    }


def named(buckets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Category buckets with their names in the reader's language, after the code."""
    return [{"code": b["code"], "name": str(Category(b["code"]).label), **b} for b in buckets]


def _published(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "by_category": named(data["by_category"])}


def compute_public_stats() -> dict[str, Any]:
    """The figures, counted now (uncached), as published."""
    return _published(count_public_stats())


# --- snapshots ---------------------------------------------------------------------------

PUBLIC = "public"


@dataclass(frozen=True)
class Figures:
    """Figures and when they were counted."""

    data: dict[str, Any]
    computed_at: datetime


def read_snapshot(kind: str, scope: str, count: Callable[[], dict[str, Any]]) -> Figures:
    """The figures of `kind` and `scope` as the worker last counted them: one query. None
    yet, or older than `ODR_FIGURES_MAX_AGE`: counted now by `count` and kept in the cache
    for `ODR_STATS_CACHE_SECONDS` (the database is not written on a read)."""
    row = (
        FigureSnapshot.objects.filter(kind=kind, scope=scope)
        .values_list("data", "computed_at")
        .first()
    )
    max_age = getattr(settings, "ODR_FIGURES_MAX_AGE", 0 if settings.TESTING else 1800)
    if row is not None and max_age and (timezone.now() - row[1]).total_seconds() <= max_age:
        return Figures(*row)
    seconds = getattr(settings, "ODR_STATS_CACHE_SECONDS", 0 if settings.TESTING else 60)
    key = f"odr:figures:v1:{kind}:{scope}"
    figures = cache.get(key) if seconds else None
    if figures is None:
        computed_at = timezone.now()
        figures = Figures(count(), computed_at)
        if seconds:
            cache.set(key, figures, seconds)
    return figures


def _consistent(count: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """`count` in one transaction that sees one moment of the database (PostgreSQL's
    REPEATABLE READ), so that a snapshot's totals and breakdowns agree with each other
    even while cases are filed and closed between its queries."""
    outermost = not connection.in_atomic_block  # (a test's transaction: already one moment)
    with transaction.atomic():
        if connection.vendor == "postgresql" and outermost:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return count()


def write_snapshot(kind: str, scope: str, count: Callable[[], dict[str, Any]]) -> Figures:
    """Counts the figures now and keeps them (the worker's side of `read_snapshot`)."""
    computed_at, started = timezone.now(), time.perf_counter()
    data = _consistent(count)
    took_ms = round((time.perf_counter() - started) * 1000)
    FigureSnapshot.objects.bulk_create(
        [
            FigureSnapshot(
                kind=kind, scope=scope, data=data, computed_at=computed_at, took_ms=took_ms
            )
        ],
        update_conflicts=True,
        unique_fields=["kind", "scope"],
        update_fields=["data", "computed_at", "took_ms"],
    )
    return Figures(data, computed_at)


def refresh_figures(*, now: datetime | None = None) -> int:
    """The reminders loop's job (settings.ODR_REMINDER_JOBS): recounts the public figures
    and the dashboard of every area a dashboard reader reads, and forgets the snapshots of
    areas nobody reads any more. Returns 0 (it sends no reminder); logs what it counted."""
    from odr import figures

    started = time.perf_counter()
    scopes = figures.dashboard_scopes()
    jobs: list[tuple[str, str, Callable[[], dict[str, Any]]]] = [(PUBLIC, "", count_public_stats)]
    jobs += [
        (figures.DASHBOARD, scope, lambda area=area: figures.count_dashboard(area))
        for scope, area in scopes.items()
    ]
    failed = 0
    for kind, scope, count in jobs:
        try:
            write_snapshot(kind, scope, count)
        except DatabaseError:
            # One area's count failing must not stop the others, nor the reminders loop;
            # its old snapshot stays (and ages: past ODR_FIGURES_MAX_AGE requests count).
            failed += 1
            logger.exception("figures %s:%s not counted", kind, scope)
    FigureSnapshot.objects.filter(kind=figures.DASHBOARD).exclude(scope__in=list(scopes)).delete()
    logger.info(
        "figures counted: public and %d dashboard(s) in %.0f ms%s",
        len(scopes),
        (time.perf_counter() - started) * 1000,
        f"; {failed} failed" if failed else "",
    )
    return 0


def public_figures() -> Figures:
    """The published figures and when they were counted (see the module's docstring)."""
    figures = read_snapshot(PUBLIC, "", count_public_stats)
    return Figures(_published(figures.data), figures.computed_at)


def public_stats() -> dict[str, Any]:
    """The figures as published (CONTRACT §3 /api/v1/stats)."""
    return public_figures().data
