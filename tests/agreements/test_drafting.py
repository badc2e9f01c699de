"""Drafting the settlement agreement: templates, structured terms, versions, the content
check before `open` and matters that cannot be mediated."""

from __future__ import annotations

import pytest
from django.utils import translation

from agreements import services
from agreements.content_check import missing_elements
from agreements.drafting_templates import TEMPLATES, initial_draft
from agreements.models import Agreement, AgreementVersion
from odr.categories import Category
from odr.errors import DomainError
from odr.models import AuditEvent, Profile
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(client):
    """Messages are asserted in their English source; Chinese is the default language."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def mediator(demo):
    return factories.demo_user("mediator@demo.odr")


@pytest.fixture
def dispute(demo):
    return factories.dispute_in_mediation()


def test_every_category_has_a_drafting_template():
    assert set(TEMPLATES) == set(Category.values)


def test_first_save_creates_the_agreement_from_the_category_template(dispute, mediator):
    agreement = services.agreement_save_draft(dispute=dispute, actor=mediator, data={})
    assert agreement.status == Agreement.Status.DRAFT
    assert agreement.template == "debt"
    assert agreement.facts == dispute.description
    money = [t for t in agreement.terms if t["kind"] == "money"]
    assert money and money[0]["amount"] == "10000.00" and money[0]["obligor"] == "respondent"
    assert "10,000.00" in money[0]["text"]
    assert agreement.performance_method
    assert AgreementVersion.objects.filter(agreement=agreement, number=1).exists()
    assert AuditEvent.objects.filter(
        action="agreement.create", object_id=str(agreement.pk)
    ).exists()


def test_template_prefills_a_due_date_for_obligations_only(dispute):
    draft = initial_draft(dispute)
    for term in draft["terms"]:
        assert bool(term["due_date"]) == (term["kind"] in ("money", "act"))


def test_each_changing_save_is_a_new_version_and_an_unchanged_one_is_not(dispute, mediator):
    agreement = factories.agreement_draft(dispute)
    assert agreement.version == 1  # the template with the complete data over it
    same = services.agreement_save_draft(
        dispute=dispute, actor=mediator, data=factories.complete_agreement_data()
    )
    assert same.version == 1
    changed = services.agreement_save_draft(
        dispute=dispute, actor=mediator, data={"facts": "借款一万元，约定三个月归还。"}
    )
    assert changed.version == 2
    assert list(changed.versions.values_list("number", flat=True)) == [1, 2]
    event = AuditEvent.objects.filter(action="agreement.save").last()
    assert event.after["changed"] == ["facts"] and event.after["version"] == 2


def test_contract_shaped_terms_get_kind_obligee_and_normalised_amounts(dispute, mediator):
    agreement = services.agreement_save_draft(
        dispute=dispute,
        actor=mediator,
        data={
            "facts": "事实",
            "terms": [
                {
                    "text": "支付一万元",
                    "obligor": "respondent",
                    "amount": "10000",
                    "due_date": "2030-01-31",
                    "place": "调解中心",
                },
                {"text": "停止侵害", "obligor": "applicant"},
                {"text": "再无争议"},
            ],
        },
    )
    money, act, other = agreement.terms
    assert (money["kind"], money["obligee"], money["amount"]) == ("money", "applicant", "10000.00")
    assert (act["kind"], act["obligee"]) == ("act", "respondent")
    assert other["kind"] == "other" and other["obligor"] == ""


@pytest.mark.parametrize(
    ("term", "code"),
    [
        ({"text": "x", "amount": "ten"}, "invalid_amount"),
        ({"text": "x", "amount": "-1"}, "invalid_amount"),
        ({"text": "x", "obligor": "court"}, "invalid_party_role"),
        ({"text": "x", "due_date": "31/01/2030"}, "invalid_date"),
        ({"text": "x", "kind": "gift"}, "invalid_terms"),
        ({"text": "x", "obligor": "applicant", "obligee": "applicant"}, "invalid_terms"),
    ],
)
def test_bad_terms_are_refused_with_a_clear_error_and_nothing_saved(dispute, mediator, term, code):
    agreement = factories.agreement_draft(dispute)
    with pytest.raises(DomainError) as refused:
        services.agreement_save_draft(dispute=dispute, actor=mediator, data={"terms": [term]})
    assert refused.value.code == code and refused.value.status == 400
    agreement.refresh_from_db()
    assert agreement.version == 1 and len(agreement.terms) == 2


def test_only_the_cases_mediator_drafts(dispute, demo):
    for email in ("citizen1@demo.odr", "coordinator@demo.odr"):
        with pytest.raises(DomainError) as refused:
            services.agreement_save_draft(
                dispute=dispute, actor=factories.demo_user(email), data={}
            )
        assert refused.value.status == 403
    assert not Agreement.objects.exists()


def test_no_agreement_is_drafted_before_the_case_is_in_mediation(demo, mediator):
    dispute = factories.dispute_awaiting_intake()
    dispute.mediator = mediator  # even a mediator named early cannot draft yet
    dispute.save()
    with pytest.raises(DomainError) as refused:
        services.agreement_save_draft(dispute=dispute, actor=mediator, data={})
    assert refused.value.code == "case_not_in_mediation"


def test_a_complete_draft_has_nothing_missing(dispute):
    assert missing_elements(factories.agreement_draft(dispute)) == []


MISSING_CASES = [
    (
        "applicant_particulars",
        {"party_details": {"respondent": {"address": "孝丰镇"}}},
        "particulars of 申请人张三: 住址",
    ),
    (
        "respondent_particulars",
        {"party_details": {"applicant": {"address": "递铺街道"}}},
        "particulars of 被申请人李四: 住址",
    ),
    ("facts", {"facts": ""}, "main facts"),
    ("disputed_matters", {"disputed_matters": ""}, "disputed matters"),
    ("terms", {"terms": []}, "at least one agreed term"),
    ("performance_method", {"performance_method": ""}, "method of performance"),
    (
        "term_1_due_date",
        {"terms": [{"text": "付款", "kind": "money", "obligor": "respondent", "amount": "5"}]},
        "time limit for performing term 1",
    ),
    (
        "term_1_place",
        {
            "performance_place": "",
            "terms": [
                {
                    "text": "付款",
                    "kind": "money",
                    "obligor": "respondent",
                    "amount": "5",
                    "due_date": "2099-01-01",
                }
            ],
        },
        "place of performance of term 1",
    ),
    (
        "term_1_obligor",
        {"terms": [{"text": "付款", "kind": "act", "due_date": "2099-01-01"}]},
        "who must perform term 1",
    ),
    (
        "term_1_amount",
        {
            "terms": [
                {"text": "付款", "kind": "money", "obligor": "respondent", "due_date": "2099-01-01"}
            ]
        },
        "amount of term 1",
    ),
    (
        "term_1_instalments",
        {
            "terms": [
                {
                    "text": "分期付款",
                    "kind": "money",
                    "obligor": "respondent",
                    "amount": "100",
                    "instalments": [
                        {"amount": "40", "due_date": "2099-01-01"},
                        {"amount": "50", "due_date": "2099-02-01"},
                    ],
                }
            ]
        },
        "instalments of term 1 that add up",
    ),
]


@pytest.mark.parametrize(
    ("code", "change", "words"), MISSING_CASES, ids=[c[0] for c in MISSING_CASES]
)
def test_open_names_each_missing_element(dispute, mediator, code, change, words):
    if code.endswith("_particulars"):
        # Each party's gap is named by the party's record: party_<id>_particulars. The
        # filing copied the profile's address there: a party without one is drafted here.
        party = dispute.parties.get(role=code.removesuffix("_particulars"))
        dispute.parties.filter(pk=party.pk).update(address="")
        code = f"party_{party.pk}_particulars"
    agreement = factories.agreement_draft(dispute, **change)
    assert code in [m.code for m in missing_elements(agreement)]
    with pytest.raises(DomainError) as refused:
        services.agreement_open(agreement=agreement, actor=mediator)
    assert refused.value.code == "agreement_incomplete"
    assert words in refused.value.message
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.DRAFT
    assert not AuditEvent.objects.filter(action="agreement.open").exists()


def test_missing_names_and_id_numbers_come_from_the_parties_identity_records(dispute, mediator):
    agreement = factories.agreement_draft(dispute)
    # The record is the Party row: a profile's later change is not what the check reads.
    Profile.objects.filter(user__email="citizen2@demo.odr").update(id_number="")
    assert missing_elements(agreement) == []
    dispute.parties.filter(role="applicant").update(name="")
    # No ID number, and no sex or birth date recorded apart from it.
    dispute.parties.filter(role="respondent").update(id_number="", sex="", birth_date=None)
    applicant, respondent = dispute.applicant, dispute.respondent
    gaps = {m.code: m.label for m in missing_elements(agreement)}
    assert list(gaps) == [
        f"party_{applicant.pk}_particulars",
        f"party_{respondent.pk}_particulars",
    ]
    assert gaps[f"party_{applicant.pk}_particulars"] == "the particulars of 申请人: 姓名"
    # No ID number: neither sex nor birth date can be read from it.
    assert gaps[f"party_{respondent.pk}_particulars"] == (
        "the particulars of 被申请人李四: 公民身份号码、性别、出生日期"
    )
    valid = Profile.objects.get(user__email="citizen1@demo.odr").id_number
    wrong = valid[:-1] + ("1" if valid[-1] != "1" else "2")  # the check character is off
    dispute.parties.filter(role="respondent").update(id_number=wrong)
    assert missing_elements(agreement)[-1].label == (
        "the particulars of 被申请人李四: 性别、出生日期、有效的公民身份号码"
    )


def test_every_missing_element_is_named_in_one_error(dispute, mediator):
    dispute.parties.update(address="")  # neither the profiles nor the draft gave one
    agreement = factories.agreement_draft(
        dispute,
        facts="",
        disputed_matters="",
        terms=[],
        performance_method="",
        party_details={},
    )
    with pytest.raises(DomainError) as refused:
        services.agreement_open(agreement=agreement, actor=mediator)
    message = refused.value.message
    for words in (
        "particulars of 申请人张三: 住址",
        "particulars of 被申请人李四: 住址",
        "main facts",
        "disputed matters",
        "at least one agreed term",
        "method of performance",
    ):
        assert words in message


@pytest.mark.parametrize(
    "matter", ["personal_status", "adoption", "marriage_validity", "divorce", "parentage"]
)
def test_a_non_mediable_matter_is_refused_by_its_kind(dispute, mediator, matter):
    agreement = factories.agreement_draft(dispute, matter=matter)
    with pytest.raises(DomainError) as refused:
        services.agreement_open(agreement=agreement, actor=mediator)
    assert refused.value.code == "matter_not_mediable"
    assert "marriage, adoption, parentage and other status relations" in refused.value.message


@pytest.mark.parametrize("words", ["确认婚姻无效", "解除收养关系", "变更身份关系"])
def test_a_non_mediable_matter_is_refused_by_its_wording(dispute, mediator, words):
    terms = factories.complete_agreement_data()["terms"] + [{"text": f"双方同意{words}。"}]
    agreement = factories.agreement_draft(dispute, terms=terms)
    with pytest.raises(DomainError) as refused:
        services.agreement_open(agreement=agreement, actor=mediator)
    assert refused.value.code == "matter_not_mediable" and words in refused.value.message
    assert Agreement.objects.get(pk=agreement.pk).status == Agreement.Status.DRAFT


def test_unknown_matter_kind_is_refused_but_divorce_is_a_matter_mediation_refuses(
    dispute, mediator
):
    with pytest.raises(DomainError) as refused:
        factories.agreement_draft(dispute, matter="elopement")
    assert refused.value.code == "invalid_matter"
    # "divorce" is one of the matters now: it may be recorded, and `open` refuses it.
    agreement = factories.agreement_draft(dispute, matter="divorce")
    assert agreement.matter == Agreement.Matter.DIVORCE
    with pytest.raises(DomainError) as refused:
        services.agreement_open(agreement=agreement, actor=mediator)
    assert refused.value.code == "matter_not_mediable"


def test_a_time_limit_already_past_is_named(dispute, mediator):
    terms = [
        {
            "text": "付款",
            "kind": "money",
            "obligor": "respondent",
            "amount": "5",
            "due_date": "2020-01-01",
        }
    ]
    agreement = factories.agreement_draft(dispute, terms=terms)
    assert [m.code for m in missing_elements(agreement)] == ["term_1_due_date_past"]


def test_the_content_check_speaks_chinese_by_default(dispute, mediator):
    dispute.parties.update(address="")
    agreement = factories.agreement_draft(dispute, party_details={}, performance_method="")
    with translation.override("zh-hans"), pytest.raises(DomainError) as refused:
        services.agreement_open(agreement=agreement, actor=mediator)
    assert "协议暂不能发出签署，尚缺" in refused.value.message
    assert "申请人张三的身份信息缺" in refused.value.message and "住址" in refused.value.message
    assert "履行方式" in refused.value.message


def test_an_update_naming_one_party_keeps_the_others_address(dispute, mediator):
    agreement = factories.agreement_draft(dispute)
    agreement = services.agreement_save_draft(
        dispute=dispute,
        actor=mediator,
        data={"party_details": {"applicant": {"address": "递铺街道新址2号"}}},
    )
    assert agreement.party_details == {
        "applicant": {"address": "递铺街道新址2号"},
        "respondent": {"address": "安吉县孝丰镇三里村8号"},
    }
    # The one source of the particulars is the party's record (the Party row).
    assert dispute.parties.get(role="applicant").address == "递铺街道新址2号"
    assert dispute.parties.get(role="respondent").address == "安吉县孝丰镇三里村8号"
    assert "parties" in AuditEvent.objects.filter(action="agreement.save").last().after["changed"]


def test_a_stranger_is_refused_before_the_input_is_even_read(dispute, demo):
    with pytest.raises(DomainError) as refused:
        services.agreement_save_draft(
            dispute=dispute,
            actor=factories.demo_user("citizen1@demo.odr"),
            data={"terms": "not a list"},
        )
    assert refused.value.status == 403
