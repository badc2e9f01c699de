"""Many disputes at once, by bulk inserts (issue 14): rows as a large caseload holds them,
without going through the services one case at a time (5,000 filings would take
minutes). Only for tests of lists and statistics, which read rows and change none."""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections.abc import Sequence

from django.contrib.auth.base_user import AbstractBaseUser

from odr.categories import Category
from odr.models import Dispute, Organisation, Party, Region

_batch = itertools.count(1)
START = dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC)


def bulk_disputes(
    n: int,
    *,
    applicant: AbstractBaseUser,
    organisation: Organisation | None = None,
    mediator: AbstractBaseUser | None = None,
    statuses: Sequence[str] = (Dispute.Status.IN_MEDIATION,),
    categories: Sequence[str] = (Category.DEBT,),
    region_codes: Sequence[str] = ("330523000000",),
    seed: int = 0,
    created_at: dt.datetime | None = None,
    same_instant_every: int = 1,
) -> list[Dispute]:
    """`n` disputes filed by `applicant` against one respondent each. Statuses, categories
    and regions are drawn at random (seeded); settled and failed cases are closed some
    random time after filing (a few settled ones never got their closing time).
    `same_instant_every` > 1 files that many cases at the very same instant (ties)."""
    rng = random.Random(seed)
    batch = next(_batch)
    regions = {r.code: r.pk for r in Region.objects.filter(code__in=region_codes)}
    if organisation is None:
        organisation = Organisation.objects.get(region__code="330523000000", kind="county_centre")
    rows = []
    base = created_at or START
    for i in range(n):
        status = rng.choice(statuses)
        filed = base + dt.timedelta(minutes=37 * (i // same_instant_every))
        closed = None
        if status in (Dispute.Status.SETTLED, Dispute.Status.FAILED) and rng.random() > 0.05:
            closed = filed + dt.timedelta(seconds=rng.randint(3600, 90 * 86400))
        rows.append(
            Dispute(
                case_number=f"（2026）批{batch}第{i + 1}号",
                status=status,
                category=rng.choice(categories),
                title=f"批量{batch}-{i}",
                description="批量数据",
                region_id=regions[rng.choice(region_codes)],
                organisation=organisation,
                mediator=mediator,
                filed_by=applicant,
                created_at=filed,
                closed_at=closed,
            )
        )
    disputes = Dispute.objects.bulk_create(rows, batch_size=500)
    parties = []
    for d in disputes:
        parties.append(
            Party(dispute=d, role=Party.Role.APPLICANT, user=applicant, name="张三", accepted=True)
        )
        parties.append(Party(dispute=d, role=Party.Role.RESPONDENT, name="李四", accepted=True))
    Party.objects.bulk_create(parties, batch_size=1000)
    return disputes


def seed_intake_scratch() -> None:
    """A scratch PostgreSQL database as the intake queue's scripts read it
    (intake_sections_pg.py, list_reads_pg.py): migrated, the demo seeded, 3,000 cases
    waiting for intake and 40 in mediation, ANALYZEd."""
    import os

    from django.core.management import call_command
    from django.db import connection

    from tests import factories

    call_command("migrate", verbosity=0)
    call_command("seed_demo", "--no-history", stdout=open(os.devnull, "w"))  # noqa: SIM115
    applicant = factories.demo_user("citizen1@demo.odr")
    S = Dispute.Status
    bulk_disputes(3000, applicant=applicant, statuses=[S.AWAITING_INTAKE])
    bulk_disputes(40, applicant=applicant, statuses=[S.IN_MEDIATION], seed=1)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
