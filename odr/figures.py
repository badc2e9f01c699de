"""The county's figures (issue 10, point 5): the dashboard of the centre and the county,
its `.xlsx` export, and the hotline's three rates (三率) and ranking, which the public
statistics also publish (odr.stats).

Everything is counted in the database (issue 14): COUNT … FILTER … GROUP BY, never a row
per case in Python; a few queries per figure set whatever the number of cases. And a
request does not count: the worker counts each reader's area ahead of time
(`dashboard_scopes`, `count_dashboard`; odr.stats.refresh_figures) and the dashboard, its
export and `GET /api/v1/dashboard` read that snapshot in one query (odr.stats, snapshots).

The three rates of a set of 12345 tickets:

- response rate (响应率): tickets whose first contact was made by `respond_by`, over the
  tickets whose first contact is due (made, or `respond_by` passed without it);
- resolution rate (解决率): tickets closed as resolved over the tickets closed;
- satisfaction rate (满意率): survey answers of 4 or 5 over the answers.

A township's or an organisation's score is the weighted sum of the three, out of 100:
`ODR_HOTLINE_WEIGHTS` (response, resolution, satisfaction), by default 0.2 / 0.4 / 0.4,
the weights Beijing's 接诉即办 assessment was reported to give them at its start in 2019.
A rate with nothing to count is missing, and so is the score; the ranking lists those
last."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Case, CharField, Count, F, Q, QuerySet, Value, When
from django.db.models.functions import TruncMonth
from django.utils import timezone

from odr.categories import Category
from odr.models import (
    Dispute,
    GridReport,
    HotlineTicket,
    Membership,
    Organisation,
    Region,
    Visit,
)
from odr.stats import (
    SECONDS_PER_DAY,
    Figures,
    _area,
    _grouped,
    named,
    read_snapshot,
)

S = Dispute.Status
T = HotlineTicket.Status
LEVELS = ("village", "township", "county")


# --- levels ------------------------------------------------------------------------------


def _level() -> Case:
    """The level of the organisation that has the case: a village committee, a township
    committee, or the county (its centre, industry bodies, anything above)."""
    kind = Organisation.Kind
    return Case(
        When(organisation__kind=kind.VILLAGE_COMMITTEE, then=Value("village")),
        When(organisation__kind=kind.TOWNSHIP_COMMITTEE, then=Value("township")),
        default=Value("county"),
        output_field=CharField(),
    )


def resolved_by_level(disputes: QuerySet[Dispute]) -> dict[str, int]:
    """Settled cases by the level of the organisation that settled them (CONTRACT §3)."""
    rows = (
        disputes.filter(status=S.SETTLED, organisation__isnull=False)
        .annotate(level=_level())
        .values("level")
        .annotate(n=Count("pk"))
        .order_by()
    )
    found = {row["level"]: row["n"] for row in rows}
    return {level: found.get(level, 0) for level in LEVELS}


# --- the hotline's three rates -----------------------------------------------------------


def _rate_counts(now: datetime) -> dict[str, Any]:
    return {
        "tickets": Count("pk"),
        "due": Count("pk", filter=Q(responded_at__isnull=False) | Q(respond_by__lt=now)),
        "on_time": Count("pk", filter=Q(responded_at__lte=F("respond_by"))),
        "closed": Count("pk", filter=Q(status__in=[T.RESOLVED, T.UNRESOLVED])),
        "resolved": Count("pk", filter=Q(status=T.RESOLVED)),
        "surveyed": Count("pk", filter=Q(satisfaction__isnull=False)),
        "satisfied": Count("pk", filter=Q(satisfaction__gte=4)),
    }


def _ratio(part: int, whole: int, smallest: int) -> float | None:
    return round(part / whole, 4) if whole and whole >= smallest else None


def rates_of(row: dict[str, Any] | None, *, smallest: int = 1) -> dict[str, Any]:
    """The three rates and the score of one row of counts; a rate resting on fewer than
    `smallest` tickets is None (the public figures ask for 5)."""
    row = row or {k: 0 for k in _rate_counts(timezone.now())}
    response = _ratio(row["on_time"], row["due"], smallest)
    resolution = _ratio(row["resolved"], row["closed"], smallest)
    satisfaction = _ratio(row["satisfied"], row["surveyed"], smallest)
    weights = settings.ODR_HOTLINE_WEIGHTS
    score = None
    if None not in (response, resolution, satisfaction):
        score = round(
            100 * (weights[0] * response + weights[1] * resolution + weights[2] * satisfaction),
            1,
        )
    return {
        "tickets": row["tickets"],
        "due": row["due"],
        "on_time": row["on_time"],
        "late": row["due"] - row["on_time"],
        "closed": row["closed"],
        "resolved": row["resolved"],
        "surveyed": row["surveyed"],
        "satisfied": row["satisfied"],
        "response_rate": response,
        "resolution_rate": resolution,
        "satisfaction_rate": satisfaction,
        "score": score,
    }


def hotline_rates(tickets: QuerySet[HotlineTicket], *, smallest: int = 1) -> dict[str, Any]:
    return rates_of(tickets.order_by().aggregate(**_rate_counts(timezone.now())), smallest=smallest)


def _ranked(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Highest score first, those without a score last; equal scores share a rank."""
    rows.sort(key=lambda r: (r["score"] is None, -(r["score"] or 0), r["name"]))
    rank, last = 0, object()
    for position, row in enumerate(rows, start=1):
        if row["score"] != last:
            rank, last = position, row["score"]
        row["rank"] = rank if row["score"] is not None else None
    return rows


def _ranking_key(by: str) -> Any:
    return _area("dispute__region") if by == "township" else F("dispute__organisation_id")


def _named(by: str, keys: set[int]) -> dict[int, str]:
    model = Region if by == "township" else Organisation
    return dict(model.objects.filter(pk__in=list(keys)).values_list("pk", "name"))


def hotline_ranking(
    tickets: QuerySet[HotlineTicket], *, by: str, month: date | None = None
) -> list[dict[str, Any]]:
    """The rates, score and rank of each township (`by="township"`: the township or county
    the ticket's place is in) or organisation (`by="organisation"`: the one that has the
    case), for the tickets received in `month` (None: all)."""
    if month is not None:
        tickets = tickets.filter(received_at__year=month.year, received_at__month=month.month)
    rows = (
        tickets.order_by()
        .annotate(key=_ranking_key(by))
        .values("key")
        .annotate(**_rate_counts(timezone.now()))
    )
    counted = {row["key"]: row for row in rows if row["key"] is not None}
    names = _named(by, set(counted))
    return _ranked(
        [{"id": pk, "name": names.get(pk, "?"), **rates_of(row)} for pk, row in counted.items()]
    )


def monthly_ranking(tickets: QuerySet[HotlineTicket], *, by: str) -> list[dict[str, Any]]:
    """The ranking of each month that has tickets, newest first: one query grouped by
    month and township (or organisation), one for the names."""
    rows = list(
        tickets.order_by()
        .annotate(month=TruncMonth("received_at"), key=_ranking_key(by))
        .values("month", "key")
        .annotate(**_rate_counts(timezone.now()))
    )
    names = _named(by, {row["key"] for row in rows if row["key"] is not None})
    months: dict[date, list[dict[str, Any]]] = {}
    for row in rows:
        if row["key"] is None:
            continue
        month = row["month"].date() if isinstance(row["month"], datetime) else row["month"]
        months.setdefault(month, []).append(
            {"id": row["key"], "name": names.get(row["key"], "?"), **rates_of(row)}
        )
    return [{"month": m, "rows": _ranked(months[m])} for m in sorted(months, reverse=True)]


# --- who sees the dashboard, and of what area --------------------------------------------

DASHBOARD_ROLES = (Membership.Role.COORDINATOR, Membership.Role.MEDIATOR, Membership.Role.RECEPTION)


def _readers() -> QuerySet[Membership]:
    # One membership must carry both conditions (a join per filter() would let another
    # person's membership of the same organisation qualify).
    return Membership.objects.filter(
        Q(role=Membership.Role.COORDINATOR)
        | Q(organisation__kind=Organisation.Kind.COUNTY_CENTRE, role__in=DASHBOARD_ROLES),
        is_active=True,
        organisation__is_active=True,
    )


def _widest(regions: list[Region]) -> Region:
    return min(regions, key=lambda r: (len(r.path), r.path))


def dashboard_area(user: AbstractBaseUser) -> Region | bool | None:
    """The region whose figures this user reads: the county centre's staff and any
    organisation's intake coordinator read their organisation's area (the widest when
    they have several); a superuser reads everything (True). False: no dashboard."""
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    memberships = _readers().filter(user=user).select_related("organisation__region")
    regions = [m.organisation.region for m in memberships]
    if not regions:
        return False
    return _widest(regions)


DASHBOARD = "dashboard"


def dashboard_scope(area: Region | bool) -> str:
    """The key of an area's dashboard snapshot: the region's id, or "all"."""
    return str(area.pk) if isinstance(area, Region) else "all"


def dashboard_scopes() -> dict[str, Region | bool]:
    """Every area some dashboard reader reads now (`dashboard_area` of each of them):
    what the worker counts ahead of time. A query for the readers, one for superusers."""
    from django.contrib.auth import get_user_model

    by_user: dict[int, list[Region]] = {}
    for membership in (
        _readers().filter(user__is_active=True).select_related("organisation__region")
    ):
        by_user.setdefault(membership.user_id, []).append(membership.organisation.region)
    areas: dict[str, Region | bool] = {}
    for regions in by_user.values():
        area = _widest(regions)
        areas[dashboard_scope(area)] = area
    if get_user_model().objects.filter(is_superuser=True, is_active=True).exists():
        areas[dashboard_scope(True)] = True
    return areas


def _scoped(area: Region | bool) -> tuple[QuerySet[Dispute], QuerySet[HotlineTicket]]:
    disputes = Dispute.objects.order_by()
    tickets = HotlineTicket.objects.order_by()
    if isinstance(area, Region):
        disputes = disputes.filter(region__path__startswith=area.path)
        tickets = tickets.filter(dispute__region__path__startswith=area.path)
    return disputes, tickets


def visit_count(area: Region | bool) -> int:
    """Visitors registered at the reception windows of the centres in `area` (every
    visit counts, whether or not a dispute followed: issue 10, point 1)."""
    visits = Visit.objects.all()
    if isinstance(area, Region):
        visits = visits.filter(organisation__region__path__startswith=area.path)
    return visits.count()


def settled_on_the_spot(area: Region | bool) -> int:
    """Grid reports settled on the spot by the grid worker (no case was opened: the matter
    was over), counted as settled in the village (小事不出村, issue 10, point 2)."""
    reports = GridReport.objects.filter(outcome=GridReport.Outcome.SETTLED)
    if isinstance(area, Region):
        reports = reports.filter(grid__village__path__startswith=area.path)
    return reports.count()


# --- the dashboard -----------------------------------------------------------------------


def _figures(row: dict[str, Any] | None) -> dict[str, Any]:
    """A row of counts as the dashboard shows it, unsuppressed (staff only)."""
    row = row or {"received": 0, "settled": 0, "failed": 0, "timed": 0}
    ended = row["settled"] + row["failed"]
    median = row.get("median_seconds")
    return {
        "received": row["received"],
        "resolved": row["settled"],
        "success_rate": round(row["settled"] / ended, 4) if ended else None,
        "median_days": round(median / SECONDS_PER_DAY, 1) if median is not None else None,
    }


def count_dashboard(area: Region | bool) -> dict[str, Any]:
    """Every figure of the dashboard of `area`, counted now, as its snapshot keeps them
    (JSON: months as "YYYY-MM-DD"; the categories without their names)."""
    disputes, tickets = _scoped(area)
    total = _figures(_grouped(disputes, None).get(None))
    months = _grouped(disputes, TruncMonth("created_at"))
    by_month = [
        {"code": key.strftime("%Y-%m"), "name": key.strftime("%Y-%m"), **_figures(row)}
        for key, row in sorted(
            ((k.date() if isinstance(k, datetime) else k, v) for k, v in months.items()),
            key=lambda kv: kv[0],
        )
    ]
    categories = _grouped(disputes, F("category"))
    by_category = [
        {"code": c.value, **_figures(categories[c.value])}
        for c in Category
        if c.value in categories
    ]
    areas = {k: v for k, v in _grouped(disputes, _area()).items() if k is not None}
    regions = {
        pk: (code, name)
        for pk, code, name in Region.objects.filter(pk__in=list(areas)).values_list(
            "pk", "code", "name"
        )
    }
    by_township = sorted(
        ({"code": regions[k][0], "name": regions[k][1], **_figures(v)} for k, v in areas.items()),
        key=lambda b: b["code"],
    )
    levels = resolved_by_level(disputes)
    resolved = sum(levels.values())
    return {
        "area": area.full_name if isinstance(area, Region) else None,
        "visits": visit_count(area),
        "settled_on_the_spot": settled_on_the_spot(area),
        **total,
        "by_month": by_month,
        "by_category": by_category,
        "by_township": by_township,
        "by_level": levels,
        "share_village_township": round((levels["village"] + levels["township"]) / resolved, 4)
        if resolved
        else None,
        "hotline": hotline_rates(tickets),
        "hotline_by_township": hotline_ranking(tickets, by="township"),
        "hotline_by_organisation": hotline_ranking(tickets, by="organisation"),
        "monthly_ranking": [
            {"month": m["month"].isoformat(), "rows": m["rows"]}
            for m in monthly_ranking(tickets, by="township")
        ],
        "weights": list(settings.ODR_HOTLINE_WEIGHTS),
    }


def dashboard_figures(area: Region | bool) -> Figures:
    """The dashboard of `area` as the worker last counted it (one query; see
    odr.stats.read_snapshot), in the reader's language, and when it was counted."""
    figures = read_snapshot(DASHBOARD, dashboard_scope(area), lambda: count_dashboard(area))
    data = figures.data
    return Figures(
        {
            **data,
            "by_category": named(data["by_category"]),
            "monthly_ranking": [
                {"month": date.fromisoformat(m["month"]), "rows": m["rows"]}
                for m in data["monthly_ranking"]
            ],
            "computed_at": figures.computed_at,
        },
        figures.computed_at,
    )


def dashboard(user: AbstractBaseUser) -> dict[str, Any]:
    """Every figure of the dashboard for this user's area (see `dashboard_area`), with
    `computed_at`, when they were counted."""
    area = dashboard_area(user)
    if area is False:
        from odr.errors import NotFound

        raise NotFound()
    return dashboard_figures(area).data
