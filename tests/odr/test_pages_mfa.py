"""Staff must set up TOTP when ODR_REQUIRE_STAFF_MFA is on: pages send them to the set-up
page and the API, with a cookie or an X-Session-Token, answers 403 `mfa_required`."""

from __future__ import annotations

import pytest
from allauth.mfa.totp.internal.auth import (
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
    yield_hotp_counters_from_time,
)
from django.urls import reverse

from tests import factories
from tests.factories import demo_user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _mfa_required(settings):
    settings.ODR_REQUIRE_STAFF_MFA = True


def _token(client, email: str) -> str:
    response = client.post(
        "/_allauth/app/v1/auth/login",
        {"email": email, "password": factories.PASSWORD},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    return response.json()["meta"]["session_token"]


def test_a_mediator_without_totp_gets_mfa_required_from_the_api_with_a_session_token(client, demo):
    token = _token(client, "mediator@demo.odr")
    response = client.get("/api/v1/me", HTTP_X_SESSION_TOKEN=token)
    assert response.status_code == 403
    assert response.json()["code"] == "mfa_required"


def test_a_citizen_uses_the_api_with_a_session_token_without_totp(client, demo):
    token = _token(client, "citizen1@demo.odr")
    response = client.get("/api/v1/me", HTTP_X_SESSION_TOKEN=token)
    assert response.status_code == 200
    assert response.json()["email"] == "citizen1@demo.odr"


def test_a_mediator_with_totp_uses_the_api(client, demo):
    mediator = demo_user("mediator@demo.odr")
    secret = generate_totp_secret()
    TOTP.activate(mediator, secret)
    login = client.post(
        "/_allauth/app/v1/auth/login",
        {"email": "mediator@demo.odr", "password": factories.PASSWORD},
        content_type="application/json",
    )
    token = login.json()["meta"]["session_token"]
    code = format_hotp_value(hotp_value(secret, next(yield_hotp_counters_from_time())))
    second = client.post(
        "/_allauth/app/v1/auth/2fa/authenticate",
        {"code": code},
        content_type="application/json",
        HTTP_X_SESSION_TOKEN=token,
    )
    assert second.status_code == 200, second.content
    token = second.json()["meta"]["session_token"]
    assert client.get("/api/v1/me", HTTP_X_SESSION_TOKEN=token).status_code == 200


def test_a_coordinator_without_totp_is_sent_from_the_pages_to_the_totp_set_up(client, demo):
    client.force_login(demo_user("coordinator@demo.odr"))
    response = client.get(reverse("odr:intake"))
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_activate_totp")
    api = client.get("/api/v1/me")
    assert api.status_code == 403 and api.json()["code"] == "mfa_required"
