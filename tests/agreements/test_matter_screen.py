"""The Art. 355 screen (issue 8): people's mediation refuses only what the law reserves
(marriage, adoption, parentage and other status relations); title to property or to
intellectual property, bankruptcy and the like may be mediated, but `confirmation_bar`
tells the parties, on the agreement's page and before anyone applies, that a court would
not confirm the result, whether the matter field or the wording says so. The drafting
templates write no title confirmation."""

from __future__ import annotations

import re

import pytest
from django.utils import translation

from agreements import services
from agreements.content_check import (
    confirmation_bar,
    non_mediable_reason,
    title_wording,
)
from agreements.drafting_templates import TEMPLATES, initial_draft
from agreements.models import Agreement
from odr.errors import DomainError
from odr.models import Party
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def mediator(demo):
    return factories.demo_user("mediator@demo.odr")


@pytest.fixture
def dispute(demo):
    return factories.dispute_in_mediation()


def _with_term(text: str) -> list[dict]:
    return factories.complete_agreement_data()["terms"] + [{"text": text, "kind": "other"}]


HOUSE = "位于安吉县递铺街道胜利西路1号的房屋归申请人所有。"


# --- what mediation refuses -------------------------------------------------------------


def test_divorce_is_refused_from_mediation(dispute, mediator):
    agreement = factories.agreement_draft(dispute, matter=Agreement.Matter.DIVORCE)
    assert "Divorce" in non_mediable_reason(agreement)
    with pytest.raises(DomainError) as refused:
        services.agreement_open(agreement=agreement, actor=mediator)
    assert refused.value.code == "matter_not_mediable"
    assert Agreement.objects.get(pk=agreement.pk).status == Agreement.Status.DRAFT
    # Nor can the court confirm it, should such an agreement exist.
    assert "status relation" in confirmation_bar(agreement)


@pytest.mark.parametrize("words", ["双方自愿解除婚姻关系", "法院准予离婚", "确认亲子关系"])
def test_a_status_relation_in_the_terms_is_refused(dispute, mediator, words):
    agreement = factories.agreement_draft(dispute, terms=_with_term(f"{words}。"))
    with pytest.raises(DomainError) as refused:
        services.agreement_open(agreement=agreement, actor=mediator)
    assert refused.value.code == "matter_not_mediable"


def test_a_divorce_told_in_the_facts_does_not_stop_a_property_settlement(dispute, mediator):
    facts = "双方于2020年协议离婚，离婚后就共同借款的偿还发生争议。"
    agreement = factories.agreement_draft(dispute, facts=facts)
    assert non_mediable_reason(agreement) is None
    agreement = services.agreement_open(agreement=agreement, actor=mediator)
    assert agreement.status == Agreement.Status.SIGNING


# --- mediable, but not confirmable ------------------------------------------------------


def test_a_house_given_to_a_party_is_mediable_but_not_confirmable(dispute, mediator, client):
    agreement = factories.agreement_draft(dispute, terms=_with_term(HOUSE))
    assert agreement.matter == Agreement.Matter.CIVIL
    assert non_mediable_reason(agreement) is None
    bar = confirmation_bar(agreement)
    assert bar and "归申请人所有" in bar and "Art. 355" in bar and "title to property" in bar
    agreement = services.agreement_open(agreement=agreement, actor=mediator)
    assert agreement.status == Agreement.Status.SIGNING

    # The agreement's page shows it before anyone applies, to the parties and the mediator.
    for email in ("citizen1@demo.odr", "mediator@demo.odr"):
        client.force_login(factories.demo_user(email))
        page = client.get(f"/agreements/{agreement.pk}/").content.decode()
        assert 'id="confirmation-bar"' in page and "归申请人所有" in page
    body = client.get(f"/api/v1/agreements/{agreement.pk}").json()
    assert body["confirmation_bar"] == bar and body["not_mediable"] is None


def test_the_bar_is_shown_in_chinese(dispute, client):
    agreement = factories.agreement_draft(dispute, terms=_with_term(HOUSE))
    client.force_login(factories.demo_user("citizen1@demo.odr"))
    page = client.get(
        f"/agreements/{agreement.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans"
    ).content.decode()
    assert "人民法院不予受理司法确认申请" in page and "第三百五十五条" in page


def test_a_civil_agreement_without_title_wording_has_no_bar(dispute, client):
    agreement = factories.agreement_draft(dispute)
    assert confirmation_bar(agreement) is None
    client.force_login(factories.demo_user("citizen1@demo.odr"))
    page = client.get(f"/agreements/{agreement.pk}/").content.decode()
    assert 'id="confirmation-bar"' not in page


@pytest.mark.parametrize(
    ("matter", "what"),
    [
        (Agreement.Matter.PROPERTY_TITLE, "title to property"),
        (Agreement.Matter.IP_TITLE, "title to intellectual property"),
        (Agreement.Matter.BANKRUPTCY, "bankruptcy"),
        (Agreement.Matter.SPECIAL_PROCEDURE, "special procedure"),
    ],
)
def test_matters_a_court_will_not_confirm_may_still_be_mediated(dispute, mediator, matter, what):
    agreement = factories.agreement_draft(dispute, matter=matter)
    assert non_mediable_reason(agreement) is None
    assert what in confirmation_bar(agreement)
    agreement = services.agreement_open(agreement=agreement, actor=mediator)
    assert agreement.status == Agreement.Status.SIGNING


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("该房屋所有权归被申请人。", "property"),
        ("争议宅基地使用权归申请人。", "property"),
        ("该地块土地承包经营权归申请人。", "property"),
        ("涉案专利权归申请人。", "ip"),
        ("第123456号商标权归被申请人。", "ip"),
        ("该软件著作权归申请人。", "ip"),
        ("双方确认该车辆的权属为申请人。", "property"),
        ("双方确认涉案专利的权属。", "ip"),
        ("猪圈归申请人所有。", "property"),
    ],
)
def test_title_wording_bars_confirmation_even_when_the_matter_says_civil(dispute, text, kind):
    agreement = factories.agreement_draft(dispute, terms=_with_term(text))
    found = title_wording(agreement)
    assert found is not None and found[0] == kind
    bar = confirmation_bar(agreement)
    assert bar is not None
    assert ("intellectual property" in bar) == (kind == "ip")


@pytest.mark.parametrize(
    "text",
    [
        "被申请人向申请人归还借款人民币10,000.00元。",
        "被申请人归还申请人所有借款。",
        "双方确认以上款项已全部结清。",
        "被申请人向申请人支付补偿款，申请人放弃其他所有请求。",
    ],
)
def test_repayments_and_ordinary_terms_are_no_title(dispute, text):
    agreement = factories.agreement_draft(dispute, terms=_with_term(text))
    assert title_wording(agreement) is None and confirmation_bar(agreement) is None


def test_title_in_the_disputed_matters_bars_confirmation_too(dispute):
    agreement = factories.agreement_draft(
        dispute, disputed_matters="双方就老宅所有权归谁发生争议。"
    )
    assert confirmation_bar(agreement) is not None


# --- the drafting templates --------------------------------------------------------------

TITLE_CLAUSE = re.compile(r"归(?!还)[^。；，,]{0,20}所有|权归|确认[^。]{0,20}(?:权属|界址)")


@pytest.mark.parametrize("code", sorted(TEMPLATES))
def test_no_template_writes_a_title_confirmation(dispute, code):
    draft = initial_draft(dispute, template=code)
    agreement = Agreement(dispute=dispute, **{k: v for k, v in draft.items()})
    text = "\n".join([draft["disputed_matters"], draft["performance_method"]])
    text += "\n".join(t["text"] for t in draft["terms"])
    assert not TITLE_CLAUSE.search(text), text
    assert title_wording(agreement) is None
    assert non_mediable_reason(agreement) is None
    assert confirmation_bar(agreement) is None


def test_the_land_template_agrees_on_use_markers_and_compensation(dispute):
    draft = initial_draft(dispute, template="land")
    text = "".join(t["text"] for t in draft["terms"])
    assert "界桩" in text and "补偿" in text and "恢复土地原状" in text
    assert "划定界址" not in text and "确认" not in text
    assert any(t["kind"] == "money" for t in draft["terms"])


def test_templates_name_an_organisation_respondent_and_its_representative(dispute):
    Party.objects.filter(pk=dispute.respondent.pk).update(
        kind=Party.Kind.ORGANISATION,
        name="安吉县某某医院",
        representative="王五",
        representative_title="院长",
    )
    draft = initial_draft(dispute, template="medical")
    texts = [t["text"] for t in draft["terms"]]
    assert texts[0].startswith("被申请人安吉县某某医院一次性补偿申请人张三人民币")
    assert any("法定代表人（主要负责人）王五（院长）" in t for t in texts)
    assert "（医疗机构）" not in "".join(texts)
    assert texts[-1].startswith("本协议履行完毕后")  # the closing clause stays last
    # A natural person as respondent: no organisation clause, no "（物业服务企业）".
    Party.objects.filter(pk=dispute.respondent.pk).update(kind=Party.Kind.PERSON, name="李四")
    texts = [t["text"] for t in initial_draft(dispute, template="property")["terms"]]
    assert texts[0] == "被申请人李四完成约定的维修事项。"
    assert not any("法定代表人" in t for t in texts)
