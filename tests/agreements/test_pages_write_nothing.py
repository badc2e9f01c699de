"""Looking writes nothing: GET on every page and API read of agreements, of the court
portal and of the case page with its confirmation and performance panels leaves every
table as it was (no row added or removed, no INSERT, UPDATE or DELETE sent). An agreement
that came into force without its obligations gets them from the reminders job, never
from being viewed."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import time_machine
from django.apps import apps
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agreements.court import services as court_services
from agreements.models import Agreement, Performance
from agreements.reminders import send_due
from odr.models import AuditEvent
from tests import factories

pytestmark = pytest.mark.django_db
EFFECTIVE = datetime(2026, 8, 3, 10, 0, tzinfo=timezone.get_fixed_timezone(8 * 60))
WRITES = ("INSERT", "UPDATE", "DELETE")


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _rows() -> dict[str, int]:
    return {model._meta.label: model.objects.count() for model in apps.get_models()}


def _get_writes_nothing(client, path: str) -> None:
    before = _rows()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    writes = [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().startswith(WRITES)]
    assert writes == [], (path, writes)
    assert _rows() == before, path


def _as(client, email: str):
    client.force_login(factories.demo_user(email))
    return client


def test_the_agreement_pages_write_nothing_in_any_status(demo, client):
    draft = factories.agreement_draft()
    signing = factories.agreement_signing()
    factories.agreement_sign_as(signing, "citizen1@demo.odr")
    for agreement in (draft, signing):
        for email in ("mediator@demo.odr", "citizen1@demo.odr", "citizen2@demo.odr"):
            viewer = _as(client, email)
            for path in (
                f"/agreements/{agreement.pk}/",
                f"/agreements/{agreement.pk}/sign/",
                f"/agreements/{agreement.pk}/versions/",
                f"/agreements/{agreement.pk}/pdf/",
                f"/disputes/{agreement.dispute_id}/",
                f"/api/v1/agreements/{agreement.pk}",
                f"/api/v1/disputes/{agreement.dispute_id}/agreement",
            ):
                _get_writes_nothing(viewer, path)
    mediator = _as(client, "mediator@demo.odr")
    _get_writes_nothing(mediator, f"/disputes/{draft.dispute_id}/agreement/")


def test_the_court_portal_and_the_case_panels_write_nothing(demo, client):
    with time_machine.travel(EFFECTIVE, tick=False):
        request = factories.confirmation_pending()
        agreement = request.agreement
        # In force before obligations were laid out: the panel used to lay them out.
        assert not Performance.objects.filter(agreement=agreement).exists()
    with time_machine.travel(EFFECTIVE + timedelta(days=12), tick=False):
        clerk = _as(client, "clerk@demo.odr")
        for path in (
            "/court/",
            "/court/?status=pending",
            f"/court/requests/{request.pk}/",
            f"/disputes/{agreement.dispute_id}/",
            "/api/v1/court/requests",
            f"/api/v1/court/requests/{request.pk}",
        ):
            _get_writes_nothing(clerk, path)
        for email in ("citizen1@demo.odr", "citizen2@demo.odr", "mediator@demo.odr"):
            viewer = _as(client, email)
            for path in (
                f"/disputes/{agreement.dispute_id}/",
                f"/api/v1/disputes/{agreement.dispute_id}",
                f"/api/v1/agreements/{agreement.pk}/obligations",
                f"/api/v1/agreements/{agreement.pk}/confirmation",
            ):
                _get_writes_nothing(viewer, path)
    assert not Performance.objects.filter(agreement=agreement).exists()


def test_the_performance_panel_with_obligations_overdue_writes_nothing(demo, client):
    with time_machine.travel(EFFECTIVE, tick=False):
        agreement = factories.agreement_in_force()
        court_services.performance_schedule(agreement=agreement)
    with time_machine.travel(EFFECTIVE + timedelta(days=12), tick=False):
        viewer = _as(client, "citizen1@demo.odr")
        page = viewer.get(f"/disputes/{agreement.dispute_id}/").content.decode()
        assert 'id="performance"' in page and 'id="default-guidance"' in page
        _get_writes_nothing(viewer, f"/disputes/{agreement.dispute_id}/")
        _get_writes_nothing(viewer, f"/api/v1/agreements/{agreement.pk}/obligations")


def test_the_verification_pages_write_nothing(demo, client):
    agreement = factories.agreement_in_force()
    _get_writes_nothing(client, f"/verify/?sha256={agreement.pdf_sha256}")
    _get_writes_nothing(client, f"/verify/{agreement.document_id}/")
    _get_writes_nothing(client, f"/api/v1/verify/{agreement.pdf_sha256}")


def test_an_agreement_in_force_without_obligations_gets_them_from_the_reminders_job(demo, client):
    with time_machine.travel(EFFECTIVE, tick=False):
        agreement = factories.agreement_in_force()
    viewer = _as(client, "citizen1@demo.odr")
    with time_machine.travel(EFFECTIVE + timedelta(days=1), tick=False):
        viewer.get(f"/disputes/{agreement.dispute_id}/")
        body = viewer.get(f"/api/v1/agreements/{agreement.pk}/obligations").json()
        assert body["count"] == 0
        assert not Performance.objects.filter(agreement=agreement).exists()
        call_command("send_reminders", stdout=open("/dev/null", "w"))  # noqa: SIM115
        body = viewer.get(f"/api/v1/agreements/{agreement.pk}/obligations").json()
    assert [(i["term"], i["instalment"]) for i in body["items"]] == [(2, None), (1, 1), (1, 2)]
    event = AuditEvent.objects.get(action="performance.schedule")
    assert event.object_id == str(agreement.pk) and len(event.after["obligations"]) == 3
    # The next run finds nothing more to lay out.
    send_due(now=timezone.now())
    assert Performance.objects.filter(agreement=agreement).count() == 3
    assert AuditEvent.objects.filter(action="performance.schedule").count() == 1


def test_coming_into_force_lays_out_the_obligations(
    demo, client, django_capture_on_commit_callbacks
):
    agreement = factories.agreement_signing()
    factories.agreement_sign_as(agreement, "citizen1@demo.odr")
    factories.agreement_sign_as(agreement, "citizen2@demo.odr")
    with django_capture_on_commit_callbacks(execute=True):
        factories.agreement_sign_as(agreement, "mediator@demo.odr")
    assert Agreement.objects.get(pk=agreement.pk).status == Agreement.Status.SIGNED
    assert Performance.objects.filter(agreement=agreement).exists()
    assert court_services.agreements_needing_schedule() == []
