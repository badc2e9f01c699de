"""Keyset (cursor) pages for the API's lists (CONTRACT §3: `{count, items, next}`).

A page is read as "the first `limit` rows after the last row of the previous page" in a
fixed, total order (the last key is always the primary key, so ties on a timestamp never
drop or repeat a row). The database answers that with an index range scan from the cursor
on, so page 1,000 costs what page 1 costs; no OFFSET is ever used.

The cursor is opaque to clients: base64url of the last row's key values. It is not a
secret and needs no signature: it only says where to resume, and every page is still
read through the caller's own visibility queryset. A cursor that does not decode to the
keys of this list answers 422 `invalid_cursor`.

Each list reads a page in two bounded queries: the keys of at most `limit + 1` rows (to
know whether there is a next page), then the full objects of those rows with the list's
own select/prefetch (`load`). The first query selects only the key columns, so a
`DISTINCT` over a visibility join stays narrow."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cmp_to_key
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import F, IntegerField, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext as _
from ninja import Query

from odr.errors import DomainError

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
# Up to this many rows a list's `count` is exact; above it, on PostgreSQL, the planner's
# estimate (issue 14): counting 100,000 visible cases exactly reads every one of them on
# every page, and "about 96,000" tells a reader as much.
EXACT_COUNT_UP_TO = 1000


def limit_param() -> Any:
    """The `?limit=` of every list: 50 by default; outside 1–200 the API answers 422
    (`validation_error`) rather than silently giving another size than asked."""
    return Query(
        DEFAULT_LIMIT,
        ge=1,
        le=MAX_LIMIT,
        description=f"Rows per page, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT})",
    )


def cursor_param() -> Any:
    return Query(None, description="The `next` of the previous page (omit for the first)")


@dataclass(frozen=True)
class Key:
    """One column of a list's order. `kind` says how the cursor stores its value
    ("datetime" or "int"); `nullable` keys sort their nulls last on every database."""

    field: str
    descending: bool = False
    kind: str = "int"
    nullable: bool = False

    def order(self, *, reverse: bool = False) -> Any:
        """The column's place in the list's order; `reverse`: the whole order backwards
        (nulls first), for a page read back from a `before` cursor."""
        expression = F(self.field)
        if reverse:
            if self.nullable:
                return (
                    expression.asc(nulls_first=True)
                    if self.descending
                    else expression.desc(nulls_first=True)
                )
            return expression.asc() if self.descending else expression.desc()
        if self.nullable:
            # Spelled out so that PostgreSQL and SQLite agree (their defaults differ).
            return (
                expression.desc(nulls_last=True)
                if self.descending
                else expression.asc(nulls_last=True)
            )
        # Left as the plain order, so that an index on the column serves it backwards.
        return expression.desc() if self.descending else expression.asc()


# The order of the dispute list: newest first; the id breaks ties on the same instant.
NEWEST_FIRST = (Key("created_at", descending=True, kind="datetime"), Key("pk", descending=True))


@dataclass(frozen=True)
class Page:
    items: list[Any]
    next: str | None
    count: int
    # True when `count` is the database planner's estimate (more than EXACT_COUNT_UP_TO).
    count_is_estimate: bool = False
    # The `before` cursor of the page above this one, or None on the first page (the
    # HTML lists' "previous page"; the API pages forwards only).
    previous: str | None = None

    def answer(self, items: list[Any]) -> dict[str, Any]:
        """The API's answer for this page (CONTRACT §3), its items already in their
        schema's shape."""
        return {
            "count": self.count,
            "count_is_estimate": self.count_is_estimate,
            "items": items,
            "next": self.next,
        }


class InvalidCursor(DomainError):
    def __init__(self) -> None:
        super().__init__(
            "invalid_cursor",
            _("This cursor is not one this list gave out; start again without it."),
            status=422,
        )


def encode_cursor(values: Sequence[Any]) -> str:
    out = []
    for value in values:
        out.append(value.isoformat() if isinstance(value, datetime) else value)
    raw = json.dumps(out, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str, keys: Sequence[Key]) -> list[Any]:
    """The key values a cursor holds, each checked against its key's kind."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error):
        raise InvalidCursor() from None
    if not isinstance(values, list) or len(values) != len(keys):
        raise InvalidCursor()
    out: list[Any] = []
    for key, value in zip(keys, values, strict=True):
        if value is None and key.nullable:
            out.append(None)
        elif key.kind == "datetime" and isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                raise InvalidCursor() from None
            if parsed.tzinfo is None:
                raise InvalidCursor()
            out.append(parsed)
        elif key.kind == "int" and type(value) is int and -(2**63) <= value < 2**63:
            out.append(value)
        else:
            raise InvalidCursor()
    return out


def _after(keys: Sequence[Key], values: Sequence[Any]) -> Q:
    """Rows strictly after `values` in the order of `keys` (nulls last):
    k1 > v1 OR (k1 = v1 AND k2 > v2) OR ..."""
    condition = Q(pk__in=[])  # false
    equal = Q()
    for key, value in zip(keys, values, strict=True):
        if value is None:
            # Nothing sorts after a null in this column (nulls last); ties go on.
            equal &= Q(**{f"{key.field}__isnull": True})
            continue
        lookup = "lt" if key.descending else "gt"
        later = Q(**{f"{key.field}__{lookup}": value})
        if key.nullable:
            later |= Q(**{f"{key.field}__isnull": True})
        condition |= equal & later
        equal &= Q(**{key.field: value})
    first, first_value = keys[0], values[0]
    if not first.nullable and first_value is not None:
        # Redundant, but it gives the planner the range for an index scan on the first key.
        bound = "lte" if first.descending else "gte"
        condition &= Q(**{f"{first.field}__{bound}": first_value})
    return condition


def _before(keys: Sequence[Key], values: Sequence[Any]) -> Q:
    """Rows strictly before `values` in the order of `keys` (nulls last): the mirror of
    `_after`, for reading the page above a row."""
    condition = Q(pk__in=[])  # false
    equal = Q()
    for key, value in zip(keys, values, strict=True):
        if value is None:
            # Every non-null value sorts before a null in this column (nulls last).
            condition |= equal & Q(**{f"{key.field}__isnull": False})
            equal &= Q(**{f"{key.field}__isnull": True})
            continue
        lookup = "gt" if key.descending else "lt"
        condition |= equal & Q(**{f"{key.field}__{lookup}": value})
        equal &= Q(**{key.field: value})
    first, first_value = keys[0], values[0]
    if not first.nullable and first_value is not None:
        bound = "gte" if first.descending else "lte"
        condition &= Q(**{f"{first.field}__{bound}": first_value})
    return condition


def count_rows(queryset: QuerySet) -> tuple[int, bool]:
    """How many rows `queryset` has, and whether that is an estimate. On PostgreSQL:
    exact up to EXACT_COUNT_UP_TO (a count that stops reading there), above it the
    planner's estimate of the same query (EXPLAIN: no row is read), never less than what
    was counted; both are asked at every size, so a page costs the same queries at 10 and
    at 100,000 rows. Other databases (SQLite in development) count exactly."""
    # Only the ids are counted: a DISTINCT over every column would sort the whole rows.
    ids = queryset.order_by().values("pk")
    if connections[queryset.db].vendor != "postgresql":
        return ids.count(), False
    counted = ids[: EXACT_COUNT_UP_TO + 1].count()
    # Empty when Django knows the answer without asking (a filter on no ids at all).
    explained = ids.explain(format="json")
    if counted <= EXACT_COUNT_UP_TO or not explained:
        return counted, False
    return max(int(json.loads(explained)[0]["Plan"]["Plan Rows"]), counted), True


def paginate(
    queryset: QuerySet,
    *,
    keys: Sequence[Key],
    limit: int,
    cursor: str | None = None,
    load: Callable[[list[int]], QuerySet] | None = None,
    before: str | None = None,
) -> Page:
    """One page of `queryset` in the order of `keys` (the last of which must be `pk`):
    the first `limit` rows after `cursor`, or the last `limit` rows before `before` (read
    backwards by the same index). `load(ids)` returns the page's rows with whatever the
    list needs prefetched; by default the queryset itself filtered to those ids."""
    _check(keys, limit)
    count, estimated = count_rows(queryset)
    rows, backwards = _positioned(queryset, keys, after=cursor, before=before)
    found = list(rows.values_list(*(k.field for k in keys))[: limit + 1])
    found, has_next, has_previous = _window(
        found, more=len(found) > limit, limit=limit, backwards=backwards, resumed=bool(cursor)
    )
    ids = [row[-1] for row in found]
    if not ids:
        return Page(items=[], next=None, count=count, count_is_estimate=estimated)
    loader = load or (lambda page_ids: queryset.filter(pk__in=page_ids))
    loaded = {obj.pk: obj for obj in loader(ids)}
    items = [loaded[pk] for pk in ids if pk in loaded]
    return Page(
        items=items,
        next=encode_cursor(found[-1]) if has_next else None,
        count=count,
        count_is_estimate=estimated,
        previous=encode_cursor(found[0]) if has_previous else None,
    )


def paginate_rows(
    queryset: QuerySet,
    *,
    keys: Sequence[Key],
    limit: int,
    cursor: str | None = None,
    fields: Sequence[str],
    expressions: Mapping[str, Any] | None = None,
) -> Page:
    """`paginate` forwards, its page read as dicts of `fields` and the keys (and
    `expressions` by name) with its count, in one query (`read_page`; issue 14: the API
    lists, whose rows are answered as they are read). A cursor this list did not give
    out raises InvalidCursor."""
    return read_page(
        queryset, keys=keys, limit=limit, after=cursor, fields=fields, expressions=expressions
    )


# The column of a page's rows that holds the list's count (`read_page`, `read_sections`).
COUNTED = "listed_count_"


def _count_sql(db: str, ids_sql: str) -> str:
    """`SELECT COUNT(*)` of the rows of `ids_sql` (a list's ids, compiled once for the
    count and the estimate): on PostgreSQL, up to EXACT_COUNT_UP_TO + 1 (count_rows)."""
    connection = connections[db]
    quote = connection.ops.quote_name
    if connection.vendor == "postgresql":
        ids_sql = f"SELECT 1 FROM ({ids_sql}) AS {quote('listed')} LIMIT {EXACT_COUNT_UP_TO + 1}"
    return f"SELECT COUNT(*) FROM ({ids_sql}) AS {quote('counted')}"


def estimate_counts(
    db: str, counted: Sequence[int], ids: Sequence[tuple[str, tuple[Any, ...]]]
) -> list[tuple[int, bool]]:
    """The counts of lists whose ids (the SQL of each, `ids`) were counted up to
    EXACT_COUNT_UP_TO + 1 (`counted`), and whether each is an estimate: as count_rows
    and count_sections answer, on PostgreSQL from one EXPLAIN of them all, asked at every
    size (so that a page costs the same queries at 10 and at 100,000 rows)."""
    out = [(n, False) for n in counted]
    if not ids or connections[db].vendor != "postgresql":
        return out
    with connections[db].cursor() as cursor:
        if len(ids) == 1:
            cursor.execute("EXPLAIN (FORMAT JSON) " + ids[0][0], ids[0][1])
        else:
            arrays = ", ".join(f"ARRAY({sql})" for sql, _ in ids)
            cursor.execute(
                "EXPLAIN (FORMAT JSON) SELECT " + arrays, [p for _, ps in ids for p in ps]
            )
        explained = cursor.fetchone()[0]
    plan = (json.loads(explained) if isinstance(explained, str) else explained)[0]["Plan"]
    estimates = [int(plan["Plan Rows"])] if len(ids) == 1 else _estimates(plan, len(ids))
    for i, estimate in enumerate(estimates or counted):
        if counted[i] > EXACT_COUNT_UP_TO:
            out[i] = (max(estimate, counted[i]), True)
    return out


def _positioned(
    queryset: QuerySet, keys: Sequence[Key], *, after: str | None, before: str | None
) -> tuple[QuerySet, bool]:
    """`queryset` in the order of `keys` from `after` forwards, or from `before` upwards
    (read backwards by the same index), and whether it reads upwards."""
    backwards = bool(before) and not after
    rows = queryset.prefetch_related(None).order_by(*(k.order(reverse=backwards) for k in keys))
    if backwards:
        rows = rows.filter(_before(keys, decode_cursor(before or "", keys)))
    elif after:
        rows = rows.filter(_after(keys, decode_cursor(after, keys)))
    return rows, backwards


def _rows_query(
    queryset: QuerySet,
    keys: Sequence[Key],
    *,
    after: str | None,
    before: str | None,
    fields: Sequence[str],
    expressions: Mapping[str, Any] | None,
    limit: int,
) -> tuple[QuerySet, bool]:
    """The read of a page of `queryset` (its dicts of `fields`, the keys and
    `expressions`, `limit + 1` of them) from `after` forwards or from `before` upwards,
    and whether it reads upwards."""
    rows, backwards = _positioned(queryset, keys, after=after, before=before)
    wanted = [*fields, *(k.field for k in keys if k.field not in fields)]
    return rows.values(*wanted, **(expressions or {}))[: limit + 1], backwards


def _in_order(keys: Sequence[Key], rows: list[dict[str, Any]], *, backwards: bool) -> None:
    """Sorts page rows (dicts) in the order they were read in: the list's order, or its
    reverse for a page read upwards."""
    if not any(k.nullable for k in keys) and len({k.descending for k in keys}) == 1:
        rows.sort(
            key=lambda row: tuple(row[k.field] for k in keys),
            reverse=keys[0].descending != backwards,
        )
        return
    by = cmp_to_key(
        lambda a, b: _compare(keys, [a[k.field] for k in keys], [b[k.field] for k in keys])
    )
    rows.sort(key=by, reverse=backwards)


def _page_of(
    keys: Sequence[Key],
    found: list[dict[str, Any]],
    *,
    limit: int,
    backwards: bool,
    resumed: bool,
    count: tuple[int, bool],
) -> Page:
    rows, has_next, has_previous = _window(
        found, more=len(found) > limit, limit=limit, backwards=backwards, resumed=resumed
    )
    if not rows:
        return Page(items=[], next=None, count=count[0], count_is_estimate=count[1])
    return Page(
        items=rows,
        next=encode_cursor([rows[-1][k.field] for k in keys]) if has_next else None,
        count=count[0],
        count_is_estimate=count[1],
        previous=encode_cursor([rows[0][k.field] for k in keys]) if has_previous else None,
    )


def read_page(
    queryset: QuerySet,
    *,
    keys: Sequence[Key],
    limit: int,
    fields: Sequence[str],
    expressions: Mapping[str, Any] | None = None,
    after: str | None = None,
    before: str | None = None,
) -> Page:
    """`paginate` (forwards from `after`, or upwards from `before`) in one query and, on
    PostgreSQL, one EXPLAIN (issue 14: each query a list asks costs as much CPU as its
    rows): the page's rows as dicts of `fields`, the keys and `expressions` (each
    evaluated for the page's rows only), no model built, and the list's count (as
    count_rows counts it) read in the same query, as a column every row repeats (an
    uncorrelated subquery, evaluated once). Only an empty page, which has no row to hold
    it, asks for the count apart. A cursor this list did not give out raises
    InvalidCursor."""
    _check(keys, limit)
    db = queryset.db
    ids = _compiled(queryset.order_by().values("pk"))
    if ids is None:
        # Django knows the list is empty without asking (a filter on no ids at all).
        return Page(items=[], next=None, count=0)
    count_sql = _count_sql(db, ids[0])
    rows, backwards = _rows_query(
        queryset,
        keys,
        after=after,
        before=before,
        fields=fields,
        expressions={
            **(expressions or {}),
            COUNTED: RawSQL(count_sql, ids[1], output_field=IntegerField()),
        },
        limit=limit,
    )
    found = list(rows)
    if found:
        counted = found[0][COUNTED]
        for row in found:
            del row[COUNTED]
    else:
        with connections[db].cursor() as cursor:
            cursor.execute(count_sql, ids[1])
            counted = cursor.fetchone()[0]
    (count,) = estimate_counts(db, [counted], [ids])
    return _page_of(
        keys,
        found,
        limit=limit,
        backwards=backwards,
        resumed=bool(after) and not backwards,
        count=count,
    )


def _check(keys: Sequence[Key], limit: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
    if keys[-1].field != "pk":
        raise ValueError("the last key must be the primary key")


def _window(
    rows: list[Any], *, more: bool, limit: int, backwards: bool, resumed: bool
) -> tuple[list[Any], bool, bool]:
    """A page's rows out of the `limit + 1` read, in the list's order, and whether there
    are pages after and before it. Read upwards from a `before` cursor, the rows are put
    back in the list's order: below the page is at least the row the cursor came from;
    above it, more only if more were found. Read downwards, there is a page before it
    when it was `resumed` from a cursor."""
    rows = rows[:limit]
    if backwards:
        rows.reverse()
        return rows, True, more
    return rows, more, resumed


def page_from_query(
    queryset: QuerySet,
    query: Mapping[str, str],
    *,
    keys: Sequence[Key],
    limit: int,
    prefix: str = "",
    load: Callable[[list[int]], QuerySet] | None = None,
) -> Page:
    """An HTML list's page (issue 14: no OFFSET at any depth): `?<prefix>after=` pages
    forwards, `?<prefix>before=` backwards, both the cursors `paginate` gives out. A
    cursor the list did not give out (an old bookmark, a `?page=` link from before)
    opens the first page, as a page number out of range used to."""
    after, before = query.get(f"{prefix}after") or None, query.get(f"{prefix}before") or None
    try:
        return paginate(queryset, keys=keys, limit=limit, cursor=after, before=before, load=load)
    except InvalidCursor:
        return paginate(queryset, keys=keys, limit=limit, load=load)


def page_of_values(
    queryset: QuerySet,
    query: Mapping[str, str],
    *,
    keys: Sequence[Key],
    limit: int,
    fields: Sequence[str],
    expressions: Mapping[str, Any] | None = None,
    prefix: str = "",
) -> Page:
    """`page_from_query` read by `read_page`: an HTML list's page as dicts of `fields`
    and its count in one query; a cursor the list did not give out opens the first
    page."""
    after, before = query.get(f"{prefix}after") or None, query.get(f"{prefix}before") or None
    read = {"keys": keys, "limit": limit, "fields": fields, "expressions": expressions}
    try:
        return read_page(queryset, after=after, before=before, **read)
    except InvalidCursor:
        return read_page(queryset, **read)


# --- several lists on one page ------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    """One of several lists a page shows (the intake queue's three sections), each paged
    on its own by its cursors (`after` forwards, `before` backwards)."""

    queryset: QuerySet
    after: str | None = None
    before: str | None = None


def _compiled(queryset: QuerySet) -> tuple[str, tuple[Any, ...]] | None:
    """The SQL and parameters of `queryset`, or None when Django knows it is empty
    without asking (a filter on no ids at all)."""
    try:
        sql, params = queryset.query.get_compiler(queryset.db).as_sql()
    except EmptyResultSet:
        return None
    return sql, tuple(params)


def _estimates(plan: dict[str, Any], branches: int) -> list[int] | None:
    """The planner's row estimates of `SELECT ARRAY(branch 1), ARRAY(branch 2), ...`: each
    ARRAY is an InitPlan of the top node, in the order of the select list. None when
    the plan has another shape (then the caller keeps the exact counts)."""
    subplans = [p for p in plan.get("Plans", []) if p.get("Parent Relationship") == "InitPlan"]
    if len(subplans) != branches:
        return None
    return [int(p["Plan Rows"]) for p in subplans]


def count_sections(querysets: Sequence[QuerySet]) -> list[tuple[int, bool]]:
    """`count_rows` of several querysets in at most two queries whatever their number and
    size (issue 14): the exact counts, each stopping at EXACT_COUNT_UP_TO + 1, as one
    SELECT of scalar subqueries; on PostgreSQL, the planner's estimates of all of them
    from one EXPLAIN (no row is read), used for those above EXACT_COUNT_UP_TO."""
    if not querysets:
        return []
    db = querysets[0].db
    connection = connections[db]
    postgres = connection.vendor == "postgresql"
    ids = [qs.order_by().values("pk") for qs in querysets]
    compiled = [_compiled(q[: EXACT_COUNT_UP_TO + 1] if postgres else q) for q in ids]
    asked = [i for i, c in enumerate(compiled) if c is not None]
    counted = [0] * len(querysets)
    if not asked:
        return [(0, False)] * len(querysets)
    quote = connection.ops.quote_name
    parts, params = [], []
    for i in asked:
        sql, branch_params = compiled[i]  # type: ignore[misc]
        parts.append(f"(SELECT COUNT(*) FROM ({sql}) AS {quote(f'counted_{i}')})")
        params.extend(branch_params)
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(parts), params)
        for i, value in zip(asked, cursor.fetchone(), strict=True):
            counted[i] = int(value)
    if not postgres:
        return [(n, False) for n in counted]
    uncapped = [_compiled(ids[i]) for i in asked]
    arrays = [f"ARRAY({sql})" for sql, _ in uncapped]  # type: ignore[misc]
    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN (FORMAT JSON) SELECT " + ", ".join(arrays),
            [p for _, branch_params in uncapped for p in branch_params],  # type: ignore[misc]
        )
        explained = cursor.fetchone()[0]
    plan = (json.loads(explained) if isinstance(explained, str) else explained)[0]["Plan"]
    estimates = _estimates(plan, len(asked)) or [counted[i] for i in asked]
    out = [(n, False) for n in counted]
    for i, estimate in zip(asked, estimates, strict=True):
        if counted[i] > EXACT_COUNT_UP_TO:
            out[i] = (max(estimate, counted[i]), True)
    return out


def _compare(keys: Sequence[Key], a: Sequence[Any], b: Sequence[Any]) -> int:
    """-1, 0 or 1 as row `a` comes before, with or after row `b` in the order of `keys`
    (nulls last), as the database orders them."""
    for key, x, y in zip(keys, a, b, strict=True):
        if x == y:
            continue
        if x is None or y is None:
            return 1 if x is None else -1
        before = x < y
        return (-1 if before else 1) * (-1 if key.descending else 1)
    return 0


def _sort_key(keys: Sequence[Key], values: dict[int, list[Any]]) -> Callable[[Any], Any]:
    return cmp_to_key(lambda a, b: _compare(keys, values[a.pk], values[b.pk]))


def paginate_sections(
    sections: Sequence[Section],
    *,
    keys: Sequence[Key],
    limit: int,
    load: Callable[[list[int]], QuerySet],
) -> list[Page]:
    """`paginate` of several lists at once, in the same queries whatever their number and
    size (issue 14: the intake queue had four queries a section): the counts by
    `count_sections`, the keys of every section's page in one UNION ALL of their keyset
    reads (each still an index range scan from its own cursor), and the rows of every
    page by one `load(ids)`. The sections share `keys`; a cursor a section did not give
    out opens its first page."""
    _check(keys, limit)
    counts = count_sections([s.queryset for s in sections])
    reads: list[tuple[str, tuple[Any, ...]] | None] = []
    # Per section: read upwards from a `before` cursor; came with a valid `after` cursor.
    directions: list[tuple[bool, bool]] = []
    for section in sections:
        backwards = bool(section.before) and not section.after
        try:
            if backwards:
                condition = _before(keys, decode_cursor(section.before or "", keys))
            elif section.after:
                condition = _after(keys, decode_cursor(section.after, keys))
            else:
                condition = Q()
        except InvalidCursor:
            backwards, condition = False, Q()
        directions.append((backwards, bool(section.after) and not backwards and bool(condition)))
        rows = (
            section.queryset.prefetch_related(None)
            .filter(condition)
            .order_by(*(k.order(reverse=backwards) for k in keys))
        )
        reads.append(_compiled(rows.values_list("pk")[: limit + 1]))
    found: list[list[int]] = [[] for _ in sections]
    asked = [i for i, r in enumerate(reads) if r is not None]
    if asked:
        connection = connections[sections[0].queryset.db]
        quote = connection.ops.quote_name
        parts, params = [], []
        for i in asked:
            sql, branch_params = reads[i]  # type: ignore[misc]
            parts.append(f"SELECT {i}, {quote(f'page_{i}')}.* FROM ({sql}) AS {quote(f'page_{i}')}")
            params.extend(branch_params)
        with connection.cursor() as cursor:
            cursor.execute(" UNION ALL ".join(parts), params)
            for section_index, pk in cursor.fetchall():
                found[section_index].append(pk)
    every = [pk for ids in found for pk in ids]
    loaded = {obj.pk: obj for obj in load(every)} if every else {}
    pages = []
    for i, ids in enumerate(found):
        backwards, resumed = directions[i]
        rows = [loaded[pk] for pk in ids if pk in loaded]
        # Put back in the order they were read in (a UNION ALL promises no order).
        values = {obj.pk: [getattr(obj, k.field) for k in keys] for obj in rows}
        rows.sort(key=_sort_key(keys, values), reverse=backwards)
        rows, has_next, has_previous = _window(
            rows, more=len(ids) > limit, limit=limit, backwards=backwards, resumed=resumed
        )
        count, estimated = counts[i]
        if not rows:
            pages.append(Page(items=[], next=None, count=count, count_is_estimate=estimated))
            continue
        pages.append(
            Page(
                items=rows,
                next=encode_cursor(values[rows[-1].pk]) if has_next else None,
                count=count,
                count_is_estimate=estimated,
                previous=encode_cursor(values[rows[0].pk]) if has_previous else None,
            )
        )
    return pages


@dataclass(frozen=True)
class SectionOf:
    """One section of a list that a page shows in sections (the intake queue's three),
    its rows those whose column is `value`, paged on its own by its cursors (`after`
    forwards, `before` backwards)."""

    value: Any
    after: str | None = None
    before: str | None = None


# A value no filter is given, compiled in place of a section's own (`read_sections`): the
# SQL of every section read without a cursor is the same but for that one parameter.
_SECTION = f"section-{uuid.uuid4()}"


def _for_section(
    compiled: tuple[str, tuple[Any, ...]] | None, value: Any
) -> tuple[str, tuple[Any, ...]] | None:
    if compiled is None:
        return None
    sql, params = compiled
    return sql, tuple(value if p == _SECTION else p for p in params)


# Values no argument of a query takes (ids far below any), each compiled as a parameter
# in place of a caller's value: `read_sections` with `prepared` keeps the SQL compiled
# from such a queryset and gives each call's values (`substitute`) as its parameters.
PARAMETER_MARKER = -(2**62)


@dataclass(frozen=True)
class _SectionsRead:
    """A sections' read compiled once (`read_sections`): the sections' ids and first
    pages (their value a parameter), the rows' names and the converters of their
    columns (by position)."""

    ids: tuple[str, tuple[Any, ...]] | None
    first_page: tuple[str, tuple[Any, ...]] | None
    names: list[str]
    converters: dict[int, Any]


_prepared: dict[tuple[Any, str], _SectionsRead] = {}


def _compile_sections(
    queryset: QuerySet, column: str, keys: Sequence[Key], shape: dict[str, Any]
) -> _SectionsRead:
    marked = queryset.filter(**{column: _SECTION})
    ids_of = _compiled(marked.order_by().values("pk"))
    first, _backwards = _rows_query(marked, keys, after=None, before=None, **shape)
    query = first.query
    compiler = query.get_compiler(queryset.db)
    try:
        first_page = compiler.as_sql()
    except EmptyResultSet:
        return _SectionsRead(ids_of, None, [], {})
    names = (
        list(query.selected)
        if query.selected
        else [*query.extra_select, *query.values_select, *query.annotation_select]
    )
    converters = compiler.get_converters([s[0] for s in compiler.select[: compiler.col_count]])
    return _SectionsRead(ids_of, (first_page[0], tuple(first_page[1])), names, converters)


def read_sections(
    queryset: QuerySet,
    *,
    column: str,
    sections: Sequence[SectionOf],
    keys: Sequence[Key],
    limit: int,
    fields: Sequence[str],
    expressions: Mapping[str, Any] | None = None,
    prepared: Any = None,
    substitute: Mapping[int, Any] | None = None,
) -> list[Page]:
    """`paginate_sections` of the sections of `queryset` by the value of `column`, in one
    query and, on PostgreSQL, one EXPLAIN whatever their number and size (issue 14): one
    UNION ALL of each section's keyset read (an index range scan from its own cursor) of
    its page's rows as dicts of `fields`, the keys and `expressions`, each row with its
    section's count (as count_sections counts it, an uncorrelated subquery); the
    estimates of all sections from one EXPLAIN (estimate_counts). A section whose page is
    empty (no row to hold its count) is counted apart, all such in one more query. A
    cursor a section did not give out opens its first page.

    The sections' SQL is compiled once for all of them (the same but for the section's
    value, a parameter), and once more for each section read from a cursor: compiling a
    query cost as much CPU as running it. With `prepared` (a key naming the shape of
    `queryset`), it is compiled once per process: `queryset` then holds markers
    (PARAMETER_MARKER and below) in place of the caller's values, which `substitute`
    gives (marker -> value) to each call's parameters."""
    _check(keys, limit)
    if not sections:
        return []
    db = queryset.db
    connection = connections[db]
    quote = connection.ops.quote_name
    shape: dict[str, Any] = {"fields": fields, "expressions": expressions, "limit": limit}
    values = dict(substitute or {})

    def given(compiled: tuple[str, tuple[Any, ...]] | None) -> Any:
        if compiled is None or not values:
            return compiled
        sql, params = compiled
        return sql, tuple(values.get(p, p) if type(p) is int else p for p in params)

    read = _prepared.get((prepared, db)) if prepared is not None else None
    if read is None:
        read = _compile_sections(queryset, column, keys, shape)
        if prepared is not None:
            _prepared[(prepared, db)] = read
    ids_of, first_page = given(read.ids), given(read.first_page)
    # Per section: its ids (for its count and estimate), its page's read, read upwards
    # from a `before` cursor, came with a valid `after` cursor.
    reads: list[tuple[Any, Any, bool, bool]] = []
    for section in sections:
        after, before = section.after, section.before
        ids = _for_section(ids_of, section.value)
        if not after and not before:
            reads.append((ids, _for_section(first_page, section.value), False, False))
            continue
        own = queryset.filter(**{column: section.value})
        try:
            rows, backwards = _rows_query(own, keys, after=after, before=before, **shape)
        except InvalidCursor:
            reads.append((ids, _for_section(first_page, section.value), False, False))
            continue
        reads.append((ids, given(_compiled(rows)), backwards, bool(after) and not backwards))
    parts: list[str] = []
    params: list[Any] = []
    for i, (ids, page, _backwards, _resumed) in enumerate(reads):
        if ids is None or page is None:
            continue
        alias = quote(f"page_{i}")
        parts.append(
            f"SELECT {i}, ({_count_sql(db, ids[0])}), {alias}.* FROM ({page[0]}) AS {alias}"
        )
        params.extend([*ids[1], *page[1]])
    found: list[list[dict[str, Any]]] = [[] for _ in sections]
    counted = [0] * len(sections)
    seen: set[int] = set()
    if parts:
        with connection.cursor() as cursor:
            cursor.execute(" UNION ALL ".join(parts), params)
            fetched = cursor.fetchall()
        for row in fetched:
            values_read = list(row[2:])
            for pos, (convs, expression) in read.converters.items():
                value = values_read[pos]
                for convert in convs:
                    value = convert(value, expression, connection)
                values_read[pos] = value
            found[row[0]].append(dict(zip(read.names, values_read, strict=True)))
            counted[row[0]] = row[1]
            seen.add(row[0])
    asked = [i for i, (ids, *_rest) in enumerate(reads) if ids is not None]
    unseen = [i for i in asked if i not in seen]
    if unseen:
        # Sections with an empty page: their counts, all in one query.
        counts = ", ".join(f"({_count_sql(db, reads[i][0][0])})" for i in unseen)
        with connection.cursor() as cursor:
            cursor.execute("SELECT " + counts, [p for i in unseen for p in reads[i][0][1]])
            for i, n in zip(unseen, cursor.fetchone(), strict=True):
                counted[i] = int(n)
    estimated = estimate_counts(db, [counted[i] for i in asked], [reads[i][0] for i in asked])
    counts = [(0, False)] * len(sections)
    for i, count in zip(asked, estimated, strict=True):
        counts[i] = count
    pages = []
    for i, rows in enumerate(found):
        _ids, _page, backwards, resumed = reads[i]
        _in_order(keys, rows, backwards=backwards)
        pages.append(
            _page_of(keys, rows, limit=limit, backwards=backwards, resumed=resumed, count=counts[i])
        )
    return pages
