"""What the room's chat leaves on the case (issue 11, M1 and L7): a line said in a private
caucus is read only by those who were in it, everywhere the chat is read; staff who were
not there see that a caucus happened, not what was said. Chat lines and minutes are
stored without invisible or direction-changing characters."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.test import Client

from odr.errors import DomainError
from odr.models import AuditEvent, Membership
from sessions import selectors, services
from sessions.models import ChatMessage, MediationSession
from tests import factories

pytestmark = pytest.mark.django_db

OPEN_LINE = "大家好，我们开始调解"
CAUCUS_LINE = "我最多只能接受三万元"
APART_LINE = "我们两个先商量一下"
WITHHELD = "背对背交流（内容仅参与者可见）"


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def chatted(demo):
    """A live room: a line said openly, then a caucus of the mediator and the applicant
    in which the applicant speaks, while the respondent, apart, writes a line of their
    own."""
    session = factories.session_in(MediationSession.Status.SCHEDULED)
    peers = factories.room_in_session(session)
    services.room_chat(session_id=session.pk, peer_id=peers["mediator"], text=OPEN_LINE)
    services.room_caucus(
        session_id=session.pk, actor_peer=peers["mediator"], peer_ids=[peers["applicant"]]
    )
    services.room_chat(session_id=session.pk, peer_id=peers["applicant"], text=CAUCUS_LINE)
    services.room_chat(session_id=session.pk, peer_id=peers["respondent"], text=APART_LINE)
    return session, peers


def _record(session: MediationSession, user) -> str:
    response = _client(user).get(f"/sessions/{session.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def test_a_chat_line_records_whether_a_caucus_was_on_when_it_was_said(chatted):
    _session, peers = chatted
    kept = {m.text: (m.in_caucus, m.audience) for m in ChatMessage.objects.all()}
    everyone = sorted(peers.values())
    assert kept == {
        OPEN_LINE: (False, everyone),
        CAUCUS_LINE: (True, sorted([peers["mediator"], peers["applicant"]])),
        APART_LINE: (True, [peers["respondent"]]),
    }


def test_staff_who_were_not_in_a_caucus_see_that_it_happened_not_what_was_said(chatted):
    session, _peers = chatted
    organisation = session.dispute.organisation
    colleague = factories.make_user(org=organisation, role=Membership.Role.MEDIATOR)
    for user in (factories.demo_user("coordinator@demo.odr"), colleague):
        page = _record(session, user)
        assert OPEN_LINE in page, user
        assert CAUCUS_LINE not in page and APART_LINE not in page, user
        # One entry for the caucus, with its time: that it happened, not what was said.
        assert page.count(WITHHELD) == 1, user


def test_those_in_a_caucus_read_it_and_nobody_else_does(chatted):
    session, _peers = chatted
    mediator = session.dispute.mediator
    applicant = factories.demo_user("citizen1@demo.odr")
    respondent = factories.demo_user("citizen2@demo.odr")

    mediator_page = _record(session, mediator)
    assert OPEN_LINE in mediator_page and CAUCUS_LINE in mediator_page
    # What the respondent wrote apart was not said to the mediator either.
    assert APART_LINE not in mediator_page and WITHHELD in mediator_page

    applicant_page = _record(session, applicant)
    assert OPEN_LINE in applicant_page and CAUCUS_LINE in applicant_page
    assert APART_LINE not in applicant_page

    respondent_page = _record(session, respondent)
    assert OPEN_LINE in respondent_page and APART_LINE in respondent_page
    assert CAUCUS_LINE not in respondent_page


def test_the_chat_selector_withholds_caucus_lines_from_staff_who_were_not_there(chatted):
    session, _peers = chatted
    lines = selectors.chat_visible_to(session, factories.demo_user("coordinator@demo.odr"))
    assert [(line.text, line.withheld) for line in lines] == [(OPEN_LINE, False), ("", True)]
    assert lines[1].at == ChatMessage.objects.get(text=CAUCUS_LINE).at
    assert lines[1].name == ""


def test_the_admin_shows_that_a_caucus_happened_not_what_was_said(chatted):
    session, _peers = chatted
    page = _record_admin(session)
    assert OPEN_LINE in page
    assert CAUCUS_LINE not in page and APART_LINE not in page
    assert WITHHELD in page


def _record_admin(session: MediationSession) -> str:
    client = _client(factories.demo_user("admin@demo.odr"))
    response = client.get(f"/admin/mediation/mediationsession/{session.pk}/change/")
    assert response.status_code == 200
    return response.content.decode()


def test_old_chat_lines_are_kept_private_unless_the_whole_room_heard_them(demo):
    """The migration that added `in_caucus` judges the lines written before it: a line
    heard by fewer than all the room's participants is kept as a caucus line."""
    session = factories.session_in(MediationSession.Status.SCHEDULED)
    peers = factories.room_in_session(session)
    sender = session.dispute.mediator
    everyone = ChatMessage.objects.create(
        session=session, sender=sender, text="a", audience=sorted(peers.values())
    )
    fewer = ChatMessage.objects.create(
        session=session,
        sender=sender,
        text="b",
        audience=[peers["mediator"], peers["applicant"]],
    )
    ChatMessage.objects.update(in_caucus=True)  # as the new column starts
    migration = importlib.import_module("sessions.migrations.0004_chatmessage_in_caucus")
    migration.mark_open_lines(apps, None)
    everyone.refresh_from_db()
    fewer.refresh_from_db()
    assert everyone.in_caucus is False
    assert fewer.in_caucus is True


def test_a_line_written_without_saying_where_is_private_to_its_audience(demo):
    """The field fails closed: whatever writes a line without the room's word on it (an
    import, a script) leaves it to its audience."""
    session = factories.session_in(MediationSession.Status.SCHEDULED)
    line = ChatMessage.objects.create(
        session=session, sender=session.dispute.mediator, text="x", audience=[]
    )
    assert line.in_caucus is True


# --- L7: the text itself -----------------------------------------------------------------


def test_chat_lines_are_stored_without_invisible_or_direction_override_characters(chatted):
    session, peers = chatted
    services.room_caucus_end(session_id=session.pk, actor_peer=peers["mediator"])
    line = services.room_chat(
        session_id=session.pk,
        peer_id=peers["applicant"],
        text="\u200b李四\u202e欠我\u2066五千\u2069元\r\n谢谢\ufeff",
    )
    assert line.text == "李四欠我五千元 谢谢"
    for invisible in ("\u200b\u200b", "\u202e", " \u2060 "):
        with pytest.raises(DomainError) as refused:
            services.room_chat(session_id=session.pk, peer_id=peers["applicant"], text=invisible)
        assert refused.value.code == "empty_message"


def test_minutes_are_stored_without_invisible_characters_and_keep_their_lines(demo):
    session = factories.session_in(MediationSession.Status.SCHEDULED)
    session = services.session_minutes_save(
        session=session,
        actor=session.dispute.mediator,
        minutes="申请人\u202e陈述\u200b借款经过。\r\n被申请人\u2067认可。\r\n",
    )
    assert session.minutes == "申请人陈述借款经过。\n被申请人认可。"


def test_a_cancellation_reason_is_cleaned_before_it_is_mailed(demo):
    session = factories.session_in(MediationSession.Status.SCHEDULED, in_hours=30)
    services.session_cancel(
        session=session, actor=session.dispute.mediator, reason="\u202e改期\u200b另行通知"
    )
    event = AuditEvent.objects.filter(action="session.cancel").latest("pk")
    assert event.after["reason"] == "改期另行通知"
