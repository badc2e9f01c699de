"""How the apps above `odr` add to a case without `odr` importing them (DESIGN.md §4.8).

`odr` is the ground floor: the case page, the case API and who may see a case are
composed here from parts that `sessions` and `agreements` register in their AppConfig's
`ready()`:

- a **panel** is a template included on the case page (it reads `dispute`, `user` and
  `request` from the page's context and its own template tags);
- a **summary** is one field of the case in the API (`sessions`, `agreement`), read for
  one case or, in bulk, for a page of cases in a fixed number of queries;
- an **access** rule widens who sees a case (a court sees the cases whose confirmation
  it was asked for).

Words of their audit actions go to odr.lifecycle.register_events."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Q


@dataclass(frozen=True)
class CasePanel:
    template: str
    order: int


@dataclass(frozen=True)
class CaseSummary:
    """One field of the case in the API: `one(dispute)` for a single case, `many(ids)`
    for a page of cases (a dict by dispute id; a missing id gets `empty`). A summary may
    also be read with a list's rows, in the same query (issue 14): `column()` is an
    expression over the case's row (a correlated subquery on its `pk`), and
    `from_column(value)` the field from that column's value."""

    field: str
    one: Callable[[Any], Any]
    many: Callable[[list[int]], dict[int, Any]]
    empty: Any = None
    column: Callable[[], Any] | None = None
    from_column: Callable[[Any], Any] | None = None


_PANELS: list[CasePanel] = []
_SUMMARIES: dict[str, CaseSummary] = {}
AccessRule = Callable[[AbstractBaseUser, dict[str, set[int]]], Q | None]
_ACCESS: list[AccessRule] = []


def register_panel(template: str, *, order: int) -> None:
    if any(p.template == template for p in _PANELS):
        return  # ready() may run twice in one process (tests reloading apps)
    _PANELS.append(CasePanel(template, order))
    _PANELS.sort(key=lambda p: p.order)


def register_summary(summary: CaseSummary) -> None:
    global _columns
    _SUMMARIES[summary.field] = summary
    _columns = None


def register_access(rule: AccessRule) -> None:
    """`rule(user, org_ids_by_role)` is a Q over Dispute for the cases this user sees
    through another app's relation, or None when it adds none. The user's organisations
    by membership role are read once by the caller and passed in."""
    if rule not in _ACCESS:
        _ACCESS.append(rule)


def case_panels() -> list[CasePanel]:
    return list(_PANELS)


def summaries_of(dispute: Any) -> dict[str, Any]:
    return {field: s.one(dispute) for field, s in _SUMMARIES.items()}


def summaries_of_new() -> dict[str, Any]:
    """Every registered field of a case filed a moment ago (no session or agreement can
    exist yet): each field's empty value, read from nothing (issue 14, filing speed)."""
    return {field: _copy(s.empty) for field, s in _SUMMARIES.items()}


def summaries_of_many(dispute_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Every registered field of every case on a page, one bulk read per field."""
    by_field = {field: s.many(dispute_ids) for field, s in _SUMMARIES.items()}
    return {
        pk: {field: by_field[field].get(pk, _copy(s.empty)) for field, s in _SUMMARIES.items()}
        for pk in dispute_ids
    }


# The name of a summary's column among a list's rows (`summary_columns`).
COLUMN_PREFIX = "summary_"


# The summaries' columns, built once (issue 14: building them cost a list page as much CPU
# as reading its rows); a query that uses one resolves a copy, never changing it.
_columns: dict[str, Any] | None = None


def summary_columns() -> dict[str, Any]:
    """The columns a list reads with its rows for the summaries that have one, by name."""
    global _columns
    columns = _columns
    if columns is None:
        columns = {
            COLUMN_PREFIX + field: s.column()
            for field, s in _SUMMARIES.items()
            if s.column is not None
        }
        _columns = columns
    return dict(columns)


def summaries_of_rows(rows: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Every registered field of every case on a page whose rows (dicts with the case's
    `pk`) were read with `summary_columns`: from its column, or, for a summary without
    one, one bulk read per field."""
    ids = [row["pk"] for row in rows]
    bulk = {field: s.many(ids) for field, s in _SUMMARIES.items() if s.column is None}
    out: dict[int, dict[str, Any]] = {}
    for row in rows:
        fields = {}
        for field, s in _SUMMARIES.items():
            if s.column is not None and s.from_column is not None:
                fields[field] = s.from_column(row[COLUMN_PREFIX + field])
            else:
                fields[field] = bulk[field].get(row["pk"], _copy(s.empty))
        out[row["pk"]] = fields
    return out


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value


def extra_access(user: AbstractBaseUser, org_ids_by_role: dict[str, set[int]]) -> Q | None:
    """The union of the registered access rules for this user (None: none applies)."""
    q: Q | None = None
    for rule in _ACCESS:
        part = rule(user, org_ids_by_role)
        if part is not None:
            q = part if q is None else q | part
    return q
