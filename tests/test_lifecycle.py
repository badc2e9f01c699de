"""The lifecycle kernel across the apps (issue 7): the layers hold, the four machines are
declared once each in their own app, closing a case closes its rooms, and looking at a
case changes nothing."""

from __future__ import annotations

import ast
import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.apps import apps
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from odr.lifecycle import audit_actions, machines
from tests import factories

ROOT = Path(__file__).resolve().parent.parent


# --- layers ------------------------------------------------------------------------------


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_module_of_odr_imports_sessions_or_agreements():
    offenders = []
    for path in (ROOT / "odr").rglob("*.py"):
        for module in _imported_modules(path):
            if module.split(".")[0] in {"sessions", "agreements"}:
                offenders.append(f"{path.relative_to(ROOT)} imports {module}")
    assert not offenders, "odr is the ground floor:\n" + "\n".join(offenders)


def test_no_template_of_odr_includes_a_template_of_the_apps_above():
    offenders = []
    pattern = re.compile(r"""{%\s*(include|extends)\s+["'](mediation|agreements)/""")
    for path in (ROOT / "odr" / "templates").rglob("*.html"):
        if pattern.search(path.read_text()):
            offenders.append(str(path.relative_to(ROOT)))
    assert not offenders, f"odr's pages compose registered panels instead: {offenders}"


def test_sessions_and_agreements_do_not_import_each_other():
    offenders = []
    for app, other in (("sessions", "agreements"), ("agreements", "sessions")):
        for path in (ROOT / app).rglob("*.py"):
            for module in _imported_modules(path):
                if module.split(".")[0] == other:
                    offenders.append(f"{path.relative_to(ROOT)} imports {module}")
    assert not offenders, "\n".join(offenders)


# --- the machines ------------------------------------------------------------------------


def test_every_state_machine_is_declared_once_in_the_app_of_its_model():
    """The dispute, the session, the agreement, the confirmation request, the
    obligation to perform (reported by the debtor, confirmed or disputed by the
    creditor), and the 12345 hotline ticket (answered, then closed resolved or not)."""
    by_model = {m.model._meta.label: m for m in machines().values()}
    assert len(by_model) == len(machines())
    assert set(by_model) == {
        "odr.Dispute",
        "mediation.MediationSession",
        "agreements.Agreement",
        "agreements.ConfirmationRequest",
        "agreements.Performance",
        "odr.HotlineTicket",
    }
    for machine in by_model.values():
        assert machine.model._meta.app_config.name in {"odr", "sessions", "agreements"}


def test_every_transition_has_its_own_audit_action_and_words_in_both_languages():
    seen: dict[str, str] = {}
    declared = audit_actions()
    for machine in machines().values():
        status_values = set(machine.model._meta.get_field(machine.status_field).choices or ())
        statuses = {value for value, _label in status_values}
        for t in machine.table.values():
            assert t.action not in seen, f"{t.action} is used by {seen[t.action]} too"
            seen[t.action] = f"{machine.name}.{t.name}"
            assert declared[t.action] is t.words
            assert t.words.document.strip(), f"{t.action} has no label for the PDF"
            assert t.sources <= statuses, f"{machine.name}.{t.name} starts from unknown statuses"
            assert t.target is None or t.target in statuses
            if t.public and t.target is not None:
                # A button that changes a status is part of the case's story (saving a
                # draft, which changes none, may stay off the timeline).
                assert t.words.timeline, f"{t.action} changes a status off the timeline"


def test_a_person_cannot_take_a_transition_reserved_to_the_platform(demo):
    from odr.transitions import MACHINE

    dispute = factories.dispute_in_mediation()
    refused = MACHINE.refusal("settle", dispute, dispute.mediator)
    assert refused is not None and refused.status == 403
    assert MACHINE.refusal("settle", dispute, None) is None


def test_apply_many_makes_each_move_as_apply_would_in_one_transaction(
    demo, django_capture_on_commit_callbacks
):
    """`Machine.apply_many` (issue 13: a batch of room joins starts its rooms together):
    for rows the caller locked, each move checked, saved and audited as `apply` makes it,
    the events chained in the order given and written at once, `transitioned` after
    commit for each; a refused move writes nothing and answers its refusal."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from odr.audit import verify_chain
    from odr.errors import DomainError
    from odr.lifecycle import transitioned
    from odr.models import AuditEvent
    from sessions.transitions import MACHINE, lock_sessions
    from tests.sessions.conftest import schedule

    mediator = factories.demo_user("mediator@demo.odr")
    citizen = factories.demo_user("citizen1@demo.odr")
    first, second, third = schedule(), schedule(), schedule()
    heard: list[tuple[int, str, str]] = []

    def listen(sender, instance, source, target, **kwargs) -> None:
        heard.append((instance.pk, source, target))

    transitioned.connect(listen)
    events = AuditEvent.objects.count()
    try:
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            locked = lock_sessions([first.pk, second.pk, third.pk])
            with CaptureQueriesContext(connection) as queries:
                answers = MACHINE.apply_many(
                    "start",
                    moves=[
                        (locked[third.pk], mediator, {"started_at": timezone.now()}),
                        (locked[first.pk], citizen, {"started_at": timezone.now()}),
                        (locked[second.pk], mediator, {"started_at": timezone.now()}),
                    ],
                )
            assert heard == []  # not before the commit
    finally:
        transitioned.disconnect(listen)
    assert isinstance(answers[1], DomainError) and answers[1].status == 403
    assert [answers[0].pk, answers[2].pk] == [third.pk, second.pk]
    for session, status in ((first, "scheduled"), (second, "live"), (third, "live")):
        session.refresh_from_db()
        assert session.status == status
    assert heard == [(third.pk, "scheduled", "live"), (second.pk, "scheduled", "live")]
    new = list(AuditEvent.objects.order_by("seq")[events:])
    assert [(e.action, e.object_id, e.actor_id) for e in new] == [
        ("session.start", str(third.pk), mediator.pk),
        ("session.start", str(second.pk), mediator.pk),
    ]
    assert (new[0].before["status"], new[0].after["status"]) == ("scheduled", "live")
    assert list(verify_chain()) == []
    # The rows are the caller's, locked already: no locking read again, no savepoint,
    # the events inserted at once.
    sql = [q["sql"] for q in queries.captured_queries]
    assert not [q for q in sql if "FOR UPDATE" in q and "mediationsession" in q.lower()], sql
    assert not [q for q in sql if q.startswith("SAVEPOINT")], sql
    assert len([q for q in sql if q.startswith('INSERT INTO "odr_auditevent"')]) == 1, sql


# --- closing a case closes its rooms ----------------------------------------------------


YUCUN = "330523101201"  # a village with its own mediation committee


def _case_with_sessions(*, village: bool = False):
    """A case in mediation with a scheduled and a proposed session, and a room ticket
    issued to the applicant. A village case can still be escalated."""
    from odr import services
    from sessions import services as session_services

    if village:
        dispute = services.dispute_accept(
            dispute=factories.dispute_awaiting_intake(region_code=YUCUN, category="debt"),
            actor=factories.demo_user("coordinator.yucun@demo.odr"),
            mediator=factories.demo_user("mediator.yucun@demo.odr").pk,
        )
    else:
        dispute = factories.dispute_in_mediation()
    mediator = dispute.mediator
    scheduled = session_services.session_schedule(
        dispute=dispute, actor=mediator, scheduled_at=timezone.now() + timedelta(hours=20)
    )
    proposed = session_services.session_schedule(
        dispute=dispute,
        actor=mediator,
        proposed_times=[timezone.now() + timedelta(days=2), timezone.now() + timedelta(days=3)],
    )
    citizen = factories.demo_user("citizen1@demo.odr")
    ticket, _expires = session_services.ticket_issue(session=scheduled, user=citizen)
    return dispute, [scheduled, proposed], citizen, ticket


def _close(how: str, dispute) -> None:
    from odr import services

    applicant = factories.demo_user("citizen1@demo.odr")
    if how == "withdraw":
        services.dispute_withdraw(dispute=dispute, actor=applicant, reason="已私下和解")
    elif how == "fail":
        services.dispute_fail(dispute=dispute, actor=dispute.mediator, reason="双方分歧过大")
    elif how == "escalate":
        services.dispute_escalate(dispute=dispute, actor=dispute.mediator, reason="案情复杂")
    elif how == "settle":
        services.dispute_settle(dispute=dispute, agreement_id=0)
    else:  # pragma: no cover - the parametrisation names every way
        raise AssertionError(how)


@pytest.mark.parametrize("how", ["withdraw", "fail", "escalate", "settle"])
def test_a_case_that_leaves_mediation_cancels_its_sessions_and_refuses_their_rooms(
    demo, how, django_capture_on_commit_callbacks, mailoutbox
):
    from odr.errors import DomainError
    from odr.models import AuditEvent
    from sessions import services as session_services
    from sessions.models import MediationSession

    dispute, sessions, citizen, ticket = _case_with_sessions(village=how == "escalate")
    with django_capture_on_commit_callbacks(execute=True):
        _close(how, dispute)

    for session in sessions:
        session.refresh_from_db()
        assert session.status == MediationSession.Status.CANCELLED
        assert AuditEvent.objects.filter(
            object_type="mediation.mediationsession",
            object_id=str(session.pk),
            after__status=MediationSession.Status.CANCELLED,
        ).exists()
    # The ticket issued before the close opens nothing, and no new one is issued.
    assert session_services.ticket_redeem(session_id=sessions[0].pk, token=ticket) is None
    with pytest.raises(DomainError):
        session_services.ticket_issue(session=sessions[0], user=citizen)
    # Calendars are told to drop the event.
    assert any(any("METHOD:CANCEL" in str(a[1]) for a in m.attachments) for m in mailoutbox), (
        "no calendar cancellation was sent"
    )


def test_no_session_reminder_goes_out_for_a_closed_case(demo, django_capture_on_commit_callbacks):
    import time_machine

    from odr.models import AuditEvent
    from sessions.reminders import send_due

    dispute, _sessions, _citizen, _ticket = _case_with_sessions()
    with django_capture_on_commit_callbacks(execute=True):
        _close("withdraw", dispute)
    events = AuditEvent.objects.count()
    for ahead in (timedelta(hours=1), timedelta(hours=19, minutes=45)):
        moment = timezone.now() + ahead
        with time_machine.travel(moment, tick=False):
            assert send_due(now=moment) == 0
    assert AuditEvent.objects.count() == events


@pytest.mark.parametrize("status", ["filed", "awaiting_intake"])
def test_a_case_not_in_mediation_cannot_have_a_session(demo, status):
    """Rejected and declined cases never reach mediation, so no room can hang on them."""
    from odr.errors import DomainError
    from sessions import services as session_services

    dispute = factories.file_dispute() if status == "filed" else factories.dispute_awaiting_intake()
    mediator = factories.demo_user("mediator@demo.odr")
    with pytest.raises(DomainError):
        session_services.session_schedule(
            dispute=dispute, actor=mediator, scheduled_at=timezone.now() + timedelta(days=1)
        )


# --- looking changes nothing --------------------------------------------------------------


def _row_counts() -> dict[str, int]:
    return {m._meta.label: m._default_manager.count() for m in apps.get_models()}


def _page_patterns() -> list[tuple[str, str]]:
    """(route, name) of every page of the site (not the API, admin or allauth)."""
    out: list[tuple[str, str]] = []

    def walk(patterns, prefix: str) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                route = str(p.pattern)
                if route.startswith(("admin/", "accounts/", "_allauth/", "api/", "i18n/")):
                    continue
                walk(p.url_patterns, prefix + route)
            elif isinstance(p, URLPattern):
                out.append((prefix + str(p.pattern), p.name or ""))

    walk(get_resolver().url_patterns, "")
    return out


@pytest.fixture
def whole_case(demo, settings, tmp_path):
    """A case with evidence, a session with minutes, an agreement in force with its
    obligations and a confirmation request before the court."""
    from agreements.models import Agreement, AgreementVersion
    from odr import services as odr_services
    from odr.models import Invitation, Visit
    from sessions import services as session_services

    settings.MEDIA_ROOT = tmp_path / "media"
    request = factories.confirmation_pending()
    agreement = request.agreement
    dispute = agreement.dispute
    AgreementVersion.objects.create(
        agreement=agreement,
        number=1,
        facts=agreement.facts,
        terms=agreement.terms,
        author=dispute.mediator,
    )
    session = session_services.session_schedule(
        dispute=dispute, actor=dispute.mediator, scheduled_at=timezone.now() + timedelta(days=1)
    )
    evidence = odr_services.evidence_add(
        dispute=dispute,
        actor=factories.demo_user("citizen1@demo.odr"),
        upload=io.BytesIO(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"),
        name="借条.pdf",
        size=None,
    )
    # No obligations are laid out here: viewing the case must not lay them out either.
    obligation = agreement.obligations.first()
    return {
        "dispute_id": dispute.pk,
        "session_id": session.pk,
        "agreement_id": agreement.pk,
        "request_id": request.pk,
        "evidence_id": evidence.pk,
        "obligation_id": obligation.pk if obligation else 0,
        "token": Invitation.objects.first().token if Invitation.objects.exists() else "x",
        "document_id": Agreement.objects.get(pk=agreement.pk).document_id,
        "action": "open",
        "party_id": dispute.parties.get(role="respondent").pk,
        # No agent is named on this case: the power of attorney's page answers 404.
        "agent_id": 987654,
        # The court's acts on the request (none yet: their pages only take POST).
        "inquiry_id": 1,
        # Issue 10: a visit at the centre's reception; no possible duplicate on this case
        # (its decision page only takes POST).
        "visit_id": Visit.objects.create(
            organisation=dispute.organisation,
            staff=factories.demo_user("reception@demo.odr"),
            name="来访人",
            purpose="咨询",
        ).pk,
        "link_id": 987654,
        "decision": "keep_apart",
    }


VIEWERS = [
    "citizen1@demo.odr",
    "citizen2@demo.odr",
    "mediator@demo.odr",
    "coordinator@demo.odr",
    "clerk@demo.odr",
    "reception@demo.odr",
    "gridworker@demo.odr",
]


def test_no_page_writes_a_row_when_it_is_only_looked_at(whole_case):
    patterns = _page_patterns()
    assert len(patterns) > 20
    visited = 0
    for route, name in patterns:
        params = re.findall(r"<(?:\w+:)?(\w+)>", route)
        unknown = [p for p in params if p not in whole_case]
        assert not unknown, f"page {name} ({route}) has a parameter this test cannot fill"
        url = "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(whole_case[m.group(1)]), route)
        for email in [None, *VIEWERS]:
            client = Client()
            if email:
                client.force_login(factories.demo_user(email))
            before = _row_counts()
            response = client.get(url)
            assert response.status_code < 500, f"GET {url} as {email}: {response.status_code}"
            after = _row_counts()
            changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
            assert not changed, f"GET {url} as {email} wrote rows: {changed}"
            visited += 1
    assert visited >= len(patterns) * 6
