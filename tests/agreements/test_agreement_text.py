"""The agreement's texts go through the platform's one cleaner (issue 11, L7): no invisible
or direction-changing character is stored in the facts, the disputed matters, the terms,
the method and place of performance, an address or a reason, so a field cannot look
filled in while empty, nor read differently on a signer's screen than in the document."""

from __future__ import annotations

import pytest
from django.utils import translation

from agreements import services
from agreements.models import Agreement
from odr.errors import DomainError
from odr.models import AuditEvent
from tests import factories
from tests.signing import sign_agreement

pytestmark = pytest.mark.django_db

ZWSP, RLO, PDF_MARK, BOM = "\u200b", "\u202e", "\u202c", "\ufeff"


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def mediator(demo):
    return factories.demo_user("mediator@demo.odr")


def test_every_text_of_the_agreement_is_stored_without_invisible_or_bidi_characters(demo, mediator):
    data = factories.complete_agreement_data()
    data.update(
        facts=f"{BOM}2025年3月借款一万元。{ZWSP}\n至今未还。{RLO}",
        disputed_matters=f"归还{RLO}期限{PDF_MARK}",
        performance_method=f"银行转账{ZWSP}",
        performance_place=f"安吉县\n{RLO}递铺街道",
        party_details={"applicant": {"address": f"胜利西路{RLO}1号"}},
    )
    data["terms"][0]["text"] = f"被申请人归还{RLO}借款10,000.00元"
    data["terms"][0]["place"] = f"递铺{ZWSP}街道"
    agreement = services.agreement_save_draft(
        dispute=factories.dispute_in_mediation(), actor=mediator, data=data
    )
    agreement = Agreement.objects.get(pk=agreement.pk)
    assert agreement.facts == "2025年3月借款一万元。\n至今未还。"  # the line break stays
    assert agreement.disputed_matters == "归还期限"
    assert agreement.performance_method == "银行转账"
    assert agreement.performance_place == "安吉县 递铺街道"  # one line
    assert agreement.party_details["applicant"]["address"] == "胜利西路1号"
    assert agreement.terms[0]["text"] == "被申请人归还借款10,000.00元"
    assert agreement.terms[0]["place"] == "递铺街道"


def test_a_required_text_of_invisible_characters_only_is_empty_and_open_refuses_it(demo, mediator):
    """Issue 11, L7: a field of two U+200B looked filled in and passed; it is empty now,
    and the content check names it as missing, as it does any empty field."""
    data = factories.complete_agreement_data()
    data["facts"] = ZWSP * 2
    agreement = services.agreement_save_draft(
        dispute=factories.dispute_in_mediation(), actor=mediator, data=data
    )
    assert Agreement.objects.get(pk=agreement.pk).facts == ""
    with pytest.raises(DomainError) as refused:
        services.agreement_open(agreement=agreement, actor=mediator)
    assert refused.value.code == "agreement_incomplete"
    assert Agreement.objects.get(pk=agreement.pk).status == Agreement.Status.DRAFT


def test_a_term_of_invisible_characters_only_is_an_empty_row(demo, mediator):
    data = factories.complete_agreement_data()
    data["terms"].append({"text": f"{ZWSP}{RLO}", "kind": "other"})
    agreement = services.agreement_save_draft(
        dispute=factories.dispute_in_mediation(), actor=mediator, data=data
    )
    assert len(Agreement.objects.get(pk=agreement.pk).terms) == 2


def test_the_reason_for_revising_is_cleaned(demo, mediator):
    agreement = factories.agreement_signing()
    services.agreement_revise(agreement=agreement, actor=mediator, reason=f"{RLO}条款有误{ZWSP}")
    assert AuditEvent.objects.get(action="agreement.revise").after["reason"] == "条款有误"


def test_a_typed_name_with_invisible_characters_matches_the_name(demo):
    agreement = factories.agreement_signing()
    sign_agreement(
        agreement=agreement,
        actor=factories.demo_user("citizen2@demo.odr"),
        password=factories.PASSWORD,
        consent=True,
        typed_name=f"李{ZWSP}四",
    )
    assert agreement.signatures.get().method == "typed"
