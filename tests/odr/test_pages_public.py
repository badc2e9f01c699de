"""The public pages, the site layout around allauth's pages, the language switch, the
profile and the statistics page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from odr.models import Profile
from tests import factories
from tests.factories import demo_user

pytestmark = pytest.mark.django_db


def test_the_home_page_explains_the_platform_in_chinese_by_default(client, demo):
    page = client.get("/").content.decode()
    assert '<html lang="zh-hans">' in page
    assert "不打官司，也能化解纠纷" in page
    assert 'href="/disputes/new/"' in page and 'href="/accounts/login/"' in page


def test_the_language_switch_shows_english(client, demo):
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302
    page = client.get("/").content.decode()
    assert '<html lang="en">' in page
    assert "Settle a dispute without going to court" in page
    assert "不打官司" not in page


@pytest.mark.parametrize(
    "path", ["/accounts/login/", "/accounts/signup/", "/accounts/password/reset/"]
)
def test_the_account_pages_use_the_site_layout(client, demo, path):
    page = client.get(path).content.decode()
    assert 'class="site-header"' in page
    assert 'class="auth"' in page
    assert "/static/frontend/site.css" in page


def test_the_totp_set_up_page_uses_the_site_layout(client, demo):
    client.force_login(demo_user("mediator@demo.odr"))
    # allauth asks for the password again before two-factor set-up, in our layout too.
    reauth = client.get(reverse("account_reauthenticate")).content.decode()
    assert 'class="site-header"' in reauth
    client.post(reverse("account_reauthenticate"), {"password": factories.PASSWORD})
    response = client.get(reverse("mfa_activate_totp"))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'class="site-header"' in page
    assert 'name="code"' in page


@pytest.mark.parametrize("path", ["/profile/", "/disputes/", "/disputes/new/", "/intake/"])
def test_personal_pages_send_a_visitor_to_the_login_page(client, demo, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={path}"


def test_the_navigation_follows_the_role(client, demo):
    client.force_login(demo_user("citizen1@demo.odr"))
    citizen = client.get("/").content.decode()
    assert 'href="/intake/"' not in citizen and 'href="/court/"' not in citizen
    client.force_login(demo_user("coordinator@demo.odr"))
    assert 'href="/intake/"' in client.get("/").content.decode()
    client.force_login(demo_user("clerk@demo.odr"))
    assert 'href="/court/"' in client.get("/").content.decode()


def test_the_profile_saves_a_valid_id_number_and_switches_the_language(client, demo):
    user = factories.make_user("new@example.com")
    client.force_login(user)
    valid = demo_user("citizen1@demo.odr").profile.id_number
    response = client.post(
        "/profile/",
        {"real_name": "王五", "phone": "13700000000", "id_number": valid, "language": "en"},
    )
    assert response.status_code == 302
    profile = Profile.objects.get(user=user)
    assert (profile.real_name, profile.id_number, profile.language) == ("王五", valid, "en")
    page = client.get("/profile/").content.decode()
    assert '<html lang="en">' in page
    assert f'value="{valid}"' in page  # the owner sees it in full


def test_a_bad_id_number_is_shown_at_its_field_and_nothing_is_saved(client, demo):
    user = factories.make_user("new@example.com", name="原名")
    client.force_login(user)
    response = client.post(
        "/profile/",
        {
            "real_name": "王五",
            "phone": "",
            "id_number": "330523198001011230",
            "language": "zh-hans",
        },
    )
    assert response.status_code == 400
    assert list(response.context["form"].errors) == ["id_number"]
    assert 'value="王五"' in response.content.decode()  # what was typed is kept
    assert Profile.objects.get(user=user).real_name == "原名"


def test_the_statistics_page_draws_the_figures_as_charts(client, demo):
    for _n in range(5):
        factories.file_dispute()
    for _n in range(5):
        factories.file_dispute(category="neighbour", region_code="330523101201")
    factories.dispute_in_mediation()  # an eleventh, in mediation
    response = client.get("/stats/")
    assert response.status_code == 200
    page = response.content.decode()
    assert '<strong id="kpi-received">11</strong>' in page
    assert page.count('<rect class="received"') == 2 + 2  # two categories, two places
    assert "民间借贷与债务" in page and "天荒坪镇" in page
    assert "&lt;5" not in page  # every figure here rests on five cases or more


def test_logging_in_applies_the_language_chosen_in_the_profile(client, demo):
    Profile.objects.filter(user=demo_user("citizen1@demo.odr")).update(language="en")
    response = client.post(
        "/accounts/login/", {"login": "citizen1@demo.odr", "password": factories.PASSWORD}
    )
    assert response.cookies["django_language"].value == "en"
    assert '<html lang="en">' in client.get("/").content.decode()
