"""How API clients authenticate (CONTRACT §2): allauth's headless app client with
X-Session-Token, and the browser's cookie session with CSRF."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client

from odr.models import Dispute
from tests import factories
from tests.odr.api_support import NEW_DISPUTE, assert_error, post

pytestmark = pytest.mark.django_db

PASSWORD = "a-Long-and-Unusual-pass-2026"


def app_login(client: Client, email: str, password: str):
    return post(client, "/_allauth/app/v1/auth/login", {"email": email, "password": password})


def test_app_signup_then_login_gives_a_session_token_that_works_on_the_api(demo, settings):
    # Development: e-mail verification is optional, a fresh signup can use the API at once.
    settings.ODR_EMAIL_VERIFICATION_MANDATORY = False
    client = Client()
    signup = post(
        client, "/_allauth/app/v1/auth/signup", {"email": "new@example.com", "password": PASSWORD}
    )
    assert signup.status_code == 200, signup.content
    assert signup.json()["meta"]["session_token"]

    login = app_login(Client(), "new@example.com", PASSWORD)
    assert login.status_code == 200, login.content
    token = login.json()["meta"]["session_token"]

    me = Client().get("/api/v1/me", HTTP_X_SESSION_TOKEN=token)
    assert me.status_code == 200
    assert me.json()["email"] == "new@example.com"
    assert me.json()["roles"] == ["citizen"]

    # The token files a dispute without any cookie or CSRF token, once the account has
    # given its real name and resident ID number (422 identity_required before).
    api = Client(enforce_csrf_checks=True)
    response = post(api, "/api/v1/disputes", NEW_DISPUTE, HTTP_X_SESSION_TOKEN=token)
    assert response.status_code == 422, response.content
    assert response.json()["code"] == "identity_required"
    factories.with_identity(get_user_model().objects.get(email="new@example.com"))
    response = post(api, "/api/v1/disputes", NEW_DISPUTE, HTTP_X_SESSION_TOKEN=token)
    assert response.status_code == 201, response.content


def test_in_production_a_fresh_signup_must_verify_its_email_first(demo, settings):
    settings.ODR_EMAIL_VERIFICATION_MANDATORY = True
    signup = post(
        Client(),
        "/_allauth/app/v1/auth/signup",
        {"email": "unverified@example.com", "password": PASSWORD},
    )
    assert signup.status_code == 401
    flows = {f["id"]: f for f in signup.json()["data"]["flows"]}
    assert flows["verify_email"].get("is_pending") is True
    # The token only carries the pending verification: it is not a login.
    meta = signup.json()["meta"]
    assert meta["is_authenticated"] is False
    assert_error(
        Client().get("/api/v1/me", HTTP_X_SESSION_TOKEN=meta["session_token"]),
        401,
        "unauthenticated",
    )


def test_a_demo_account_logs_in_with_the_app_client(demo):
    login = app_login(Client(), "mediator@demo.odr", "odr-demo-2026")
    assert login.status_code == 200, login.content
    token = login.json()["meta"]["session_token"]
    body = Client().get("/api/v1/me", HTTP_X_SESSION_TOKEN=token).json()
    assert body["roles"] == ["citizen", "mediator"]


def test_a_wrong_password_gives_no_token(demo):
    login = app_login(Client(), "citizen1@demo.odr", "wrong-password")
    assert login.status_code == 400
    assert "session_token" not in login.json().get("meta", {})


def test_a_made_up_session_token_is_refused(demo):
    assert_error(Client().get("/api/v1/me", HTTP_X_SESSION_TOKEN="made-up"), 401, "unauthenticated")


def test_a_logged_out_token_stops_working(demo):
    token = app_login(Client(), "citizen1@demo.odr", "odr-demo-2026").json()["meta"][
        "session_token"
    ]
    assert Client().get("/api/v1/me", HTTP_X_SESSION_TOKEN=token).status_code == 200
    logout = Client().delete("/_allauth/app/v1/auth/session", HTTP_X_SESSION_TOKEN=token)
    assert logout.status_code == 401
    assert_error(Client().get("/api/v1/me", HTTP_X_SESSION_TOKEN=token), 401)


def test_a_browser_session_reads_without_csrf_but_must_send_it_to_write(demo):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(factories.demo_user("citizen1@demo.odr"))
    assert browser.get("/api/v1/me").status_code == 200

    refused = post(browser, "/api/v1/disputes", NEW_DISPUTE)
    assert_error(refused, 403)
    assert Dispute.objects.count() == 0

    secret = _get_new_csrf_string()
    browser.cookies["csrftoken"] = secret
    accepted = post(browser, "/api/v1/disputes", NEW_DISPUTE, HTTP_X_CSRFTOKEN=secret)
    assert accepted.status_code == 201, accepted.content
    assert Dispute.objects.count() == 1


def test_a_csrf_token_that_does_not_match_the_cookie_is_refused(demo):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(factories.demo_user("citizen1@demo.odr"))
    browser.cookies["csrftoken"] = _get_new_csrf_string()
    refused = post(
        browser, "/api/v1/disputes", NEW_DISPUTE, HTTP_X_CSRFTOKEN=_get_new_csrf_string()
    )
    assert_error(refused, 403)
    assert Dispute.objects.count() == 0


def test_staff_without_totp_are_stopped_on_the_api_when_mfa_is_required(demo, settings):
    settings.ODR_REQUIRE_STAFF_MFA = True
    token = app_login(Client(), "mediator@demo.odr", "odr-demo-2026").json()["meta"][
        "session_token"
    ]
    assert_error(Client().get("/api/v1/me", HTTP_X_SESSION_TOKEN=token), 403, "mfa_required")
    cookie = Client()
    cookie.force_login(factories.demo_user("mediator@demo.odr"))
    assert_error(cookie.get("/api/v1/disputes"), 403, "mfa_required")
    # Citizens are not asked for TOTP.
    citizen = Client()
    citizen.force_login(factories.demo_user("citizen1@demo.odr"))
    assert citizen.get("/api/v1/me").status_code == 200


def test_an_app_token_is_looked_up_once_per_api_request_under_the_two_factor_rule(demo, settings):
    # The two-factor gate reads the token's session and user before the view; the API's
    # authentication must take them from there, not read them again (issue 14): the
    # session and user reads are those of one lookup, as when the rule is off.
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    token = app_login(Client(), "citizen1@demo.odr", "odr-demo-2026").json()["meta"][
        "session_token"
    ]

    def session_and_user_reads() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as queries:
            me = Client().get("/api/v1/me", HTTP_X_SESSION_TOKEN=token)
        assert me.status_code == 200 and me.json()["email"] == "citizen1@demo.odr"
        reads = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT")]
        return (
            sum('FROM "django_session"' in sql for sql in reads),
            sum('FROM "auth_user"' in sql for sql in reads),
        )

    settings.ODR_REQUIRE_STAFF_MFA = False
    without_the_rule = session_and_user_reads()
    settings.ODR_REQUIRE_STAFF_MFA = True
    assert session_and_user_reads() == without_the_rule
    assert without_the_rule[1] == 1
    # An unknown token is still refused.
    assert_error(Client().get("/api/v1/me", HTTP_X_SESSION_TOKEN="no-such-token"), 401)
