"""The signing page without a browser: what it asks of whom, typed names, the mediator
last, refusals shown as messages, and the lockout after repeated wrong passwords."""

from __future__ import annotations

import pytest
from allauth.mfa.totp.internal.auth import TOTP
from django.core.cache import cache
from django.utils import translation

from agreements import services
from agreements.models import Agreement, Signature
from odr.errors import DomainError
from odr.models import Dispute
from tests import factories
from tests.signing import api_sign, sign_agreement

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    cache.clear()
    with translation.override("en"):
        yield
    cache.clear()


@pytest.fixture
def signing(demo):
    return factories.agreement_signing()


def _as(client, email):
    client.force_login(factories.demo_user(email))
    return client


def _page(client, agreement):
    return client.get(f"/agreements/{agreement.pk}/sign/").content.decode()


def test_a_party_is_asked_for_the_password_and_a_totp_user_for_the_code(signing, client):
    html = _page(_as(client, "citizen1@demo.odr"), signing)
    assert 'name="password"' in html and 'name="code"' not in html
    assert 'id="signature-pad"' in html and 'name="consent"' in html
    assert "被申请人向申请人归还借款人民币10,000.00元。" in html
    TOTP.activate(factories.demo_user("citizen2@demo.odr"), "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    html = _page(_as(client, "citizen2@demo.odr"), signing)
    assert 'name="code"' in html and 'name="password"' not in html


def test_the_mediator_is_told_to_wait_for_both_parties(signing, client):
    html = _page(_as(client, "mediator@demo.odr"), signing)
    assert 'id="sign-refused"' in html and "mediator signs last" in html
    assert 'id="sign-form"' not in html


def test_a_typed_name_signs_through_the_two_steps_the_page_makes(signing, client):
    """The page's script sends what the form holds through the API's two steps from the
    signer's session (tests/signing.py does what the browser does)."""
    _as(client, "citizen1@demo.odr")
    response = api_sign(
        client,
        signing.pk,
        password=factories.PASSWORD,
        typed_name="张三",
        version=signing.version,
    )
    assert response.status_code == 200, response.content
    assert Signature.objects.get().method == "typed"


def test_a_form_posted_without_the_script_signs_nothing_and_says_why(signing, client):
    _as(client, "citizen1@demo.odr")
    response = client.post(
        f"/agreements/{signing.pk}/sign/",
        {
            "password": factories.PASSWORD,
            "consent": "on",
            "method": "typed",
            "typed_name": "张三",
            "version": signing.version,
        },
    )
    assert response.status_code == 400
    assert "signing needs a current browser with JavaScript" in response.content.decode()
    assert not Signature.objects.exists()


def test_without_consent_the_answer_names_the_consent_and_records_nothing(signing, client):
    _as(client, "citizen1@demo.odr")
    response = api_sign(
        client,
        signing.pk,
        password=factories.PASSWORD,
        consent=False,
        signature_png=factories.signature_png_b64(),
        version=signing.version,
    )
    assert response.status_code == 400
    assert response.json()["code"] == "consent_required"
    assert "Tick the box to confirm" in response.json()["detail"]
    assert not Signature.objects.exists()


def test_the_mediator_signing_last_from_the_page_puts_it_in_force(signing, client):
    factories.agreement_sign_as(signing, "citizen1@demo.odr")
    factories.agreement_sign_as(signing, "citizen2@demo.odr")
    _as(client, "mediator@demo.odr")
    response = api_sign(
        client,
        signing.pk,
        password=factories.PASSWORD,
        signature_png=factories.signature_png_b64(),
        version=signing.version,
    )
    assert response.status_code == 200, response.content
    # Where the page's script lands after step 2.
    landed = client.get(f"/agreements/{signing.pk}/?signed=1").content.decode()
    assert "sealed and in force" in landed
    agreement = Agreement.objects.get(pk=signing.pk)
    assert agreement.status == Agreement.Status.SIGNED
    assert agreement.dispute.status == Dispute.Status.SETTLED
    page = client.get(f"/agreements/{agreement.pk}/").content.decode()
    assert page.count('class="signature-image" src="data:image/png;base64,') == 3
    panel = client.get(f"/disputes/{agreement.dispute_id}/").content.decode()
    assert "In force since" in panel and panel.count("✔") == 3


def test_repeated_wrong_passwords_lock_signing_for_a_while(signing):
    user = factories.demo_user("citizen1@demo.odr")
    for _ in range(services.REAUTH_MAX_FAILURES):
        with pytest.raises(DomainError) as refused:
            sign_agreement(
                agreement=signing,
                actor=user,
                password="guess",
                consent=True,
                signature_png=factories.signature_png_b64(),
            )
        assert refused.value.code == "wrong_password"
    with pytest.raises(DomainError) as refused:
        factories.agreement_sign_as(signing, "citizen1@demo.odr")  # even the right one
    assert refused.value.code == "too_many_attempts" and refused.value.status == 429
    assert not Signature.objects.exists()


def test_a_right_password_clears_earlier_mistakes(signing):
    user = factories.demo_user("citizen1@demo.odr")
    for _ in range(services.REAUTH_MAX_FAILURES - 1):
        with pytest.raises(DomainError):
            services.reauthenticate(user=user, password="guess")
    services.reauthenticate(user=user, password=factories.PASSWORD)
    with pytest.raises(DomainError) as refused:
        services.reauthenticate(user=user, password="guess")
    assert refused.value.code == "wrong_password"
