"""Several parties on a side (issue 8): every party who takes part signs for itself, the
mediator last; a party who declined is no signer; each party's identity record is frozen
when the draft goes out for signature; `open` names every missing particular of every
party; an obligation may bind or benefit one party of a side."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.utils import translation

from agreements import selectors, services
from agreements.court.performance_transitions import MACHINE as OBLIGATION
from agreements.court.services import performance_schedule
from agreements.diff import compare
from agreements.models import Agreement, AgreementVersion, Performance, Signature
from odr.errors import DomainError
from odr.identity import identity_of
from odr.management.commands.seed_demo import demo_id_number
from odr.models import AuditEvent, Party, Profile
from tests import factories
from tests.signing import sign_agreement

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    cache.clear()
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def mediator(demo):
    return factories.demo_user("mediator@demo.odr")


def _add_party(dispute, role, n, *, name, accepted=True, kind="person", **fields):
    """Another party of `role`, with an account and a complete identity record."""
    user = factories.make_user(f"{role}{n}-{dispute.pk}@example.com", name=name)
    values = {
        "id_number": demo_id_number(f"1970020{n}", f"{n + 300:03d}"),
        "ethnicity": "汉族",
        "occupation": "个体工商户",
        "address": f"浙江省安吉县递铺街道{role}路{n}号",
    }
    if kind == "organisation":
        values = {
            "credit_code": fields.pop("credit_code", ""),
            "representative": "王五",
            "representative_title": "总经理",
            "address": "浙江省安吉县昌硕街道园区路1号",
        }
    values.update(fields)
    return Party.objects.create(
        dispute=dispute,
        role=role,
        position=n,
        kind=kind,
        user=user,
        name=name,
        email=user.email,
        accepted=accepted,
        **values,
    )


@pytest.fixture
def four(demo):
    """Two applicants and two respondents, all taking part, the draft complete."""
    dispute = factories.complete_particulars(factories.dispute_in_mediation())
    second_applicant = _add_party(dispute, "applicant", 1, name="张二")
    second_respondent = _add_party(dispute, "respondent", 1, name="李五")
    agreement = factories.agreement_draft(dispute)
    return dispute, agreement, second_applicant, second_respondent


def _sign(agreement, user):
    return sign_agreement(
        agreement=agreement,
        actor=user,
        password=factories.PASSWORD,
        consent=True,
        signature_png=factories.signature_png_b64(),
    )


def test_every_applicant_and_every_respondent_signs_before_the_agreement_is_signed(four, mediator):
    dispute, agreement, applicant2, respondent2 = four
    agreement = services.agreement_open(agreement=agreement, actor=mediator)
    signers = selectors.signers(agreement)
    assert [(s.role, s.name) for s in signers] == [
        ("applicant", "张三"),
        ("applicant", "张二"),
        ("respondent", "李四"),
        ("respondent", "李五"),
        ("mediator", "李调解"),
    ]
    citizen1 = factories.demo_user("citizen1@demo.odr")
    citizen2 = factories.demo_user("citizen2@demo.odr")
    for user in (citizen1, citizen2, applicant2.user):
        agreement = _sign(agreement, user)
    # Three of four parties: one side is complete, the other is not.
    assert agreement.status == Agreement.Status.SIGNING
    with pytest.raises(DomainError) as refused:
        _sign(agreement, mediator)
    assert refused.value.code == "parties_sign_first" and "李五" in refused.value.message
    assert "张二" not in refused.value.message
    agreement = _sign(agreement, respondent2.user)
    assert agreement.status == Agreement.Status.SIGNING
    agreement = _sign(agreement, mediator)
    assert agreement.status == Agreement.Status.SIGNED
    signatures = Signature.objects.filter(agreement=agreement, version=agreement.version)
    assert sorted((s.role, s.party_id) for s in signatures) == sorted(
        [
            ("applicant", dispute.applicant.pk),
            ("applicant", applicant2.pk),
            ("respondent", dispute.respondent.pk),
            ("respondent", respondent2.pk),
            ("mediator", None),
        ]
    )
    events = AuditEvent.objects.filter(action="agreement.sign").order_by("pk")
    assert [e.after["party"] for e in events][:4] == [
        dispute.applicant.pk,
        dispute.respondent.pk,
        applicant2.pk,
        respondent2.pk,
    ]


def test_a_party_signs_once_per_version_and_revise_voids_every_party_signature(four, mediator):
    _dispute, agreement, applicant2, _respondent2 = four
    agreement = services.agreement_open(agreement=agreement, actor=mediator)
    agreement = _sign(agreement, applicant2.user)
    with pytest.raises(DomainError) as refused:
        _sign(agreement, applicant2.user)
    assert refused.value.code == "already_signed"
    agreement = services.agreement_revise(agreement=agreement, actor=mediator, reason="改")
    event = AuditEvent.objects.get(action="agreement.revise")
    assert event.after["voided_parties"] == [applicant2.pk]
    assert agreement.parties == []


def test_a_party_who_declined_to_mediate_is_no_signer(demo, mediator):
    dispute = factories.complete_particulars(factories.dispute_in_mediation())
    declined = _add_party(dispute, "respondent", 1, name="赵六", accepted=False)
    agreement = services.agreement_open(
        agreement=factories.agreement_draft(dispute), actor=mediator
    )
    assert declined.pk not in [s.party_id for s in selectors.signers(agreement)]
    assert declined.pk not in [p["party_id"] for p in agreement.parties]
    with pytest.raises(DomainError) as refused:
        _sign(agreement, declined.user)
    assert refused.value.status == 403
    for email in ("citizen1@demo.odr", "citizen2@demo.odr"):
        agreement = _sign(agreement, factories.demo_user(email))
    agreement = _sign(agreement, mediator)
    assert agreement.status == Agreement.Status.SIGNED


def test_a_party_not_yet_answering_is_a_signer(demo, mediator):
    """accepted is None: not declined, so they sign too (the agreement waits for them)."""
    dispute = factories.complete_particulars(factories.dispute_in_mediation())
    pending = _add_party(dispute, "applicant", 1, name="张未答", accepted=None)
    agreement = services.agreement_open(
        agreement=factories.agreement_draft(dispute), actor=mediator
    )
    assert pending.pk in [s.party_id for s in selectors.signers(agreement)]


def test_the_identity_record_is_frozen_at_open_and_a_profile_edit_does_not_reach_it(demo, mediator):
    dispute = factories.complete_particulars(factories.dispute_in_mediation())
    agreement = services.agreement_open(
        agreement=factories.agreement_draft(dispute), actor=mediator
    )
    frozen = list(agreement.parties)
    respondent = dispute.respondent
    assert [p["name"] for p in frozen] == ["张三", "李四"]
    assert frozen[1]["address"] == "安吉县孝丰镇三里村8号" and frozen[1]["sex"] in ("M", "F")
    assert frozen[1]["ethnicity"] == "汉族" and frozen[1]["birth_date"] == "1985-05-05"
    version = AgreementVersion.objects.get(agreement=agreement, number=agreement.version)
    assert version.snapshot["parties"] == frozen

    # The party edits the profile, and the record follows (as the profile's own service
    # does for a case): the agreement out for signature still names them as they were.
    Profile.objects.filter(user=respondent.user).update(real_name="李四新", address="新地址")
    Party.objects.filter(pk=respondent.pk).update(name="李四新", address="湖州市新地址9号")
    agreement = Agreement.objects.get(pk=agreement.pk)
    assert agreement.parties == frozen
    assert [i.name for i in selectors.document_parties(agreement)] == ["张三", "李四"]
    assert [s.name for s in selectors.signers(agreement)] == ["张三", "李四", "李调解"]
    assert identity_of(Party.objects.get(pk=respondent.pk)).name == "李四新"

    # Revise clears the frozen records; the next open freezes them again, and the
    # versions' difference shows the change of particulars.
    agreement = services.agreement_revise(agreement=agreement, actor=mediator)
    assert agreement.parties == []
    agreement = services.agreement_open(agreement=agreement, actor=mediator)
    assert agreement.parties[1]["name"] == "李四新"
    assert agreement.parties[1]["address"] == "湖州市新地址9号"
    old = AgreementVersion.objects.get(agreement=agreement, number=1).snapshot
    new = AgreementVersion.objects.get(agreement=agreement, number=agreement.version).snapshot
    parties = next(s for s in compare(old, new) if s.label == "Parties")
    assert parties.changed and "<ins>" in parties.html and "新" in parties.html


def test_open_is_refused_naming_every_missing_particular_of_every_party(demo, mediator):
    dispute = factories.complete_particulars(factories.dispute_in_mediation())
    applicant2 = _add_party(dispute, "applicant", 1, name="张二", ethnicity="", occupation="")
    company = _add_party(
        dispute, "respondent", 1, name="安吉某某物业服务有限公司", kind="organisation"
    )
    Party.objects.filter(pk=company.pk).update(representative="")
    agreement = factories.agreement_draft(dispute, performance_method="")
    Party.objects.filter(pk=dispute.respondent.pk).update(address="")
    with pytest.raises(DomainError) as refused:
        services.agreement_open(agreement=agreement, actor=mediator)
    message = refused.value.message
    assert refused.value.code == "agreement_incomplete"
    assert "the particulars of 申请人（2）张二: 民族" in message
    assert "the particulars of 被申请人（1）李四: 住址" in message
    assert (
        "the particulars of 被申请人（2）安吉某某物业服务有限公司: "
        "统一社会信用代码、法定代表人或主要负责人" in message
    )
    assert "method of performance" in message
    # Occupation is printed when known; the law's list does not require it.
    assert "职业" not in message
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.DRAFT and agreement.parties == []
    assert applicant2.pk  # the record itself was not changed by the refusal


def test_the_drafting_input_fills_each_partys_record(demo, mediator):
    dispute = factories.complete_particulars(factories.dispute_in_mediation())
    applicant2 = _add_party(dispute, "applicant", 1, name="张二", ethnicity="")
    agreement = factories.agreement_draft(
        dispute,
        party_details={
            "applicant": {"address": "递铺街道1号"},
            "respondent": {"address": "孝丰镇2号"},
            f"party:{applicant2.pk}": {"ethnicity": "畲族", "occupation": "教师"},
        },
    )
    applicant2.refresh_from_db()
    assert (applicant2.ethnicity, applicant2.occupation) == ("畲族", "教师")
    assert dispute.applicant.address == "递铺街道1号"  # the side's first party
    with pytest.raises(DomainError) as refused:
        services.agreement_save_draft(
            dispute=dispute, actor=mediator, data={"party_details": {"party:999999": {}}}
        )
    assert refused.value.code == "invalid_field"
    assert agreement.status == Agreement.Status.DRAFT


def test_the_signing_pages_and_the_api_show_each_signers_status(four, mediator, client):
    _dispute, agreement, applicant2, respondent2 = four
    agreement = services.agreement_open(agreement=agreement, actor=mediator)
    agreement = _sign(agreement, applicant2.user)
    client.force_login(respondent2.user)
    page = client.get(f"/agreements/{agreement.pk}/sign/").content.decode()
    assert 'id="signers"' in page
    for name in ("张三", "张二", "李四", "李五", "李调解"):
        assert name in page
    assert page.count("has not signed yet") == 4 and page.count("signed 20") == 1
    detail = client.get(f"/agreements/{agreement.pk}/").content.decode()
    assert 'id="signers"' in detail and detail.count("has not signed yet") == 4
    body = client.get(f"/api/v1/agreements/{agreement.pk}").json()
    assert [(s["name"], s["signed"]) for s in body["signers"]] == [
        ("张三", False),
        ("张二", True),
        ("李四", False),
        ("李五", False),
        ("李调解", False),
    ]
    assert body["signers"][1]["party"] == applicant2.pk
    assert body["awaiting_signatures"] == ["applicant", "respondent", "mediator"]
    assert [p["name"] for p in body["parties"]] == ["张三", "张二", "李四", "李五"]
    assert "sign" in body["actions"]


def test_a_term_names_one_party_of_a_side_and_the_obligation_follows_it(demo):
    agreement = factories.agreement_in_force()
    dispute = agreement.dispute
    respondent2 = _add_party(dispute, "respondent", 1, name="李五")
    applicant2 = _add_party(dispute, "applicant", 1, name="张二")
    agreement.terms = [
        {
            "text": "被申请人李五向申请人张二支付人民币3,000.00元。",
            "kind": "money",
            "obligor": f"party:{respondent2.pk}",
            "obligee": f"party:{applicant2.pk}",
            "amount": "3000.00",
            "due_date": "2099-01-01",
        },
        {
            "text": "被申请人李五向申请人书面道歉。",
            "kind": "act",
            "obligor": f"party:{respondent2.pk}",
            "obligee": "applicant",
            "due_date": "2099-01-01",
        },
    ]
    agreement.save()
    money, act = performance_schedule(agreement=agreement)
    assert (money.obligor_role, money.obligor_party_id) == ("respondent", respondent2.pk)
    assert (money.obligee_role, money.obligee_party_id) == ("applicant", applicant2.pk)
    assert (act.obligee_role, act.obligee_party_id) == ("applicant", None)
    citizen1 = factories.demo_user("citizen1@demo.odr")
    citizen2 = factories.demo_user("citizen2@demo.odr")
    # The first respondent owes nothing here; the first applicant is not owed the money.
    assert OBLIGATION.actions(money, citizen2) == []
    assert OBLIGATION.actions(money, citizen1) == []
    assert OBLIGATION.actions(money, respondent2.user) == ["report"]
    assert OBLIGATION.actions(money, applicant2.user) == ["mark"]
    # The act is owed to the applicants' side: either applicant marks it.
    assert OBLIGATION.actions(act, citizen1) == ["mark"]
    assert OBLIGATION.actions(act, applicant2.user) == ["mark"]
    assert OBLIGATION.actions(act, citizen2) == []

    from agreements.court.services import performance_confirm, performance_mark_done

    reported = performance_mark_done(obligation=money, actor=respondent2.user, note="已转账")
    assert reported.status == Performance.Status.REPORTED
    with pytest.raises(DomainError):
        performance_confirm(obligation=reported, actor=citizen1)
    done = performance_confirm(obligation=reported, actor=applicant2.user)
    assert done.status == Performance.Status.DONE


def test_a_term_may_name_a_party_of_the_case_and_nobody_else(demo, mediator):
    dispute = factories.complete_particulars(factories.dispute_in_mediation())
    respondent2 = _add_party(dispute, "respondent", 1, name="李五")
    terms = factories.complete_agreement_data()["terms"]
    terms[0] = {**terms[0], "obligor": f"party:{respondent2.pk}"}
    agreement = factories.agreement_draft(dispute, terms=terms)
    assert agreement.terms[0]["obligor"] == f"party:{respondent2.pk}"
    assert agreement.terms[0]["obligee"] == "applicant"
    agreement = services.agreement_open(agreement=agreement, actor=mediator)
    assert agreement.status == Agreement.Status.SIGNING
    agreement = services.agreement_revise(agreement=agreement, actor=mediator)
    for bad in ("party:999999", "court"):
        with pytest.raises(DomainError) as refused:
            services.agreement_save_draft(
                dispute=dispute,
                actor=mediator,
                data={"terms": [{**terms[0], "obligor": bad}]},
            )
        assert refused.value.code == "invalid_party_role"
    # A party cannot owe its own side as a whole.
    with pytest.raises(DomainError) as refused:
        services.agreement_save_draft(
            dispute=dispute,
            actor=mediator,
            data={"terms": [{**terms[0], "obligee": "respondent"}]},
        )
    assert refused.value.code == "invalid_terms"
