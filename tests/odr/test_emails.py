"""Who gets which e-mail on each move, with the right links, in their language (issue 2
§5, §9). Tasks run immediately in tests; mail is sent once the transaction commits."""

from __future__ import annotations

import pytest
from django.core import mail

from odr import services
from odr.models import Profile
from tests import factories

pytestmark = pytest.mark.django_db

SITE = "https://odr.example.cn"


@pytest.fixture(autouse=True)
def site(settings):
    settings.SITE_URL = SITE


@pytest.fixture
def sent(django_capture_on_commit_callbacks):
    """Runs a move and returns {recipient: e-mail} of what it sent."""

    def run(call):
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            result = call()
        by_recipient = {}
        for message in mail.outbox:
            assert len(message.to) == 1
            by_recipient[message.to[0]] = message
        return result, by_recipient

    return run


def user(email: str):
    return factories.demo_user(email)


def test_filing_mails_the_respondent_a_single_use_invitation_link(demo, sent):
    dispute, out = sent(factories.file_dispute)
    assert set(out) == {"citizen2@demo.odr"}
    token = dispute.parties.get(role="respondent").invitation.token
    message = out["citizen2@demo.odr"]
    assert f"{SITE}/invitations/{token}/" in message.body
    assert dispute.case_number in message.body
    assert "借款未还" in message.subject


def test_nothing_is_mailed_when_the_filing_is_refused(demo, sent):
    def refused():
        with pytest.raises(Exception):  # noqa: B017 - any refusal will do here
            factories.file_dispute(category="nonsense")

    sent(refused)
    assert mail.outbox == []


def test_respondent_accepting_tells_the_applicant_and_the_coordinator(demo, sent):
    dispute = factories.file_dispute()
    token = dispute.parties.get(role="respondent").invitation.token
    _d, out = sent(
        lambda: services.invitation_accept(
            token=token, user=user("citizen2@demo.odr"), consent_online=True
        )
    )
    assert set(out) == {"citizen1@demo.odr", "coordinator@demo.odr"}
    assert f"{SITE}/disputes/{dispute.pk}/" in out["coordinator@demo.odr"].body


def test_respondent_declining_tells_the_applicant_with_the_reason(demo, sent):
    dispute = factories.file_dispute()
    token = dispute.parties.get(role="respondent").invitation.token
    _d, out = sent(
        lambda: services.invitation_decline(
            token=token, user=user("citizen2@demo.odr"), reason="钱已经还了"
        )
    )
    assert set(out) == {"citizen1@demo.odr"}
    assert "钱已经还了" in out["citizen1@demo.odr"].body


def test_acceptance_tells_the_mediator_and_both_parties_with_the_deadline(demo, sent):
    dispute = factories.dispute_awaiting_intake()
    mediator = user("mediator@demo.odr")
    accepted, out = sent(
        lambda: services.dispute_accept(
            dispute=dispute, actor=user("coordinator@demo.odr"), mediator=mediator.pk
        )
    )
    assert set(out) == {"mediator@demo.odr", "citizen1@demo.odr", "citizen2@demo.odr"}
    deadline = accepted.mediation_deadline.astimezone().date()
    body = out["citizen1@demo.odr"].body
    assert "李调解" in body
    assert f"{SITE}/disputes/{dispute.pk}/" in body
    assert str(deadline.year) in body


def test_rejection_tells_both_parties(demo, sent):
    dispute = factories.dispute_awaiting_intake()
    _d, out = sent(
        lambda: services.dispute_reject(
            dispute=dispute, actor=user("coordinator@demo.odr"), reason="不属于调解范围"
        )
    )
    assert set(out) == {"citizen1@demo.odr", "citizen2@demo.odr"}
    assert "不属于调解范围" in out["citizen2@demo.odr"].body


def test_assignment_tells_the_new_mediator(demo, sent):
    dispute = factories.dispute_in_mediation()
    from odr.models import Organisation

    other = factories.make_user(
        "mediator2@demo.odr",
        name="孙调解",
        org=Organisation.objects.get(kind="county_centre"),
        role="mediator",
    )
    _d, out = sent(
        lambda: services.dispute_assign(
            dispute=dispute, actor=user("coordinator@demo.odr"), mediator=other.pk
        )
    )
    assert set(out) == {"mediator2@demo.odr"}


def test_escalation_tells_the_coordinator_above_and_the_parties(demo, sent):
    dispute = factories.dispute_awaiting_intake(region_code="330523101201")
    _d, out = sent(
        lambda: services.dispute_escalate(
            dispute=dispute, actor=user("coordinator.yucun@demo.odr"), reason="案情复杂"
        )
    )
    assert set(out) == {
        "coordinator.tianhuangping@demo.odr",
        "citizen1@demo.odr",
        "citizen2@demo.odr",
    }
    assert "案情复杂" in out["coordinator.tianhuangping@demo.odr"].body


def test_withdrawal_tells_everyone_involved_but_the_applicant(demo, sent):
    dispute = factories.dispute_in_mediation()
    _d, out = sent(
        lambda: services.dispute_withdraw(dispute=dispute, actor=user("citizen1@demo.odr"))
    )
    assert set(out) == {"citizen2@demo.odr", "coordinator@demo.odr", "mediator@demo.odr"}


def test_failure_tells_both_parties(demo, sent):
    dispute = factories.dispute_in_mediation()
    _d, out = sent(
        lambda: services.dispute_fail(
            dispute=dispute, actor=user("mediator@demo.odr"), reason="分歧太大"
        )
    )
    assert set(out) == {"citizen1@demo.odr", "citizen2@demo.odr"}
    assert "分歧太大" in out["citizen1@demo.odr"].body


def test_settlement_tells_both_parties(demo, sent):
    dispute = factories.dispute_in_mediation()
    _d, out = sent(lambda: services.dispute_settle(dispute=dispute, agreement_id=1))
    assert set(out) == {"citizen1@demo.odr", "citizen2@demo.odr"}


def test_a_message_tells_the_others_on_the_case_but_not_the_sender(demo, sent):
    dispute = factories.dispute_in_mediation()
    _m, out = sent(
        lambda: services.message_post(
            dispute=dispute, actor=user("citizen2@demo.odr"), text="我同意分期还款"
        )
    )
    assert set(out) == {"citizen1@demo.odr", "mediator@demo.odr"}


def test_each_recipient_gets_mail_in_their_own_language(demo, sent):
    Profile.objects.filter(user__email="citizen2@demo.odr").update(language="en")
    dispute = factories.dispute_awaiting_intake()
    _d, out = sent(
        lambda: services.dispute_reject(
            dispute=dispute, actor=user("coordinator@demo.odr"), reason="理由"
        )
    )
    english, chinese = out["citizen2@demo.odr"], out["citizen1@demo.odr"]
    # The case number is Chinese in both; the words around it follow the recipient.
    number = dispute.case_number
    assert english.subject.replace(number, "").isascii()
    assert not chinese.subject.replace(number, "").isascii()


def test_a_refused_move_mails_nobody(demo, sent):
    dispute = factories.dispute_in_mediation()

    def refused():
        with pytest.raises(Exception):  # noqa: B017 - the refusal itself is tested elsewhere
            services.dispute_fail(dispute=dispute, actor=user("citizen1@demo.odr"), reason="x")

    sent(refused)
    assert mail.outbox == []
