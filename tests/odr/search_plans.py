"""Run as a script by test_search_index.py, in a fresh process against a scratch
PostgreSQL database: migrate, seed the demo, copy one bulk case into `SEARCH_DISPUTES`
(100,000 by default) cases with two parties each by INSERT … SELECT, ANALYZE, then
EXPLAIN ANALYZE the county coordinator's list queries for searches by case number and
by party name: the search's own read of its matches, the page and the count. Prints, as
JSON on the last line, for each search: the relations read by a sequential scan, the
indexes used, and the time PostgreSQL took."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.core.exceptions import EmptyResultSet  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

N = int(os.environ.get("SEARCH_DISPUTES", "100000"))
SURNAMES = ["张", "李", "王", "赵", "陈", "刘", "杨", "黄", "周", "吴"]
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建文")


def _copy_rows(template_id: int, mediator_id: int) -> None:
    """N copies of the template case, each with its own number and time, all the
    mediator's (none of them in mediation), and two parties each with a name drawn from
    SURNAMES and GIVEN (so a full name is rare)."""
    from odr.models import Dispute, Party

    quote = connection.ops.quote_name
    varying = {"case_number", "created_at", "title", "mediator_id"}
    columns = [f.column for f in Dispute._meta.concrete_fields if f.column not in {"id", *varying}]
    listed = ", ".join(quote(c) for c in columns)
    party_columns = [
        f.column
        for f in Party._meta.concrete_fields
        if f.column not in {"id", "dispute_id", "name", "role", "position", "user_id"}
    ]
    party_listed = ", ".join(quote(c) for c in party_columns)
    surnames = "ARRAY[" + ",".join(f"'{s}'" for s in SURNAMES) + "]"
    given = "ARRAY[" + ",".join(f"'{g}'" for g in GIVEN) + "]"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO odr_dispute ({listed}, case_number, created_at, title, mediator_id) "
            f"SELECT {listed}, format('（2025）安调字第%%s号', lpad(g::text, 6, '0')), "
            f"now() - g * interval '15 minutes', 'search ' || g, %s "
            f"FROM odr_dispute, generate_series(1, %s) g WHERE id = %s",
            [mediator_id, N, template_id],
        )
        for position, role in enumerate(("applicant", "respondent")):
            cursor.execute(
                f"INSERT INTO odr_party ({party_listed}, dispute_id, role, name, position) "
                f"SELECT {party_listed}, d.id, %s, "
                f"({surnames})[1 + (d.id * 7 + %s) %% {len(SURNAMES)}] "
                f"|| ({given})[1 + (d.id * 13 + %s) %% {len(GIVEN)}] "
                f"|| ({given})[1 + (d.id * 31 + %s) %% {len(GIVEN)}], 0 "
                f"FROM odr_party p, odr_dispute d "
                f"WHERE p.dispute_id = %s AND p.position = 0 AND p.role = 'applicant' "
                f"AND d.title LIKE 'search %%'",
                [role, position * 3, position * 5, position * 11, template_id],
            )
        cursor.execute("ANALYZE")


def _walk(plan: dict[str, Any], seq: set[str], indexes: set[str]) -> None:
    if plan.get("Node Type") == "Seq Scan":
        seq.add(plan.get("Relation Name", ""))
    if "Index Name" in plan:
        indexes.add(plan["Index Name"])
    for child in plan.get("Plans", []):
        _walk(child, seq, indexes)


def _explain(query: Any) -> dict[str, Any]:
    try:
        sql, params = query.sql_with_params()
    except EmptyResultSet:  # a search that matched nothing: the list asks nothing more
        return {"seq_scans": [], "indexes": [], "ms": 0.0, "empty": True}
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)
        (raw,) = cursor.fetchone()
    top = (json.loads(raw) if isinstance(raw, str) else raw)[0]
    seq: set[str] = set()
    indexes: set[str] = set()
    _walk(top["Plan"], seq, indexes)
    return {
        "seq_scans": sorted(seq),
        "indexes": sorted(indexes),
        "ms": round(top["Execution Time"], 2),
        "limited": top["Plan"]["Node Type"] == "Limit",
    }


def main() -> None:
    call_command("migrate", verbosity=0)
    call_command("seed_demo", "--no-history", stdout=open(os.devnull, "w"))  # noqa: SIM115
    from django.contrib.auth import get_user_model

    from odr import filters as list_filters
    from odr.pagination import EXACT_COUNT_UP_TO, NEWEST_FIRST, count_rows
    from odr.selectors import disputes_visible_to
    from tests.odr.bulk_data import bulk_disputes

    users = get_user_model().objects
    citizen = users.get(email="citizen1@demo.odr")
    from odr.models import Dispute, Membership

    # Settled: the mediator's 100,000 cases are past, none in mediation (mediator_load).
    (template,) = bulk_disputes(1, applicant=citizen, statuses=(Dispute.Status.SETTLED,))
    mediator = users.get(email="mediator@demo.odr")
    _copy_rows(template.pk, mediator.pk)
    coordinator = users.get(email="coordinator@demo.odr")
    searches = {
        "serial": "第000777号",  # the serial, in the middle of the case number
        "number": "（2025）安调字第004321号",
        "full_name": "欧阳修",  # nobody: the index answers "none" at once
        "given_name": "王" + GIVEN[1] + GIVEN[2],
        "surname": "赵",  # one character: from the start
        "two_characters": "陈" + GIVEN[3],
    }
    out: dict[str, Any] = {"vendor": connection.vendor, "disputes": N}
    for label, q in searches.items():
        qs = list_filters.filter_disputes(
            disputes_visible_to(coordinator), list_filters.ListFilters(q=q)
        )
        page = qs.order_by(*(k.order() for k in NEWEST_FIRST)).values_list("created_at", "pk")
        # What odr.pagination.count_rows reads: the ids up to EXACT_COUNT_UP_TO + 1.
        counted = qs.order_by().values("pk")[: EXACT_COUNT_UP_TO + 1]
        probe = list_filters.search_matches(q)[: list_filters.COMMON_SEARCH + 1]
        out[label] = {
            "matches": _explain(probe.query),
            "page": _explain(page[:21].query),
            "count": _explain(counted.query),
            "found": qs.count(),
            # What the list answers as its count: exact up to 1,000, else estimated.
            "listed": count_rows(qs),
            "common": len(probe) > list_filters.COMMON_SEARCH,
        }
    # The intake queue's mediators with their load (their cases in mediation): read by
    # the mediator's and status's index, not through the mediator's 100,000 cases.
    from odr.selectors import _mediators_by_load

    centres = Membership.objects.filter(user=mediator, role="mediator").values_list(
        "organisation_id", flat=True
    )
    out["mediator_load"] = _explain(_mediators_by_load(list(centres)).query)
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
