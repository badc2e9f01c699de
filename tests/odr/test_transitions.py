"""Every allowed and every refused move of odr.transitions.MACHINE, checked on the
status and on the audit event it writes (DESIGN.md §4.6)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from odr import services
from odr.errors import DomainError
from odr.models import AuditEvent, Dispute, Membership, Organisation, Party
from odr.transitions import MACHINE, PUBLIC_ACTIONS, allowed_actions
from tests import factories

pytestmark = pytest.mark.django_db
S = Dispute.Status

YUCUN = "330523101201"  # a village with its own mediation committee
BAIYANG = "330523100201"  # a village whose township has no committee on the platform


def user(email: str):
    return factories.demo_user(email)


def last_event(dispute: Dispute) -> AuditEvent:
    return AuditEvent.objects.filter(dispute=dispute).order_by("-seq").first()


def org(kind: str) -> Organisation:
    return Organisation.objects.get(kind=kind)


def assert_event(dispute: Dispute, action: str, before: dict, after: dict, actor=None) -> None:
    event = last_event(dispute)
    assert event.action == action
    for key, value in before.items():
        assert event.before[key] == value, (key, event.before)
    for key, value in after.items():
        assert event.after[key] == value, (key, event.after)
    if actor is not None:
        assert event.actor_id == actor.pk


def refused(call, *, status: int, code: str, dispute: Dispute) -> DomainError:
    """Runs a move that must be refused and checks that nothing changed."""
    events_before = AuditEvent.objects.count()
    status_before = Dispute.objects.get(pk=dispute.pk).status
    with pytest.raises(DomainError) as info:
        call()
    assert (info.value.status, info.value.code) == (status, code)
    assert Dispute.objects.get(pk=dispute.pk).status == status_before
    assert AuditEvent.objects.count() == events_before
    return info.value


def in_status(status: str, **kwargs) -> Dispute:
    return factories.dispute_in_status(status, **kwargs)


def second_centre_mediator():
    return factories.make_user(
        "mediator2@demo.odr", name="孙调解", org=org("county_centre"), role="mediator"
    )


def action_data(action: str) -> dict:
    if action in ("accept", "assign"):
        # The assign target differs from the mediator who has the case.
        mediator = user("mediator@demo.odr") if action == "accept" else second_centre_mediator()
        return {"mediator": mediator.pk}
    return {"reason": "理由"}


# --- filing and the respondent's answer --------------------------------------------------


def test_filing_records_the_file_event_and_waits_for_the_respondent(demo):
    dispute = factories.file_dispute()
    assert dispute.status == S.FILED
    assert dispute.organisation.kind == "county_centre"
    assert_event(
        dispute,
        "dispute.file",
        {},
        {"status": S.FILED, "case_number": dispute.case_number, "category": "debt"},
        actor=user("citizen1@demo.odr"),
    )


def test_respondent_accepts_through_the_invitation(demo):
    dispute = factories.file_dispute()
    token = dispute.parties.get(role="respondent").invitation.token
    respondent = user("citizen2@demo.odr")
    dispute = services.invitation_accept(token=token, user=respondent, consent_online=True)
    assert dispute.status == S.AWAITING_INTAKE
    assert dispute.intake_at is not None
    party = dispute.parties.get(role=Party.Role.RESPONDENT)
    assert (party.user, party.accepted) == (respondent, True)
    assert party.consented_online_at is not None
    assert_event(
        dispute,
        "dispute.respond_accept",
        {"status": S.FILED},
        {"status": S.AWAITING_INTAKE, "respondent": respondent.pk},
        actor=respondent,
    )


def test_respondent_declines_through_the_invitation_with_a_reason(demo):
    dispute = in_status(S.DECLINED)
    assert dispute.status == S.DECLINED
    assert dispute.closed_at is not None
    assert dispute.closing_reason == "不认识此人"
    assert dispute.parties.get(role="respondent").accepted is False
    assert_event(
        dispute,
        "dispute.respond_decline",
        {"status": S.FILED},
        {"status": S.DECLINED, "reason": "不认识此人"},
        actor=user("citizen2@demo.odr"),
    )


def test_respondent_cannot_accept_without_consenting_to_online_mediation(demo):
    dispute = factories.file_dispute()
    token = dispute.parties.get(role="respondent").invitation.token
    refused(
        lambda: services.invitation_accept(
            token=token, user=user("citizen2@demo.odr"), consent_online=False
        ),
        status=400,
        code="consent_required",
        dispute=dispute,
    )


def test_respondent_cannot_accept_a_withdrawn_dispute(demo):
    dispute = factories.file_dispute()
    token = dispute.parties.get(role="respondent").invitation.token
    services.dispute_withdraw(dispute=dispute, actor=user("citizen1@demo.odr"))
    refused(
        lambda: services.invitation_accept(
            token=token, user=user("citizen2@demo.odr"), consent_online=True
        ),
        status=409,
        code="invalid_status",
        dispute=dispute,
    )
    # The refusal rolled back the party and the invitation too.
    party = Party.objects.get(dispute=dispute, role="respondent")
    assert party.user is None
    assert party.invitation.used_at is None


# --- intake ------------------------------------------------------------------------------


def test_coordinator_accepts_and_gives_the_case_to_a_mediator(demo):
    dispute = factories.dispute_awaiting_intake()
    coordinator, mediator = user("coordinator@demo.odr"), user("mediator@demo.odr")
    dispute = services.dispute_accept(dispute=dispute, actor=coordinator, mediator=mediator.pk)
    assert dispute.status == S.IN_MEDIATION
    assert dispute.mediator == mediator
    assert dispute.accepted_at is not None
    assert dispute.mediation_deadline - dispute.accepted_at == timedelta(days=30)
    assert_event(
        dispute,
        "dispute.accept",
        {"status": S.AWAITING_INTAKE, "mediator": None},
        {"status": S.IN_MEDIATION, "mediator": mediator.pk},
        actor=coordinator,
    )


def test_coordinator_rejects_with_a_reason(demo):
    dispute = in_status(S.REJECTED)
    assert dispute.status == S.REJECTED
    assert dispute.closing_reason == "不属受理范围"
    assert_event(
        dispute,
        "dispute.reject",
        {"status": S.AWAITING_INTAKE},
        {"status": S.REJECTED, "reason": "不属受理范围"},
        actor=user("coordinator@demo.odr"),
    )


# Invisible and direction characters are no reason either (issue 11, L7).
@pytest.mark.parametrize("reason", ["  ", "\u200b\u202e\n\u2066"])
def test_reject_needs_a_reason(demo, reason):
    dispute = factories.dispute_awaiting_intake()
    refused(
        lambda: services.dispute_reject(
            dispute=dispute, actor=user("coordinator@demo.odr"), reason=reason
        ),
        status=400,
        code="reason_required",
        dispute=dispute,
    )


def test_coordinator_reassigns_to_another_mediator_of_the_organisation(demo):
    dispute = factories.dispute_in_mediation()
    other = second_centre_mediator()
    coordinator = user("coordinator@demo.odr")
    dispute = services.dispute_assign(dispute=dispute, actor=coordinator, mediator=other.pk)
    assert dispute.status == S.IN_MEDIATION
    assert dispute.mediator == other
    assert_event(
        dispute,
        "dispute.assign",
        {"status": S.IN_MEDIATION, "mediator": user("mediator@demo.odr").pk},
        {"status": S.IN_MEDIATION, "mediator": other.pk},
        actor=coordinator,
    )


def test_assign_to_the_mediator_who_has_the_case_is_refused(demo):
    dispute = factories.dispute_in_mediation()
    refused(
        lambda: services.dispute_assign(
            dispute=dispute,
            actor=user("coordinator@demo.odr"),
            mediator=user("mediator@demo.odr").pk,
        ),
        status=409,
        code="same_mediator",
        dispute=dispute,
    )


@pytest.mark.parametrize("service", ["accept", "assign"])
def test_a_mediator_of_another_organisation_cannot_be_given_the_case(demo, service):
    dispute = (
        factories.dispute_awaiting_intake() if service == "accept" else in_status(S.IN_MEDIATION)
    )
    outsider = user("mediator.yucun@demo.odr")  # the village committee's mediator
    refused(
        lambda: services.dispute_run_action(
            dispute=dispute,
            actor=user("coordinator@demo.odr"),
            action=service,
            data={"mediator": outsider.pk},
        ),
        status=400,
        code="invalid_mediator",
        dispute=dispute,
    )


def test_an_inactive_mediator_membership_cannot_be_given_the_case(demo):
    dispute = factories.dispute_awaiting_intake()
    Membership.objects.filter(user__email="mediator@demo.odr").update(is_active=False)
    refused(
        lambda: services.dispute_accept(
            dispute=dispute,
            actor=user("coordinator@demo.odr"),
            mediator=user("mediator@demo.odr").pk,
        ),
        status=400,
        code="invalid_mediator",
        dispute=dispute,
    )


# --- routing and escalation --------------------------------------------------------------


def test_a_village_dispute_of_a_village_category_stays_in_the_village(demo):
    dispute = factories.file_dispute(region_code=YUCUN, category="neighbour")
    assert dispute.organisation.kind == "village_committee"
    assert "余村调" in dispute.case_number


def test_a_category_the_village_does_not_handle_goes_to_the_township(demo):
    dispute = factories.file_dispute(region_code=YUCUN, category="labour")
    assert dispute.organisation.kind == "township_committee"


def test_a_category_only_the_county_handles_goes_to_the_county_centre(demo):
    dispute = factories.file_dispute(region_code=YUCUN, category="medical")
    assert dispute.organisation.kind == "county_centre"


def test_a_village_without_its_own_committee_goes_up_to_the_county_centre(demo):
    dispute = factories.file_dispute(region_code=BAIYANG, category="neighbour")
    assert dispute.organisation.kind == "county_centre"


def test_a_county_level_dispute_goes_to_the_county_centre(demo):
    dispute = factories.file_dispute(region_code="330523000000", category="neighbour")
    assert dispute.organisation.kind == "county_centre"


def test_a_place_no_organisation_covers_is_refused_and_nothing_is_saved(demo):
    Organisation.objects.exclude(kind="court").update(is_active=False)
    with pytest.raises(DomainError) as info:
        factories.file_dispute()
    assert info.value.code == "no_organisation"
    assert Dispute.objects.count() == 0


def test_escalation_climbs_village_then_township_then_county_then_stops(demo):
    dispute = factories.dispute_awaiting_intake(region_code=YUCUN, category="debt")
    assert dispute.organisation.kind == "village_committee"
    village_coordinator = user("coordinator.yucun@demo.odr")
    dispute = services.dispute_escalate(
        dispute=dispute, actor=village_coordinator, reason="金额较大"
    )
    assert dispute.status == S.AWAITING_INTAKE
    assert dispute.organisation.kind == "township_committee"
    assert_event(
        dispute,
        "dispute.escalate",
        {"status": S.AWAITING_INTAKE, "organisation": org("village_committee").pk},
        {
            "status": S.AWAITING_INTAKE,
            "organisation": org("township_committee").pk,
            "reason": "金额较大",
        },
        actor=village_coordinator,
    )
    # The village coordinator no longer holds the case.
    assert "escalate" not in allowed_actions(dispute, village_coordinator)

    township_coordinator = user("coordinator.tianhuangping@demo.odr")
    dispute = services.dispute_accept(
        dispute=dispute,
        actor=township_coordinator,
        mediator=user("mediator.tianhuangping@demo.odr").pk,
    )
    # The township's mediator escalates from mediation: back to intake, one level up.
    dispute = services.dispute_escalate(
        dispute=dispute, actor=user("mediator.tianhuangping@demo.odr"), reason="涉及多个镇"
    )
    assert (dispute.status, dispute.organisation.kind) == (S.AWAITING_INTAKE, "county_centre")
    assert dispute.mediator is None
    assert dispute.mediation_deadline is None
    assert_event(
        dispute,
        "dispute.escalate",
        {"status": S.IN_MEDIATION, "organisation": org("township_committee").pk},
        {"status": S.AWAITING_INTAKE, "organisation": org("county_centre").pk, "mediator": None},
    )

    coordinator = user("coordinator@demo.odr")
    assert "escalate" not in allowed_actions(dispute, coordinator)
    refused(
        lambda: services.dispute_escalate(dispute=dispute, actor=coordinator, reason="再上"),
        status=409,
        code="no_organisation_above",
        dispute=dispute,
    )


def test_escalation_skips_an_organisation_above_that_does_not_handle_the_category(demo):
    Organisation.objects.filter(kind="township_committee").update(categories=["family"])
    dispute = factories.dispute_awaiting_intake(region_code=YUCUN, category="debt")
    dispute = services.dispute_escalate(
        dispute=dispute, actor=user("coordinator.yucun@demo.odr"), reason="上报"
    )
    assert dispute.organisation.kind == "county_centre"


def test_escalate_needs_a_reason(demo):
    dispute = factories.dispute_awaiting_intake(region_code=YUCUN)
    refused(
        lambda: services.dispute_escalate(
            dispute=dispute, actor=user("coordinator.yucun@demo.odr"), reason=""
        ),
        status=400,
        code="reason_required",
        dispute=dispute,
    )


# --- withdraw, fail, settle --------------------------------------------------------------


@pytest.mark.parametrize("status", [S.FILED, S.AWAITING_INTAKE, S.IN_MEDIATION])
def test_applicant_withdraws_an_open_case(demo, status):
    dispute = in_status(status)
    applicant = user("citizen1@demo.odr")
    dispute = services.dispute_withdraw(dispute=dispute, actor=applicant, reason="已私了")
    assert dispute.status == S.WITHDRAWN
    assert dispute.closed_at is not None
    assert_event(
        dispute,
        "dispute.withdraw",
        {"status": status},
        {"status": S.WITHDRAWN, "reason": "已私了"},
        actor=applicant,
    )


def test_mediator_ends_mediation_as_failed(demo):
    dispute = in_status(S.FAILED)
    assert dispute.status == S.FAILED
    assert dispute.closing_reason == "差距太大"
    assert_event(
        dispute,
        "dispute.fail",
        {"status": S.IN_MEDIATION},
        {"status": S.FAILED, "reason": "差距太大"},
        actor=user("mediator@demo.odr"),
    )


def test_the_system_settles_when_the_agreement_is_in_force(demo):
    dispute = in_status(S.SETTLED)
    assert dispute.status == S.SETTLED
    assert dispute.closed_at is not None
    event = last_event(dispute)
    assert event.actor_id is None
    assert_event(
        dispute, "dispute.settle", {"status": S.IN_MEDIATION}, {"status": S.SETTLED, "agreement": 1}
    )


@pytest.mark.parametrize("email", ["mediator@demo.odr", "citizen1@demo.odr"])
@pytest.mark.parametrize("action", ["settle", "respond_accept"])
def test_internal_transitions_are_not_actions_anyone_can_take(demo, email, action):
    dispute = factories.dispute_in_mediation()
    assert action not in allowed_actions(dispute, user(email))
    refused(
        lambda: services.dispute_run_action(
            dispute=dispute, actor=user(email), action=action, data={}
        ),
        status=403,
        code="action_not_allowed",
        dispute=dispute,
    )


def test_settle_is_refused_unless_in_mediation(demo):
    dispute = factories.dispute_awaiting_intake()
    refused(
        lambda: services.dispute_settle(dispute=dispute, agreement_id=1),
        status=409,
        code="invalid_status",
        dispute=dispute,
    )


def test_an_unknown_action_is_not_found(demo):
    dispute = factories.dispute_in_mediation()
    refused(
        lambda: services.dispute_run_action(
            dispute=dispute, actor=user("mediator@demo.odr"), action="delete", data={}
        ),
        status=404,
        code="not_found",
        dispute=dispute,
    )


# --- refused moves: the wrong person, the wrong status -----------------------------------

# For each public action, someone who sees the case but may never take the action.
WRONG_ROLE = {
    "accept": ["mediator@demo.odr", "citizen1@demo.odr", "citizen2@demo.odr"],
    "reject": ["mediator@demo.odr", "citizen1@demo.odr", "citizen2@demo.odr"],
    "assign": ["mediator@demo.odr", "citizen1@demo.odr", "citizen2@demo.odr"],
    "escalate": ["citizen1@demo.odr", "citizen2@demo.odr", "clerk@demo.odr"],
    "withdraw": ["citizen2@demo.odr", "coordinator@demo.odr", "mediator@demo.odr"],
    "fail": ["coordinator@demo.odr", "citizen1@demo.odr", "citizen2@demo.odr"],
}
# Where each action is allowed, and who may take it.
ALLOWED_IN = {
    "accept": (S.AWAITING_INTAKE, "coordinator@demo.odr"),
    "reject": (S.AWAITING_INTAKE, "coordinator@demo.odr"),
    "assign": (S.IN_MEDIATION, "coordinator@demo.odr"),
    "escalate": (S.IN_MEDIATION, "mediator@demo.odr"),
    "withdraw": (S.IN_MEDIATION, "citizen1@demo.odr"),
    "fail": (S.IN_MEDIATION, "mediator@demo.odr"),
}


def test_the_tables_of_this_module_cover_every_public_action():
    assert set(WRONG_ROLE) == set(PUBLIC_ACTIONS) == set(ALLOWED_IN)


@pytest.mark.parametrize(
    ("action", "email"), [(a, e) for a, emails in WRONG_ROLE.items() for e in emails]
)
def test_an_action_taken_by_the_wrong_role_is_forbidden(demo, action, email):
    # The county centre has no organisation above it: escalate from the village instead.
    status, _right = ALLOWED_IN[action]
    if action == "escalate":
        dispute = factories.dispute_awaiting_intake(region_code=YUCUN)
    else:
        dispute = in_status(status)
    data = action_data(action)
    assert action not in allowed_actions(dispute, user(email))
    refused(
        lambda: services.dispute_run_action(
            dispute=dispute, actor=user(email), action=action, data=data
        ),
        status=403,
        code="action_not_allowed",
        dispute=dispute,
    )


def _wrong_status_cases() -> list[tuple[str, str]]:
    cases = []
    for action in PUBLIC_ACTIONS:
        for status in S.values:
            if status in MACHINE[action].sources:
                continue
            # The mediator only holds a case from acceptance on.
            if action == "fail" and status in (S.FILED, S.AWAITING_INTAKE, S.REJECTED, S.DECLINED):
                continue
            cases.append((action, status))
    return cases


@pytest.mark.parametrize(("action", "status"), _wrong_status_cases())
def test_an_action_in_the_wrong_status_is_an_invalid_status_conflict(demo, action, status):
    dispute = in_status(status)
    _allowed, email = ALLOWED_IN[action]
    if action == "escalate":
        email = "coordinator@demo.odr"
    data = action_data(action)
    assert action not in allowed_actions(dispute, user(email))
    refused(
        lambda: services.dispute_run_action(
            dispute=dispute, actor=user(email), action=action, data=data
        ),
        status=409,
        code="invalid_status",
        dispute=dispute,
    )


@pytest.mark.parametrize("action", PUBLIC_ACTIONS)
def test_the_right_role_in_the_right_status_sees_the_action_and_can_take_it(demo, action):
    status, email = ALLOWED_IN[action]
    if action == "escalate":
        dispute = factories.dispute_awaiting_intake(region_code=YUCUN)
        email = "coordinator.yucun@demo.odr"
    else:
        dispute = in_status(status)
    data = action_data(action)
    assert action in allowed_actions(dispute, user(email))
    before = dispute.status
    after = services.dispute_run_action(
        dispute=dispute, actor=user(email), action=action, data=data
    )
    target = MACHINE[action].target or before
    assert after.status == target
    assert_event(after, f"dispute.{action}", {"status": before}, {"status": target})


def test_a_stale_copy_cannot_move_a_dispute_twice(demo):
    """Two coordinators press accept at once: the second works from a stale copy and is
    refused, because the check runs on the row under the lock."""
    dispute = factories.dispute_awaiting_intake()
    stale = Dispute.objects.get(pk=dispute.pk)
    coordinator, mediator = user("coordinator@demo.odr"), user("mediator@demo.odr")
    services.dispute_accept(dispute=dispute, actor=coordinator, mediator=mediator.pk)
    refused(
        lambda: services.dispute_reject(dispute=stale, actor=coordinator, reason="重复"),
        status=409,
        code="invalid_status",
        dispute=dispute,
    )
    assert AuditEvent.objects.filter(dispute=dispute, action="dispute.accept").count() == 1


def test_mediation_deadline_follows_the_setting(demo, settings):
    settings.ODR_MEDIATION_DAYS = 10
    dispute = factories.dispute_in_mediation()
    assert dispute.mediation_deadline - dispute.accepted_at == timedelta(days=10)
    assert dispute.mediation_deadline > timezone.now()


# --- the whole table: what is offered is accepted, what is refused is not offered ---------

# A county case (nothing above the county centre: escalate is refused there) and a village
# case (escalate goes up to the township).
WALK_PLACES = {"county": {}, "village": {"region_code": YUCUN, "category": "debt"}}


class _Taken(Exception):
    """Rolls the savepoint of a move back once it was taken and checked, so that every
    caller tries every move on the same case."""


def walk_people(dispute: Dispute) -> dict[str, object]:
    """Everyone who might ask, relative to the case: its parties, its organisation's
    mediators and coordinator, another organisation's coordinator, the court's clerk, a
    citizen outside the case and the platform's superuser."""
    organisation = dispute.organisation
    mediators = [
        m.user
        for m in Membership.objects.filter(
            organisation=organisation, role=Membership.Role.MEDIATOR
        ).order_by("pk")
    ]
    case_mediator = dispute.mediator or mediators[0]
    other_coordinator = (
        "coordinator.yucun@demo.odr"
        if organisation.kind == "county_centre"
        else "coordinator@demo.odr"
    )
    return {
        "applicant": user("citizen1@demo.odr"),
        "respondent": user("citizen2@demo.odr"),
        "case mediator": case_mediator,
        "other mediator": next(m for m in mediators if m.pk != case_mediator.pk),
        "coordinator": factories.staff_of(organisation, Membership.Role.COORDINATOR),
        "other coordinator": user(other_coordinator),
        "clerk": user("clerk@demo.odr"),
        "outsider": factories.make_user("bystander@example.com", name="路人"),
        "superuser": user("admin@demo.odr"),
    }


def walk_data(dispute: Dispute) -> dict:
    """Valid input for every public action: a mediator of the case's organisation other
    than the one who has it (accept, assign), and a reason."""
    mediator = (
        Membership.objects.filter(
            organisation=dispute.organisation, role=Membership.Role.MEDIATOR, is_active=True
        )
        .exclude(user_id=dispute.mediator_id)
        .order_by("pk")
        .values_list("user_id", flat=True)
        .first()
    )
    return {"mediator": mediator, "reason": "理由"}


def take(name: str, dispute: Dispute, actor) -> Dispute:
    """A public action through the service the API and the page call; an internal move
    (the respondent's answer, settling) through the kernel's apply, which its own service
    calls."""
    if MACHINE[name].public:
        return services.dispute_run_action(
            dispute=dispute, actor=actor, action=name, data=walk_data(dispute)
        )
    return MACHINE.apply(name, instance=dispute, actor=actor)


@pytest.mark.parametrize("status", S.values)
@pytest.mark.parametrize("place", sorted(WALK_PLACES))
def test_every_move_offered_in_any_status_is_accepted_and_no_refused_move_is_offered(
    demo, place, status
):
    """Walks MACHINE.table × every status × everyone who might ask, so that a transition
    added to the table is covered without touching this test: a move is offered (in
    `actions`) exactly when taking it succeeds, with its target status and its audit event;
    a refused move answers the machine's refusal and changes nothing."""
    second_centre_mediator()
    factories.make_user(
        "mediator2.yucun@demo.odr", name="钱村调", org=org("village_committee"), role="mediator"
    )
    dispute = in_status(status, **WALK_PLACES[place])
    problems, accepted_moves = [], []
    for role, person in walk_people(dispute).items():
        fresh = Dispute.objects.get(pk=dispute.pk)
        offered = set(MACHINE.actions(fresh, person, names=MACHINE.table))
        public = allowed_actions(fresh, person)
        if public != [n for n in MACHINE.public_names if n in offered]:
            problems.append((role, "the public actions differ from the table's", public))
        for name, transition in MACHINE.table.items():
            refusal = MACHINE.refusal(name, fresh, person)
            if refusal is not None and name in offered:
                problems.append((role, name, "offered although refused", refusal.code))
            events = AuditEvent.objects.count()
            try:
                with transaction.atomic():
                    after = take(name, Dispute.objects.get(pk=dispute.pk), person)
                    event = last_event(dispute)
                    raise _Taken(
                        after.status == (transition.target or status)
                        and event.action == transition.action
                        and event.actor_id == person.pk
                    )
            except _Taken as taken:
                accepted_moves.append((role, name))
                if not taken.args[0]:
                    problems.append((role, name, "taken without its status or audit event"))
                if name not in offered:
                    problems.append((role, name, "accepted although not offered"))
            except DomainError as exc:
                if name in offered:
                    problems.append((role, name, "offered but refused", exc.code))
                elif refusal is not None and (exc.status, exc.code) != (
                    refusal.status,
                    refusal.code,
                ):
                    problems.append((role, name, "refused otherwise", exc.code, refusal.code))
                if Dispute.objects.get(pk=dispute.pk).status != status:
                    problems.append((role, name, "a refused move changed the status"))
                if AuditEvent.objects.count() != events:
                    problems.append((role, name, "a refused move wrote an audit event"))
    assert not problems, problems
    # The walk is not empty: where the table has public moves, someone could take one.
    if any(status in MACHINE[n].sources for n in PUBLIC_ACTIONS):
        assert accepted_moves
