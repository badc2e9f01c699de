"""The agreement's and the confirmation request's machines offer each caller exactly what
their services accept: for every caller (each party, the mediator, the coordinator, the
clerk and the judge of the competent court, a clerk and a judge of another court, a
stranger) in every status, an
action in `actions` is carried out when tried, and an action not in `actions` is refused.
Each try runs the real service in a savepoint that is rolled back; it counts as carried
out when it wrote the transition's audit event."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone

from agreements import services
from agreements import transitions as agreement_transitions
from agreements.court import services as court_services
from agreements.court import transitions as court_transitions
from agreements.models import Agreement, ConfirmationRequest
from odr import services as odr_services
from odr.errors import DomainError
from odr.models import AuditEvent, Membership, Organisation, Region
from tests import factories
from tests.signing import sign_agreement, sign_application

pytestmark = pytest.mark.django_db
EFFECTIVE = datetime(2026, 8, 3, 10, 0, tzinfo=timezone.get_fixed_timezone(8 * 60))
CALLERS = (
    "applicant",
    "respondent",
    "mediator",
    "coordinator",
    "clerk",
    "judge",
    "other_clerk",
    "other_judge",
    "president",
    "stranger",
)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def callers(demo) -> dict:
    # A court elsewhere (a township here): never the competent one for these cases.
    other_court = Organisation.objects.create(
        name="另一人民法院",
        kind=Organisation.Kind.COURT,
        region=Region.objects.filter(level=Region.Level.TOWNSHIP).first(),
        case_code="浙0599",
    )
    return {
        "applicant": factories.demo_user("citizen1@demo.odr"),
        "respondent": factories.demo_user("citizen2@demo.odr"),
        "mediator": factories.demo_user("mediator@demo.odr"),
        "coordinator": factories.demo_user("coordinator@demo.odr"),
        "clerk": factories.demo_user("clerk@demo.odr"),
        "judge": factories.demo_user("judge@demo.odr"),
        "other_clerk": factories.make_user(org=other_court, role=Membership.Role.CLERK),
        "other_judge": factories.make_user(org=other_court, role=Membership.Role.JUDGE),
        "president": factories.make_user(
            org=factories.demo_user("clerk@demo.odr").memberships.get().organisation,
            role=Membership.Role.PRESIDENT,
        ),
        "stranger": factories.make_user(),
    }


class _Undo(Exception):
    """Rolls the savepoint back, carrying whether the try was carried out."""

    def __init__(self, done: bool) -> None:
        self.done = done


def _carried_out(audit_action: str, attempt: Callable[[], object]) -> bool:
    """Runs `attempt` and rolls it back; True when it wrote `audit_action`'s event."""
    before = AuditEvent.objects.filter(action=audit_action).count()
    try:
        with transaction.atomic():
            attempt()
            raise _Undo(AuditEvent.objects.filter(action=audit_action).count() > before)
    except _Undo as undo:
        return undo.done
    except DomainError:
        return False


def _mismatches(machine, instance_of, attempts, callers, states) -> tuple[dict, list]:
    """The actions offered to each caller in each state, and every disagreement between
    what was offered and what the service did."""
    offered, wrong = {}, []
    for state in states:
        for who in CALLERS:
            user = callers[who]
            actions = machine.actions(instance_of(state), user)
            offered[(state, who)] = actions
            for name in machine.public_names:
                done = _carried_out(
                    machine[name].action,
                    lambda n=name, s=state, u=user: attempts[n](instance_of(s), u),
                )
                if done != (name in actions):
                    wrong.append((state, who, name, "offered" if name in actions else "hidden"))
    return offered, wrong


# --- the agreement -----------------------------------------------------------------------


def _sign(agreement: Agreement, user) -> Agreement:
    return sign_agreement(
        agreement=agreement,
        actor=user,
        password=factories.PASSWORD,
        consent=True,
        signature_png=factories.signature_png_b64(),
    )


AGREEMENT_ATTEMPTS = {
    "edit": lambda agreement, user: services.agreement_save_draft(
        dispute=agreement.dispute, actor=user, data={"facts": agreement.facts + "另查明。"}
    ),
    "open": lambda agreement, user: services.agreement_open(agreement=agreement, actor=user),
    "revise": lambda agreement, user: services.agreement_revise(
        agreement=agreement, actor=user, reason="改正金额"
    ),
    "sign": _sign,
}

AGREEMENT_OFFERS = {
    "draft": {"mediator": ["edit", "open"]},
    "signing": {"applicant": ["sign"], "respondent": ["sign"], "mediator": ["revise"]},
    "signing_applicant_signed": {"respondent": ["sign"], "mediator": ["revise"]},
    "signing_parties_signed": {"mediator": ["revise", "sign"]},
    "signed": {},
    "draft_case_withdrawn": {},
}


def _agreements(callers) -> dict[str, int]:
    """One agreement in each status (each on its own case), by name."""
    draft = factories.agreement_draft()
    signing = factories.agreement_signing()
    applicant_signed = factories.agreement_signing()
    _sign(applicant_signed, callers["applicant"])
    parties_signed = factories.agreement_signing()
    _sign(parties_signed, callers["applicant"])
    _sign(parties_signed, callers["respondent"])
    signed = factories.agreement_in_force()
    withdrawn = factories.agreement_draft()
    odr_services.dispute_withdraw(
        dispute=withdrawn.dispute, actor=callers["applicant"], reason="已自行和解"
    )
    return {
        "draft": draft.pk,
        "signing": signing.pk,
        "signing_applicant_signed": applicant_signed.pk,
        "signing_parties_signed": parties_signed.pk,
        "signed": signed.pk,
        "draft_case_withdrawn": withdrawn.pk,
    }


def test_every_agreement_action_offered_is_carried_out_and_every_other_is_refused(callers):
    ids = _agreements(callers)
    assert Agreement.objects.get(pk=ids["draft_case_withdrawn"]).dispute.status == "withdrawn"
    offered, wrong = _mismatches(
        agreement_transitions.MACHINE,
        lambda state: Agreement.objects.get(pk=ids[state]),
        AGREEMENT_ATTEMPTS,
        callers,
        ids,
    )
    assert wrong == []
    expected = {
        (state, who): AGREEMENT_OFFERS[state].get(who, []) for state in ids for who in CALLERS
    }
    assert offered == expected


def test_the_platform_alone_puts_an_agreement_in_force_and_only_once_all_have_signed(callers):
    machine = agreement_transitions.MACHINE
    agreement = factories.agreement_signing()
    assert "in_force" not in machine.public_names
    refused = machine.refusal("in_force", agreement, callers["mediator"])
    assert refused is not None and refused.status == 403
    _sign(agreement, callers["applicant"])
    _sign(agreement, callers["respondent"])
    refused = machine.refusal("in_force", agreement, None)
    assert refused is not None and refused.code == "signatures_missing"
    agreement = _sign(Agreement.objects.get(pk=agreement.pk), callers["mediator"])
    assert agreement.status == Agreement.Status.SIGNED
    event = AuditEvent.objects.get(action="agreement.in_force")
    assert event.actor_id is None and event.before["status"] == "signing"
    assert event.after["status"] == "signed" and event.after["pdf_sha256"] == agreement.pdf_sha256


# --- the confirmation request ------------------------------------------------------------


def _last_inquiry(request) -> int:
    last = request.inquiries.order_by("-pk").first()
    return last.pk if last is not None else 0


CONFIRMATION_ATTEMPTS = {
    "consent": lambda request, user: sign_application(agreement=request.agreement, actor=user),
    "accept": lambda request, user: court_services.confirmation_accept(
        request=request, actor=user, court_case_number="（2026）浙0523民特999号"
    ),
    "extension_request": lambda request, user: court_services.confirmation_extend(
        request=request, actor=user, reason="案情复杂，需要询问当事人"
    ),
    "extension_approve": lambda request, user: court_services.confirmation_extension_decide(
        request=request, actor=user, approve=True
    ),
    "extension_refuse": lambda request, user: court_services.confirmation_extension_decide(
        request=request, actor=user, approve=False
    ),
    "supplement_ask": lambda request, user: court_services.confirmation_supplement_ask(
        request=request,
        actor=user,
        what="补充借条原件",
        deadline=timezone.localdate() + timedelta(days=5),
    ),
    "supplement_answer": lambda request, user: court_services.confirmation_supplement_answer(
        request=request, actor=user, answer="借条原件照片已上传"
    ),
    "supplement_lapse": lambda request, user: court_services.confirmation_supplement_lapse(
        request=request, actor=user
    ),
    "withdraw": lambda request, user: court_services.confirmation_withdraw(
        request=request, actor=user, reason="已自行履行"
    ),
    "withdraw_allow": lambda request, user: court_services.confirmation_withdraw_allow(
        request=request, actor=user
    ),
    "inquiry_schedule": lambda request, user: court_services.confirmation_inquiry_schedule(
        request=request, actor=user, scheduled_at=timezone.now() + timedelta(days=2), place="本院"
    ),
    "inquiry_record": lambda request, user: court_services.confirmation_inquiry_record(
        request=request,
        actor=user,
        inquiry=_last_inquiry(request),
        record="问：是否自愿？\n答：是。",
        present=[p.pk for p in request.agreement.dispute.parties.all()],
    ),
    "inquiry_sign": lambda request, user: court_services.confirmation_inquiry_sign(
        request=request, actor=user, inquiry=_last_inquiry(request), password=factories.PASSWORD
    ),
    "decide": lambda request, user: court_services.confirmation_decide(
        request=request, actor=user, decision="confirmed", reason=""
    ),
    "not_accept": lambda request, user: court_services.confirmation_decide(
        request=request, actor=user, decision="not_accepted", reason="不属于本院管辖"
    ),
}

PARTIES_WITHDRAW = {"applicant": ["withdraw"], "respondent": ["withdraw"]}
CONFIRMATION_OFFERS = {
    "awaiting_consent": {"respondent": ["consent"]},
    "awaiting_consent_window_closed": {},
    # The clerk dockets and keeps the record; the judge rules, or refuses before
    # docketing; either asks for materials; any party may ask to withdraw before the
    # ruling; only the president approves an extension (issue 8).
    "pending": {
        "clerk": ["accept", "supplement_ask"],
        "judge": ["supplement_ask", "not_accept"],
        **PARTIES_WITHDRAW,
    },
    "accepted": {
        "clerk": ["supplement_ask"],
        "judge": ["extension_request", "supplement_ask", "inquiry_schedule", "decide"],
        **PARTIES_WITHDRAW,
    },
    "extension_asked": {
        "clerk": ["supplement_ask"],
        "judge": ["supplement_ask", "inquiry_schedule", "decide"],
        "president": ["extension_approve", "extension_refuse"],
        **PARTIES_WITHDRAW,
    },
    "extended": {
        "clerk": ["supplement_ask"],
        "judge": ["supplement_ask", "inquiry_schedule", "decide"],
        **PARTIES_WITHDRAW,
    },
    "supplement_open": {
        "judge": ["extension_request", "inquiry_schedule", "decide"],
        "applicant": ["supplement_answer", "withdraw"],
        "respondent": ["supplement_answer", "withdraw"],
    },
    "supplement_lapsed": {
        "judge": ["extension_request", "supplement_lapse", "inquiry_schedule", "decide"],
        "applicant": ["supplement_answer", "withdraw"],
        "respondent": ["supplement_answer", "withdraw"],
    },
    "withdrawal_asked": {
        "clerk": ["supplement_ask"],
        "judge": [
            "extension_request",
            "supplement_ask",
            "withdraw_allow",
            "inquiry_schedule",
            "decide",
        ],
    },
    # No record before the inquiry's time.
    "inquiry_not_begun": {
        "clerk": ["supplement_ask"],
        "judge": ["extension_request", "supplement_ask", "inquiry_schedule", "decide"],
        **PARTIES_WITHDRAW,
    },
    "inquiry_scheduled": {
        "clerk": ["supplement_ask", "inquiry_record"],
        "judge": [
            "extension_request",
            "supplement_ask",
            "inquiry_schedule",
            "inquiry_record",
            "decide",
        ],
        **PARTIES_WITHDRAW,
    },
    "inquiry_recorded": {
        "clerk": ["supplement_ask", "inquiry_record", "inquiry_sign"],
        "judge": [
            "extension_request",
            "supplement_ask",
            "inquiry_schedule",
            "inquiry_record",
            "inquiry_sign",
            "decide",
        ],
        "applicant": ["withdraw", "inquiry_sign"],
        "respondent": ["withdraw", "inquiry_sign"],
    },
    "confirmed": {},
    "rejected": {},
    "not_accepted": {},
    "withdrawn": {},
}


def _requests(callers) -> dict[str, int]:
    """One request in each status (each on its own case), by name. Called on EFFECTIVE:
    one party asked 40 days earlier, and the window closed before the other did."""

    def asked_by_the_applicant(**kwargs) -> ConfirmationRequest:
        agreement = factories.agreement_in_force(**kwargs)
        return sign_application(agreement=agreement, actor=callers["applicant"])

    clerk, judge = callers["clerk"], callers["judge"]
    with time_machine.travel(EFFECTIVE - timedelta(days=40), tick=False):
        late = asked_by_the_applicant()
    with time_machine.travel(EFFECTIVE - timedelta(days=10), tick=False):
        lapsed = factories.confirmation_accepted()
        court_services.confirmation_supplement_ask(
            request=lapsed, actor=clerk, what="补充身份证明", deadline=timezone.localdate()
        )
    awaiting = asked_by_the_applicant()
    pending = factories.confirmation_pending()
    accepted = factories.confirmation_accepted()
    asked = court_services.confirmation_extend(
        request=factories.confirmation_accepted(), actor=judge, reason="需要补充材料"
    )
    extended = court_services.confirmation_extension_decide(
        request=court_services.confirmation_extend(
            request=factories.confirmation_accepted(), actor=judge, reason="需要补充材料"
        ),
        actor=callers["president"],
        approve=True,
    )
    supplement_open = factories.confirmation_accepted()
    court_services.confirmation_supplement_ask(
        request=supplement_open,
        actor=clerk,
        what="补充借条原件",
        deadline=timezone.localdate() + timedelta(days=5),
    )
    withdrawal_asked = court_services.confirmation_withdraw(
        request=factories.confirmation_accepted(), actor=callers["respondent"], reason="已履行"
    )
    not_begun = factories.confirmation_accepted()
    court_services.confirmation_inquiry_schedule(
        request=not_begun,
        actor=judge,
        scheduled_at=timezone.now() + timedelta(days=1),
        place="本院",
    )
    # Scheduled the day before for an hour ago: its record can be written now.
    with time_machine.travel(EFFECTIVE - timedelta(days=1), tick=False):
        scheduled = factories.confirmation_accepted()
        court_services.confirmation_inquiry_schedule(
            request=scheduled,
            actor=judge,
            scheduled_at=EFFECTIVE - timedelta(hours=1),
            place="本院",
        )
        recorded = factories.confirmation_accepted()
        inquiry = court_services.confirmation_inquiry_schedule(
            request=recorded, actor=judge, scheduled_at=EFFECTIVE - timedelta(hours=1), place="本院"
        )
    court_services.confirmation_inquiry_record(
        request=recorded,
        actor=clerk,
        inquiry=inquiry,
        record="问：是否自愿？\n答：是。",
        present=[p.pk for p in recorded.agreement.dispute.parties.all()],
    )
    withdrawn = court_services.confirmation_withdraw_allow(
        request=court_services.confirmation_withdraw(
            request=factories.confirmation_pending(), actor=callers["applicant"], reason="撤回"
        ),
        actor=judge,
    )
    confirmed = factories.confirmation_decided(decision="confirmed")
    rejected = factories.confirmation_decided(decision="rejected", reason="协议内容不明确")
    not_accepted = factories.confirmation_decided(decision="not_accepted")
    return {
        "awaiting_consent": awaiting.pk,
        "awaiting_consent_window_closed": late.pk,
        "pending": pending.pk,
        "accepted": accepted.pk,
        "extension_asked": asked.pk,
        "extended": extended.pk,
        "supplement_open": supplement_open.pk,
        "supplement_lapsed": lapsed.pk,
        "withdrawal_asked": withdrawal_asked.pk,
        "inquiry_not_begun": not_begun.pk,
        "inquiry_scheduled": scheduled.pk,
        "inquiry_recorded": recorded.pk,
        "confirmed": confirmed.pk,
        "rejected": rejected.pk,
        "not_accepted": not_accepted.pk,
        "withdrawn": withdrawn.pk,
    }


def test_every_confirmation_action_offered_is_carried_out_and_every_other_is_refused(callers):
    with time_machine.travel(EFFECTIVE, tick=False):
        ids = _requests(callers)
        offered, wrong = _mismatches(
            court_transitions.MACHINE,
            lambda state: ConfirmationRequest.objects.select_related(
                "agreement__dispute", "court"
            ).get(pk=ids[state]),
            CONFIRMATION_ATTEMPTS,
            callers,
            ids,
        )
    assert wrong == []
    expected = {
        (state, who): CONFIRMATION_OFFERS[state].get(who, []) for state in ids for who in CALLERS
    }
    assert offered == expected


def test_the_second_consent_submits_the_request_as_its_own_audited_move(callers):
    with time_machine.travel(EFFECTIVE, tick=False):
        request = factories.confirmation_pending()
    submit = AuditEvent.objects.get(action="confirmation.submit", object_id=str(request.pk))
    assert submit.actor.email == "citizen2@demo.odr"
    assert (submit.before["status"], submit.after["status"]) == ("awaiting_consent", "pending")
    assert submit.after["application_sha256"] == request.application_sha256
    assert "submit" not in court_transitions.MACHINE.public_names
