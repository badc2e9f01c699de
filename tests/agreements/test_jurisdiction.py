"""The competent court for judicial confirmation (CPL 2023 Art. 205; DESIGN.md §3): the
inviting court when a court invited the mediation; otherwise the basic court the parties
choose, of a party's domicile, the property's location or the organisation's location;
the intermediate court when the dispute belongs to one. The first applicant chooses and
the others join; a court that is not a basic court is refused (422 court_not_competent)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from agreements.court import jurisdiction
from agreements.models import ConfirmationRequest
from odr.errors import DomainError
from odr.models import Organisation, Region
from tests import factories
from tests.signing import api_apply, sign_application

pytestmark = pytest.mark.django_db
CR = ConfirmationRequest.Status
Kind = Organisation.Kind


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def places(demo):
    """Another county of 湖州 (长兴县) with its basic court and a township, the city's
    intermediate court (seeded), and a county with no basic court of its own."""
    city = Region.objects.get(code="330500000000")
    changxing = Region.objects.create(
        code="330522000000", name="长兴县", level=Region.Level.COUNTY, parent=city
    )
    township = Region.objects.create(
        code="330522100000", name="雉城街道", level=Region.Level.TOWNSHIP, parent=changxing
    )
    bare = Region.objects.create(
        code="330521000000", name="德清县", level=Region.Level.COUNTY, parent=city
    )
    court = Organisation.objects.create(
        name="长兴县人民法院", kind=Kind.COURT, region=changxing, case_code="浙0522民特"
    )
    # The demo seeds the city's intermediate court.
    intermediate = Organisation.objects.get(kind=Kind.INTERMEDIATE_COURT, region=city)
    return {
        "township": township,
        "bare": bare,
        "court": court,
        "intermediate": intermediate,
        "anji": Organisation.objects.get(kind=Kind.COURT, name="安吉县人民法院"),
    }


def _apply(client, agreement, email, body=None):
    client.force_login(factories.demo_user(email))
    # A party applies by signing the joint application (issue 9, point 5).
    return api_apply(client, agreement.pk, body or {})


def test_by_default_the_court_where_the_organisation_sits(places, client):
    agreement = factories.agreement_in_force()
    body = _apply(client, agreement, "citizen1@demo.odr").json()
    assert body["court"]["id"] == places["anji"].pk
    assert body["basis"] == "organisation" and body["basis_region"] is None


def test_a_domicile_in_another_county_goes_to_that_countys_basic_court(places, client):
    agreement = factories.agreement_in_force()
    first = _apply(
        client,
        agreement,
        "citizen1@demo.odr",
        {"basis": "party_domicile", "region": places["township"].code},
    )
    assert first.status_code == 200, first.content
    assert first.json()["court"] == {"id": places["court"].pk, "name": "长兴县人民法院"}
    assert first.json()["basis"] == "party_domicile"
    assert first.json()["basis_region"] == "330522100000"
    # The other party joins that choice with `{}`; another choice is refused.
    other = _apply(client, agreement, "citizen2@demo.odr", {"basis": "organisation"})
    assert other.status_code == 409 and other.json()["code"] == "court_already_chosen"
    joined = _apply(client, agreement, "citizen2@demo.odr")
    assert joined.json()["status"] == "pending"
    assert joined.json()["court"]["id"] == places["court"].pk
    request = ConfirmationRequest.objects.get()
    assert request.basis == "party_domicile" and request.basis_region == places["township"]
    # The chosen court's clerk sees it; the organisation's court does not.
    client.force_login(factories.make_user(org=places["court"], role="clerk"))
    assert client.get("/api/v1/court/requests").json()["count"] == 1
    client.force_login(factories.demo_user(factories.CLERK))
    assert client.get("/api/v1/court/requests").json()["count"] == 0


def test_the_property_ground_needs_its_place(places, client):
    agreement = factories.agreement_in_force()
    response = _apply(client, agreement, "citizen1@demo.odr", {"basis": "property"})
    assert response.status_code == 422 and response.json()["code"] == "region_required"
    response = _apply(
        client, agreement, "citizen1@demo.odr", {"basis": "property", "region": "999999999999"}
    )
    assert response.status_code == 422 and response.json()["code"] == "invalid_region"
    assert not ConfirmationRequest.objects.exists()


def test_the_referring_court_overrides_every_other_ground(places, client):
    agreement = factories.agreement_in_force()
    dispute = agreement.dispute
    dispute.referring_court = places["court"]
    dispute.save(update_fields=["referring_court"])
    chosen = _apply(
        client,
        agreement,
        "citizen1@demo.odr",
        {"basis": "party_domicile", "region": "330523000000"},
    )
    assert chosen.status_code == 422 and chosen.json()["code"] == "court_not_competent"
    assert "长兴县人民法院" in chosen.json()["detail"]
    body = _apply(client, agreement, "citizen1@demo.odr").json()
    assert body["court"]["id"] == places["court"].pk
    assert body["basis"] == "inviting_court"
    # The page names the inviting court and offers no choice.
    page = client.get(f"/disputes/{dispute.pk}/").content.decode()
    assert "长兴县人民法院" in page and 'name="basis"' not in page


def test_a_claim_at_the_threshold_goes_to_the_intermediate_court(places, client, settings):
    agreement = factories.agreement_in_force()
    dispute = agreement.dispute
    dispute.claim_amount = Decimal("500000000.00")
    dispute.save(update_fields=["claim_amount"])
    body = _apply(client, agreement, "citizen1@demo.odr").json()
    assert body["court"]["id"] == places["intermediate"].pk
    assert body["basis"] == "intermediate"
    # Below the threshold (here lowered by the operator) it is the basic court again.
    settings.ODR_INTERMEDIATE_COURT_THRESHOLD = 600_000_000
    assert jurisdiction.competent_court(dispute).court == places["anji"]
    settings.ODR_INTERMEDIATE_COURT_THRESHOLD = 1_000
    dispute.claim_amount = Decimal("10000.00")
    assert jurisdiction.competent_court(dispute).court == places["intermediate"]
    # A basic court named for an intermediate court's dispute is refused.
    with pytest.raises(DomainError) as refused:
        jurisdiction.competent_court(dispute, court_id=places["anji"].pk)
    assert refused.value.code == "court_not_competent" and refused.value.status == 422


def test_a_court_that_is_not_a_basic_court_is_refused(places, client):
    agreement = factories.agreement_in_force()
    named = _apply(client, agreement, "citizen1@demo.odr", {"court": places["intermediate"].pk})
    assert named.status_code == 422
    assert named.json()["code"] == "court_not_competent"
    assert "湖州市中级人民法院" in named.json()["detail"]
    # A place whose lowest court is the intermediate one has no basic court to go to.
    bare = _apply(
        client,
        agreement,
        "citizen1@demo.odr",
        {"basis": "party_domicile", "region": places["bare"].code},
    )
    assert bare.status_code == 422 and bare.json()["code"] == "court_not_competent"
    # Another basic court without jurisdiction over the place is refused too.
    other = _apply(client, agreement, "citizen1@demo.odr", {"court": places["court"].pk})
    assert other.status_code == 422 and other.json()["code"] == "court_not_competent"
    assert not ConfirmationRequest.objects.exists()
    # Naming the competent court is fine.
    ok = _apply(client, agreement, "citizen1@demo.odr", {"court": places["anji"].pk})
    assert ok.status_code == 200


def test_the_application_page_offers_the_grounds_and_the_first_choice_binds(places, client):
    agreement = factories.agreement_in_force()
    client.force_login(factories.demo_user("citizen1@demo.odr"))
    page = client.get(f"/disputes/{agreement.dispute_id}/").content.decode()
    assert 'name="basis"' in page and 'value="party_domicile"' in page
    assert 'id="competent-court"' in page and "安吉县人民法院" in page
    assert "agreements/court-choice.js" in page and "330522100000" in page
    client.post(
        f"/agreements/{agreement.pk}/confirmation/",
        {"basis": "property", "region": places["township"].code},
    )
    sign_application(agreement=agreement, actor=factories.demo_user("citizen1@demo.odr"))
    request = ConfirmationRequest.objects.get()
    assert request.court == places["court"] and request.basis == "property"
    # The other party sees the choice and joins it; no choice is offered to them.
    client.force_login(factories.demo_user("citizen2@demo.odr"))
    page = client.get(f"/disputes/{agreement.dispute_id}/").content.decode()
    assert "长兴县人民法院" in page and 'name="basis"' not in page
    assert 'id="confirmation-apply"' in page
    sign_application(agreement=agreement, actor=factories.demo_user("citizen2@demo.odr"))
    request.refresh_from_db()
    assert request.status == CR.PENDING and request.court == places["court"]


def test_default_court_is_none_without_any_court(places):
    agreement = factories.agreement_in_force()
    places["anji"].is_active = False
    places["anji"].save(update_fields=["is_active"])
    # Only the city's intermediate court covers the organisation: no basic court.
    assert jurisdiction.default_court(agreement.dispute) is None
    with pytest.raises(DomainError) as refused:
        sign_application(agreement=agreement, actor=factories.demo_user("citizen1@demo.odr"))
    assert refused.value.code == "court_not_competent"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_first_applicant_picks_the_domicile_down_the_region_tree_in_a_browser(
    places, live_server, phone_context
):
    from tests.agreements import browser

    agreement = factories.agreement_in_force()
    page = phone_context.new_page()
    problems = browser.watch(page)
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=login]", "citizen1@demo.odr")
    page.fill("input[name=password]", factories.PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_load_state()
    page.goto(f"{live_server.url}/disputes/{agreement.dispute_id}/")
    # The place is asked only for a party's domicile or the property.
    assert page.locator("#basis-region-field").is_hidden()
    page.check("#basis-party_domicile")
    cascade = page.locator("#basis-region-cascade select")
    for depth, code in enumerate(["330000000000", "330500000000", "330522000000", "330522100000"]):
        cascade.nth(depth).select_option(code)
    assert page.locator("#basis-region").input_value() == "330522100000"
    page.click("#confirmation-apply")
    page.wait_for_load_state()
    # Applying leads to the application to sign, addressed to the court chosen.
    assert "长兴县人民法院" in page.locator("#application").inner_text()
    request = ConfirmationRequest.objects.get()
    assert request.court == places["court"] and request.basis == "party_domicile"
    browser.assert_clean(problems)
