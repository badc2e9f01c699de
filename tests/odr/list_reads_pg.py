"""Run as a script by test_list_reads.py, in a fresh process against a scratch PostgreSQL
database: migrate, seed the demo, add 3,000 cases waiting for intake and 40 in
mediation, ANALYZE; then read the intake queue's sections together in one query
(odr.pagination.read_sections, compiled once and again with markers) and each alone
(odr.pagination.paginate), and the coordinator's list a page with its count
(odr.pagination.read_page) and alone, forwards and back. Prints, as JSON on the last
line, the queries they took, their counts and whether every page read together equals
the page read alone."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402


def main() -> None:
    from odr import pagination, selectors
    from odr.models import Dispute
    from odr.views.lists import INTAKE_COLUMNS, OLDEST_FIRST
    from tests import factories
    from tests.odr.bulk_data import seed_intake_scratch

    seed_intake_scratch()
    S = Dispute.Status
    coordinator = factories.demo_user("coordinator@demo.odr")
    orgs = sorted(selectors.user_org_ids(coordinator, "coordinator"))
    statuses = [S.AWAITING_INTAKE, S.IN_MEDIATION, S.FILED]
    markers = [pagination.PARAMETER_MARKER - i for i in range(len(orgs))]
    shape = {
        "column": "status",
        "keys": OLDEST_FIRST,
        "limit": 20,
        "fields": INTAKE_COLUMNS,
        "expressions": selectors.party_keys_expressions(),
    }
    same: list[list[bool]] = []
    queries: list[list[str]] = []
    counts: list[list[list]] = []

    def read(cursors, *, prepared: bool) -> list[pagination.Page]:
        queue = selectors.intake_queue_for(
            coordinator, coordinator_orgs=markers if prepared else orgs
        )
        sections = [
            pagination.SectionOf(status, after=after, before=before)
            for status, (after, before) in zip(statuses, cursors, strict=True)
        ]
        with CaptureQueriesContext(connection) as captured:
            together = pagination.read_sections(
                queue,
                sections=sections,
                prepared=("test", len(orgs)) if prepared else None,
                substitute=dict(zip(markers, orgs, strict=True)) if prepared else None,
                **shape,
            )
        queries.append([q["sql"].split()[0] for q in captured.captured_queries])
        real = selectors.intake_queue_for(coordinator, coordinator_orgs=orgs)
        alone = [
            pagination.paginate(
                real.filter(status=status), keys=OLDEST_FIRST, limit=20, cursor=a, before=b
            )
            for status, (a, b) in zip(statuses, cursors, strict=True)
        ]
        same.append(
            [
                ([r["pk"] for r in t.items], t.next, t.previous, t.count, t.count_is_estimate)
                == ([d.pk for d in s.items], s.next, s.previous, s.count, s.count_is_estimate)
                for t, s in zip(together, alone, strict=True)
            ]
        )
        counts.append([[t.count, t.count_is_estimate] for t in together])
        return together

    for prepared in (True, True, False):  # compiled, then from the compiled SQL, then not
        first = read([(None, None)] * 3, prepared=prepared)
        second = read([(p.next, None) for p in first], prepared=prepared)
        read([(None, p.previous) for p in second], prepared=prepared)
    # A page of the coordinator's list with its count, and alone.
    visible = selectors.disputes_visible_to(coordinator)
    fields = ("title", "status")
    page = pagination.read_page(visible, keys=OLDEST_FIRST, limit=20, fields=fields)
    again = pagination.read_page(
        visible, keys=OLDEST_FIRST, limit=20, fields=fields, after=page.next
    )
    back = pagination.read_page(
        visible, keys=OLDEST_FIRST, limit=20, fields=fields, before=again.previous
    )
    pages = []
    for read_, alone in (
        (page, pagination.paginate(visible, keys=OLDEST_FIRST, limit=20)),
        (again, pagination.paginate(visible, keys=OLDEST_FIRST, limit=20, cursor=page.next)),
        (back, pagination.paginate(visible, keys=OLDEST_FIRST, limit=20, before=again.previous)),
    ):
        pages.append(
            ([r["pk"] for r in read_.items], read_.next, read_.previous, read_.count)
            == ([d.pk for d in alone.items], alone.next, alone.previous, alone.count)
        )
    print(
        json.dumps(
            {
                "vendor": connection.vendor,
                "queries": queries,
                "counts": counts,
                "same": same,
                "pages": pages,
                "estimated": [page.count, page.count_is_estimate],
            }
        )
    )


if __name__ == "__main__":
    main()
