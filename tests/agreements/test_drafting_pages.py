"""The drafting pages: the case panel, the drafting form from a template, the agreement
page with what is missing, open and revise buttons, and the visible difference between
versions."""

from __future__ import annotations

import pytest
from django.utils import translation

from agreements import services
from agreements.diff import diff_html
from agreements.models import Agreement
from odr.models import AuditEvent
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(client):
    """Messages are asserted in their English source; Chinese is the default language."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _as(client, email):
    client.force_login(factories.demo_user(email))
    return client


def _form_post(dispute, **overrides):
    """The drafting form's POST body for the given case, with one term and each party's
    particulars (party_<id>_<field>)."""
    from odr.models import Dispute

    data = factories.complete_agreement_data()
    parties = {}
    for party in Dispute.objects.get(pk=dispute.pk).parties.all():
        address = data["party_details"][party.role]["address"]
        parties.update(
            {
                f"party_{party.pk}_address": address,
                f"party_{party.pk}_ethnicity": party.ethnicity or "汉族",
                f"party_{party.pk}_occupation": party.occupation,
            }
        )
    term = data["terms"][0]
    body = {
        "template": "debt",
        "matter": "civil",
        "facts": data["facts"],
        "disputed_matters": data["disputed_matters"],
        "performance_method": data["performance_method"],
        "performance_place": data["performance_place"],
        **parties,
        "terms-TOTAL_FORMS": "2",
        "terms-INITIAL_FORMS": "0",
        "terms-MIN_NUM_FORMS": "0",
        "terms-MAX_NUM_FORMS": "50",
        "terms-0-kind": "money",
        "terms-0-text": term["text"],
        "terms-0-obligor": "respondent",
        "terms-0-amount": "10000.00",
        "terms-0-due_date": term["due_date"],
        "terms-0-place": "",
        "terms-0-instalments": "",
        "terms-1-kind": "other",
        "terms-1-text": "",
    }
    body.update(overrides)
    return body


def test_the_case_page_offers_the_mediator_to_draft(demo, client):
    dispute = factories.dispute_in_mediation()
    page = _as(client, "mediator@demo.odr").get(f"/disputes/{dispute.pk}/").content.decode()
    assert f"/disputes/{dispute.pk}/agreement/" in page
    page = _as(client, "citizen1@demo.odr").get(f"/disputes/{dispute.pk}/").content.decode()
    assert f"/disputes/{dispute.pk}/agreement/" not in page


def test_the_drafting_page_is_prefilled_from_the_category_template(demo, client):
    dispute = factories.complete_particulars(factories.dispute_in_mediation())
    page = _as(client, "mediator@demo.odr").get(f"/disputes/{dispute.pk}/agreement/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "被申请人于约定期限内向申请人归还借款人民币10,000.00元。" in html
    assert dispute.description in html
    assert "330523***********3" in html  # the applicant's masked ID number, from the record
    other = client.get(f"/disputes/{dispute.pk}/agreement/?template=neighbour").content.decode()
    assert "被申请人停止妨害行为" in other


def test_only_the_mediator_reaches_the_drafting_page(demo, client):
    dispute = factories.dispute_in_mediation()
    for email in ("citizen1@demo.odr", "coordinator@demo.odr"):
        assert _as(client, email).get(f"/disputes/{dispute.pk}/agreement/").status_code == 404
    client.force_login(factories.make_user())
    assert client.get(f"/disputes/{dispute.pk}/agreement/").status_code == 404


def test_saving_the_form_creates_then_versions_the_agreement(demo, client):
    dispute = factories.dispute_in_mediation()
    _as(client, "mediator@demo.odr")
    response = client.post(f"/disputes/{dispute.pk}/agreement/", _form_post(dispute))
    agreement = Agreement.objects.get(dispute=dispute)
    assert response.status_code == 302 and response["Location"] == f"/agreements/{agreement.pk}/"
    assert agreement.version == 1 and len(agreement.terms) == 1
    respondent = dispute.parties.get(role="respondent")
    assert agreement.party_details[f"party:{respondent.pk}"]["address"] == "安吉县孝丰镇三里村8号"
    respondent.refresh_from_db()
    assert respondent.address == "安吉县孝丰镇三里村8号" and respondent.ethnicity == "汉族"
    response = client.post(
        f"/disputes/{dispute.pk}/agreement/",
        _form_post(
            dispute,
            **{
                "terms-0-amount": "8000.00",
                "terms-0-instalments": "5000 2099-01-31\n3000.00 2099-02-28",
            },
        ),
    )
    agreement.refresh_from_db()
    assert agreement.version == 2
    assert agreement.terms[0]["instalments"] == [
        {"amount": "5000.00", "due_date": "2099-01-31"},
        {"amount": "3000.00", "due_date": "2099-02-28"},
    ]


def test_a_bad_instalment_line_is_shown_next_to_the_field(demo, client):
    dispute = factories.dispute_in_mediation()
    _as(client, "mediator@demo.odr")
    response = client.post(
        f"/disputes/{dispute.pk}/agreement/", _form_post(dispute, **{"terms-0-instalments": "soon"})
    )
    assert response.status_code == 200
    assert "Line 1" in response.content.decode() or "第1行" in response.content.decode()
    assert not Agreement.objects.exists()


def test_the_agreement_page_lists_what_is_missing_and_refuses_to_open(demo, client):
    agreement = factories.agreement_draft(performance_method="", party_details={})
    _as(client, "mediator@demo.odr")
    html = client.get(f"/agreements/{agreement.pk}/").content.decode()
    assert 'id="missing"' in html
    response = client.post(f"/agreements/{agreement.pk}/actions/open/", follow=True)
    assert Agreement.objects.get(pk=agreement.pk).status == "draft"
    assert 'class="msg error"' in response.content.decode()


def test_open_and_revise_from_the_agreement_page(demo, client):
    agreement = factories.agreement_draft()
    _as(client, "mediator@demo.odr")
    assert "actions/open/" in client.get(f"/agreements/{agreement.pk}/").content.decode()
    client.post(f"/agreements/{agreement.pk}/actions/open/")
    assert Agreement.objects.get(pk=agreement.pk).status == "signing"
    html = client.get(f"/agreements/{agreement.pk}/").content.decode()
    assert "actions/revise/" in html and "actions/open/" not in html
    client.post(f"/agreements/{agreement.pk}/actions/revise/", {"reason": "补充条款"})
    assert Agreement.objects.get(pk=agreement.pk).status == "draft"
    assert AuditEvent.objects.get(action="agreement.revise").after["reason"] == "补充条款"


def test_a_party_reads_the_agreement_but_has_no_drafting_buttons(demo, client):
    agreement = factories.agreement_draft()
    html = _as(client, "citizen2@demo.odr").get(f"/agreements/{agreement.pk}/").content.decode()
    assert "被申请人向申请人归还借款人民币10,000.00元。" in html
    assert "actions/open/" not in html and '/agreement/"' not in html
    assert client.post(f"/agreements/{agreement.pk}/actions/open/").status_code == 302
    assert Agreement.objects.get(pk=agreement.pk).status == "draft"


def test_the_versions_page_shows_what_changed(demo, client):
    agreement = factories.agreement_draft()
    terms = factories.complete_agreement_data()["terms"]
    terms[0]["text"] = "被申请人向申请人归还借款人民币8,000.00元。"
    services.agreement_save_draft(
        dispute=agreement.dispute,
        actor=factories.demo_user("mediator@demo.odr"),
        data={"terms": terms, "facts": agreement.facts + "被申请人承认借款。"},
    )
    html = (
        _as(client, "citizen1@demo.odr")
        .get(f"/agreements/{agreement.pk}/versions/")
        .content.decode()
    )
    assert "人民币<del>10</del><ins>8</ins>,000.00元" in html
    assert "<ins>被申请人承认借款。</ins>" in html
    assert "Created from the template “Repayment of a private loan”" in html
    first = client.get(f"/agreements/{agreement.pk}/versions/?a=1&b=1").content.decode()
    assert "<ins>" not in first.split('id="diff"')[1]


def _versions_queries(client, agreement) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert client.get(f"/agreements/{agreement.pk}/versions/").status_code == 200
    return len(queries.captured_queries)


def test_the_versions_page_does_not_query_once_per_version(demo, client):
    agreement = factories.agreement_draft()
    mediator = factories.demo_user("mediator@demo.odr")
    viewer = _as(client, "citizen1@demo.odr")
    services.agreement_save_draft(
        dispute=agreement.dispute, actor=mediator, data={"facts": agreement.facts + "一。"}
    )
    few = _versions_queries(viewer, agreement)
    for n in range(4):
        services.agreement_save_draft(
            dispute=agreement.dispute, actor=mediator, data={"facts": agreement.facts + f"{n}。"}
        )
    assert _versions_queries(viewer, agreement) == few


def test_the_difference_escapes_html():
    out = diff_html("<b>旧</b>", "<script>新</script>")
    assert "<script" not in out and "<b>" not in out
    assert (
        out.replace("<del>", "")
        .replace("</del>", "")
        .replace("<ins>", "")
        .replace("</ins>", "")
        .count("&lt;")
        == 2
    )  # the "<" both texts share, each shown once, escaped


def test_agreement_pages_are_not_found_for_strangers(demo, client):
    agreement = factories.agreement_signing()
    client.force_login(factories.make_user())
    for path in ("", "versions/", "sign/", "pdf/"):
        assert client.get(f"/agreements/{agreement.pk}/{path}").status_code == 404
