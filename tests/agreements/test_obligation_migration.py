"""Obligations marked before they had a status (agreements 0007, issue 11, L3): the
obligee's mark stays done; the obligor's mark of his own obligation becomes a report for
the obligee to confirm or dispute."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from agreements.models import Performance
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)
BEFORE = [("agreements", "0007_signing_attempts")]
AFTER = [("agreements", "0008_obligation_reports")]


def _migrate(targets) -> object:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def _migrate_to_latest() -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_an_obligors_own_mark_becomes_a_report_and_the_obligees_stays_done():
    factories.seed_demo()
    agreement = factories.agreement_in_force()
    obligor = factories.demo_user("citizen2@demo.odr")
    obligee = factories.demo_user("citizen1@demo.odr")
    rows = [
        Performance.objects.create(
            agreement=agreement,
            term_index=n,
            description=f"第{n}项",
            obligor_role="respondent",
            obligee_role="applicant",
        )
        for n in (1, 2, 3)
    ]
    try:
        old = _migrate(BEFORE).get_model("agreements", "Performance")
        now = timezone.now()
        old.objects.filter(pk=rows[0].pk).update(done_at=now, done_by_id=obligor.pk)
        old.objects.filter(pk=rows[1].pk).update(done_at=now, done_by_id=obligee.pk)
        migrated = _migrate(AFTER).get_model("agreements", "Performance")
        # Read as the table stands after 0008 (later migrations add columns).
        by_obligor, by_obligee, untouched = (migrated.objects.get(pk=r.pk) for r in rows)
    finally:
        _migrate_to_latest()
    assert by_obligor.status == Performance.Status.REPORTED
    assert by_obligor.done_at is None and by_obligor.reported_by_id == obligor.pk
    assert by_obligor.reported_at == now and by_obligor.reported_role == "respondent"
    assert by_obligee.status == Performance.Status.DONE and by_obligee.done_by_id == obligee.pk
    assert untouched.status == Performance.Status.OPEN
