"""Run as a script by test_list_pages.py, in a fresh process against a scratch PostgreSQL
database: migrate, seed the demo, add 3,000 cases waiting for intake and 40 in
mediation, ANALYZE; then read the intake queue's sections together
(odr.pagination.paginate_sections) and each alone (odr.pagination.paginate), forwards
and back. Prints, as JSON on the last line, the counts, the queries they took and whether
every page read together equals the page read alone."""

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
    from odr.views.lists import OLDEST_FIRST
    from tests import factories
    from tests.odr.bulk_data import seed_intake_scratch

    seed_intake_scratch()
    S = Dispute.Status
    coordinator = factories.demo_user("coordinator@demo.odr")
    queue = selectors.intake_queue_for(coordinator)
    querysets = [
        queue.filter(status=S.AWAITING_INTAKE),
        queue.filter(status=S.IN_MEDIATION),
        queue.filter(status=S.FILED).exclude(organisation__isnull=False),  # none at all
        queue.filter(pk__in=[]),  # Django knows it is empty without asking
    ]
    with CaptureQueriesContext(connection) as counted:
        counts = pagination.count_sections(querysets)
    alone = [pagination.count_rows(qs) for qs in querysets]

    def ids(page: pagination.Page) -> list[int]:
        return [d.pk for d in page.items]

    def read(cursors: list[tuple[str | None, str | None]]) -> list[pagination.Page]:
        together = pagination.paginate_sections(
            [
                pagination.Section(qs, after=after, before=before)
                for qs, (after, before) in zip(querysets, cursors, strict=True)
            ],
            keys=OLDEST_FIRST,
            limit=20,
            load=selectors.intake_rows,
        )
        separately = [
            pagination.paginate(qs, keys=OLDEST_FIRST, limit=20, cursor=after, before=before)
            for qs, (after, before) in zip(querysets, cursors, strict=True)
        ]
        same.append(
            [
                (ids(t), t.next, t.previous) == (ids(s), s.next, s.previous)
                for t, s in zip(together, separately, strict=True)
            ]
        )
        return together

    same: list[list[bool]] = []
    first = read([(None, None)] * len(querysets))  # the first pages
    second = read([(p.next, None) for p in first])  # the next ones
    read([(None, p.previous) for p in second])  # and back up to the first
    print(
        json.dumps(
            {
                "vendor": connection.vendor,
                "counts": counts,
                "alone": alone,
                "queries": [q["sql"][:40] for q in counted.captured_queries],
                "same": same,
            }
        )
    )


if __name__ == "__main__":
    main()
