"""The mediation session's state machine (sessions.transitions) and what the case's own
lifecycle does to its sessions: every move offered is accepted and every refused one is not
offered, for every caller in every status; a case that leaves mediation closes its sessions
(status, audit event, tickets, room, reminders, the calendar's CANCEL); reminders and
tickets are audited; the session pages write nothing when opened."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

import pytest
import time_machine
from channels.db import database_sync_to_async
from django.apps import apps
from django.core import mail
from django.db import transaction
from django.test import Client
from django.utils import timezone

from odr import services as odr_services
from odr.errors import DomainError
from odr.lifecycle import transitioned, words_for
from odr.models import AuditEvent, Dispute
from sessions import reminders, services
from sessions.models import MediationSession, RoomParticipant, RoomTicket
from sessions.transitions import MACHINE, session_actions
from tests import factories
from tests.sessions.conftest import admitted_room, receive_until

S = MediationSession.Status
ROLES = {
    "mediator": "mediator@demo.odr",
    "applicant": "citizen1@demo.odr",
    "respondent": "citizen2@demo.odr",
    "coordinator": "coordinator@demo.odr",
    # A mediator of another organisation: cannot even see the case.
    "stranger": "mediator.yucun@demo.odr",
}
# Every move a person may take (the platform's `close` is walked apart), then `join`.
PERSON_MOVES = [name for name, t in MACHINE.table.items() if not t.system]
HIDDEN_MOVES = [name for name in PERSON_MOVES if not MACHINE[name].public]


def _client(email: str) -> Client:
    client = Client()
    client.force_login(factories.demo_user(email))
    return client


class _Undo(Exception):
    """Rolls an accepted attempt back, so that the next starts from the same state."""


def _accepted(attempt: Callable[[], object]) -> bool:
    try:
        with transaction.atomic():
            attempt()
            raise _Undo
    except _Undo:
        return True
    except DomainError:
        return False


def _attempt(name: str, session: MediationSession, user) -> Callable[[], object]:
    """The service a client calls for this move, with input it would accept."""
    later = timezone.now() + timedelta(days=3)
    offered = session.proposed_times or [later.isoformat()]
    return {
        "pick": lambda: services.session_pick(session=session, actor=user, time=offered[0]),
        "reschedule": lambda: services.session_reschedule(
            session=session, actor=user, scheduled_at=later
        ),
        "cancel": lambda: services.session_cancel(session=session, actor=user),
        "start": lambda: services.session_start(session=session, actor=user),
        "end": lambda: services.session_end(session=session, actor=user),
        "minutes": lambda: services.session_minutes_save(
            session=session, actor=user, minutes="双方到场。"
        ),
        "join": lambda: services.ticket_issue(session=session, user=user),
    }[name]


@pytest.mark.django_db
@pytest.mark.parametrize("in_mediation", [True, False], ids=["case_in_mediation", "case_closed"])
@pytest.mark.parametrize("status", list(S))
def test_every_move_offered_to_a_caller_is_accepted_and_every_refused_one_is_not_offered(
    demo, status, in_mediation
):
    session = factories.session_in(status)
    if not in_mediation:
        # A session the close missed: the machine itself must still refuse it.
        Dispute.objects.filter(pk=session.dispute_id).update(status=Dispute.Status.WITHDRAWN)
    seen = {}
    for role, email in ROLES.items():
        user = factories.demo_user(email)
        session = MediationSession.objects.select_related("dispute").get(pk=session.pk)
        offered = set(session_actions(session, user))
        offered |= set(MACHINE.actions(session, user, names=HIDDEN_MOVES))
        accepted = {
            name for name in [*PERSON_MOVES, "join"] if _accepted(_attempt(name, session, user))
        }
        assert offered == accepted, (role, status)
        assert MACHINE.refusal("close", session, user) is not None
        seen[role] = accepted
    if not in_mediation:
        assert not any(seen.values()), seen
    # The walk is not empty: each status gives its mediator something to do, except
    # after the end, when only the minutes remain, and after a cancellation.
    expected = {
        S.PROPOSED: {"reschedule", "cancel"},
        S.SCHEDULED: {"reschedule", "cancel", "start", "minutes", "join"},
        S.LIVE: {"cancel", "end", "minutes", "join"},
        S.ENDED: {"minutes"},
        S.CANCELLED: set(),
    }[status]
    if in_mediation:
        assert seen["mediator"] == expected
        assert seen["applicant"] == seen["respondent"]
        assert seen["coordinator"] == seen["stranger"] == set()


@pytest.mark.django_db
def test_a_session_that_never_started_is_cancelled_not_ended(demo):
    session = factories.session_in(S.SCHEDULED)
    mediator = session.dispute.mediator
    assert "end" not in session_actions(session, mediator)
    assert "cancel" in session_actions(session, mediator)
    response = _client("mediator@demo.odr").post(f"/api/v1/sessions/{session.pk}/end")
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_status"
    session.refresh_from_db()
    assert session.status == S.SCHEDULED
    assert not AuditEvent.objects.filter(action="session.end").exists()


# --- the case leaves mediation ------------------------------------------------------------


CLOSES: dict[str, Callable[[Dispute], object]] = {
    "withdraw": lambda case: odr_services.dispute_withdraw(
        dispute=case, actor=factories.demo_user("citizen1@demo.odr")
    ),
    "fail": lambda case: odr_services.dispute_fail(
        dispute=case, actor=case.mediator, reason="双方分歧过大"
    ),
    "escalate": lambda case: odr_services.dispute_escalate(
        dispute=case, actor=case.mediator, reason="涉及两个村"
    ),
    "settle": lambda case: odr_services.dispute_settle(dispute=case, agreement_id=0),
}


def _calendar_mails_of(session: MediationSession) -> list:
    return [
        m
        for m in mail.outbox
        for _name, content, mimetype in m.attachments
        if mimetype == "text/calendar" and f"UID:{session.ics_uid}@" in content
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("close", list(CLOSES))
def test_a_case_that_leaves_mediation_closes_its_open_sessions(
    demo, close, django_capture_on_commit_callbacks
):
    case = factories.dispute_in_mediation_at_village()
    sessions = {
        status: factories.session_in(status, dispute=case, in_hours=20)
        for status in (S.PROPOSED, S.SCHEDULED, S.LIVE, S.ENDED)
    }
    scheduled = sessions[S.SCHEDULED]
    applicant = factories.demo_user("citizen1@demo.odr")
    token, _expires = services.ticket_issue(session=scheduled, user=applicant)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        CLOSES[close](case)

    case.refresh_from_db()
    assert case.status != Dispute.Status.IN_MEDIATION
    for session in sessions.values():
        session.refresh_from_db()
    open_ones = [sessions[S.PROPOSED], scheduled, sessions[S.LIVE]]
    assert [s.status for s in open_ones] == [S.CANCELLED] * 3
    assert sessions[S.ENDED].status == S.ENDED
    # One audit event per closed session, taken by the platform.
    events = {int(e.object_id): e for e in AuditEvent.objects.filter(action="session.close")}
    assert set(events) == {s.pk for s in open_ones}
    for event in events.values():
        assert event.actor_id is None and event.dispute_id == case.pk
        assert event.after["status"] == S.CANCELLED and event.after["case_status"] == case.status
    assert events[scheduled.pk].after["tickets_voided"] == 1
    # The ticket issued before opens nothing; no ticket is issued and the room stays shut.
    assert RoomTicket.objects.get(session=scheduled).expires_at <= timezone.now()
    assert services.ticket_redeem(session_id=scheduled.pk, token=token) is None
    response = _client("citizen1@demo.odr").post(f"/api/v1/sessions/{scheduled.pk}/ticket")
    assert response.status_code == 409
    with pytest.raises(DomainError) as refused:
        services.room_join(session_id=scheduled.pk, user=applicant, channel_name="test.closed")
    assert refused.value.status == 409
    # Everyone who has the session in a calendar gets its CANCEL (an escalated case has
    # no mediator any more: the one who scheduled it is told all the same).
    cancels = _calendar_mails_of(scheduled)
    assert sorted(m.to[0] for m in cancels) == [
        "citizen1@demo.odr",
        "citizen2@demo.odr",
        "mediator.yucun@demo.odr",
    ]
    for message in cancels:
        ics = next(c for _n, c, t in message.attachments if t == "text/calendar")
        assert "METHOD:CANCEL" in ics and "STATUS:CANCELLED" in ics
    # No reminder afterwards, the day before nor shortly before.
    mail.outbox.clear()
    for at in (timezone.now(), scheduled.scheduled_at - timedelta(minutes=20)):
        with time_machine.travel(at, tick=False), django_capture_on_commit_callbacks(execute=True):
            assert reminders.send_due(now=timezone.now()) == 0
    assert not mail.outbox
    assert not AuditEvent.objects.filter(action="session.remind").exists()


@pytest.mark.django_db(transaction=True)
async def test_people_in_the_room_hear_ended_when_the_case_is_withdrawn(room):
    (med, _m), (app, _a), (res, _r) = await admitted_room(room)
    await database_sync_to_async(odr_services.dispute_withdraw)(
        dispute=room.session.dispute, actor=room.applicant
    )
    for communicator in (med, app, res):
        assert await receive_until(communicator, "ended") == {"type": "ended"}
        assert (await communicator.receive_output(timeout=5))["type"] == "websocket.close"
    session = await database_sync_to_async(MediationSession.objects.get)(pk=room.session.pk)
    assert session.status == S.CANCELLED
    connected = await database_sync_to_async(
        RoomParticipant.objects.filter(session=session, connected=True).count
    )()
    assert connected == 0


@pytest.mark.django_db
def test_a_session_the_close_missed_still_opens_nothing(demo):
    session = factories.session_in(S.SCHEDULED, in_hours=20)
    applicant = factories.demo_user("citizen1@demo.odr")
    token, _expires = services.ticket_issue(session=session, user=applicant)
    # As if the case had left mediation without its close having run yet.
    Dispute.objects.filter(pk=session.dispute_id).update(status=Dispute.Status.FAILED)
    assert services.ticket_redeem(session_id=session.pk, token=token) is None
    for refused_call in (
        lambda: services.ticket_issue(session=session, user=applicant),
        lambda: services.room_join(session_id=session.pk, user=applicant, channel_name="t.x"),
    ):
        with pytest.raises(DomainError) as refused:
            refused_call()
        assert (refused.value.status, refused.value.code) == (409, "case_not_in_mediation")
    response = _client("mediator@demo.odr").put(
        f"/api/v1/sessions/{session.pk}/minutes",
        data=json.dumps({"minutes": "案件已撤回后的笔录"}),
        content_type="application/json",
    )
    assert response.status_code == 409 and response.json()["code"] == "case_not_in_mediation"
    assert reminders.send_due(now=timezone.now()) == 0


@pytest.mark.django_db
def test_a_case_that_stays_in_mediation_keeps_its_sessions(demo):
    session = factories.session_in(S.SCHEDULED)
    transitioned.send(
        sender=Dispute,
        machine=None,
        instance=session.dispute,
        transition=None,
        source=Dispute.Status.IN_MEDIATION,
        target=Dispute.Status.IN_MEDIATION,
        actor=None,
    )
    session.refresh_from_db()
    assert session.status == S.SCHEDULED
    assert not AuditEvent.objects.filter(action="session.close").exists()


# --- audited writes -------------------------------------------------------------------------


@pytest.mark.django_db
def test_each_reminder_is_recorded_in_its_column_and_in_the_audit_trail(
    demo, django_capture_on_commit_callbacks
):
    start = timezone.now().replace(microsecond=0)
    with time_machine.travel(start, tick=False):
        session = factories.session_in(S.SCHEDULED, in_hours=72)
    when = session.scheduled_at

    def run(at) -> int:
        with time_machine.travel(at, tick=False), django_capture_on_commit_callbacks(execute=True):
            return reminders.send_due(now=timezone.now())

    assert run(when - timedelta(hours=23)) == 1
    session.refresh_from_db()
    assert session.reminded_day_before_at == when - timedelta(hours=23)
    assert session.reminded_soon_at is None
    (event,) = AuditEvent.objects.filter(action="session.remind")
    assert event.dispute_id == session.dispute_id and event.actor_id is None
    assert event.object_id == str(session.pk)
    assert event.after["reminder"] == "day_before"
    assert len(event.after["to"]) == 3
    assert run(when - timedelta(minutes=25)) == 1
    session.refresh_from_db()
    assert session.reminded_soon_at == when - timedelta(minutes=25)
    kinds = AuditEvent.objects.filter(action="session.remind").order_by("seq")
    assert [e.after["reminder"] for e in kinds] == ["day_before", "soon"]
    assert words_for("session.remind").document


@pytest.mark.django_db
def test_issuing_and_using_a_ticket_are_audited_without_the_ticket_itself(demo):
    session = factories.session_in(S.SCHEDULED)
    applicant = factories.demo_user("citizen1@demo.odr")
    token, expires_at = services.ticket_issue(session=session, user=applicant)
    issued = AuditEvent.objects.get(action="session.ticket")
    assert issued.actor_id == applicant.pk and issued.dispute_id == session.dispute_id
    assert issued.after["session"] == session.pk
    assert issued.after["expires_at"] == expires_at.isoformat()
    assert token not in json.dumps([issued.before, issued.after])
    assert services.ticket_redeem(session_id=session.pk, token=token) == applicant
    used = AuditEvent.objects.get(action="session.ticket_use")
    assert used.actor_id == applicant.pk and used.object_id == issued.object_id
    # Moment-to-moment events: in the audit trail, not on the case timeline.
    assert words_for("session.ticket").timeline is None
    assert words_for("session.ticket_use").timeline is None


# --- no writes on GET -----------------------------------------------------------------------


def _rows() -> dict[str, int]:
    return {model._meta.label: model.objects.count() for model in apps.get_models()}


@pytest.mark.django_db
def test_opening_the_session_pages_writes_nothing(demo):
    live = factories.session_in(S.LIVE)
    proposed = factories.session_in(S.PROPOSED, dispute=live.dispute)
    clients = {email: _client(email) for email in ROLES.values()}
    before = _rows()
    for email, client in clients.items():
        for session in (live, proposed):
            for path in (
                f"/disputes/{session.dispute_id}/",
                f"/sessions/{session.pk}/",
                f"/sessions/{session.pk}/minutes/",
                f"/sessions/{session.pk}/calendar.ics",
                f"/sessions/{session.pk}/room/",
                f"/api/v1/sessions/{session.pk}",
                f"/api/v1/sessions/{session.pk}/recording",
                f"/api/v1/disputes/{session.dispute_id}",
            ):
                response = client.get(path)
                assert response.status_code in (200, 403, 404), (email, path)
    assert _rows() == before


def test_a_close_that_was_missed_is_made_by_the_reminders_run(demo):
    """The receiver hands the close to the task queue; if that never ran (a worker was
    down), the reminders' run closes the orphaned session and audits it, once."""
    from datetime import timedelta

    from django.utils import timezone

    from odr import services as odr_services
    from odr.models import AuditEvent
    from sessions import services as session_services
    from sessions.models import MediationSession

    dispute = factories.dispute_in_mediation()
    session = session_services.session_schedule(
        dispute=dispute, actor=dispute.mediator, scheduled_at=timezone.now() + timedelta(days=1)
    )
    # No on_commit callbacks run here: the `transitioned` signal, and so the task, never fire.
    odr_services.dispute_withdraw(dispute=dispute, actor=factories.demo_user("citizen1@demo.odr"))
    session.refresh_from_db()
    assert session.status == MediationSession.Status.SCHEDULED

    assert session_services.sessions_close_orphaned(now=timezone.now()) == 1
    session.refresh_from_db()
    assert session.status == MediationSession.Status.CANCELLED
    assert AuditEvent.objects.filter(action="session.close", object_id=str(session.pk)).count() == 1
    assert session_services.sessions_close_orphaned(now=timezone.now()) == 0


def test_a_close_queued_when_the_case_left_mediation_spares_a_session_scheduled_since(demo):
    """The close is queued when the case leaves mediation (respondent accepted: awaiting
    intake); a busy worker runs it after the case was accepted again and a session
    scheduled. That session stays open (found by the topology test: the task worker runs
    seconds late in production)."""
    from sessions.tasks import close_sessions_of_case

    dispute = factories.dispute_in_mediation()
    session = services.session_schedule(
        dispute=dispute, actor=dispute.mediator, scheduled_at=timezone.now() + timedelta(hours=1)
    )
    close_sessions_of_case.call(dispute_id=dispute.pk)
    session.refresh_from_db()
    assert session.status == S.SCHEDULED
    assert not AuditEvent.objects.filter(action="session.close", object_id=str(session.pk)).exists()
    # Once the case has really left mediation, the same task closes it.
    Dispute.objects.filter(pk=dispute.pk).update(status=Dispute.Status.WITHDRAWN)
    assert close_sessions_of_case.call(dispute_id=dispute.pk) == 1
    session.refresh_from_db()
    assert session.status == S.CANCELLED
