"""What the demo walk-through found, kept fixed: every role can get from page to page
without typing an address, and the case page does not greet anyone with an open form for
an irreversible step."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def page(email: str, path: str) -> str:
    client = Client()
    client.force_login(factories.demo_user(email))
    response = client.get(path)
    assert response.status_code == 200, (email, path, response.status_code)
    return response.content.decode()


def details_tag(html: str, action: str) -> str:
    match = re.search(rf'<details[^>]*id="action-{action}"[^>]*>', html)
    assert match, f"no form for {action}"
    return match.group(0)


def test_the_case_page_does_not_open_the_withdraw_or_end_mediation_form_by_itself(demo):
    dispute = factories.dispute_in_mediation()
    url = reverse("odr:dispute_detail", args=[dispute.pk])
    # The applicant's only action is to withdraw, the mediator's to end the mediation:
    # both stay folded until asked for.
    assert " open" not in details_tag(page("citizen1@demo.odr", url), "withdraw")
    assert " open" not in details_tag(page("mediator@demo.odr", url), "fail")


def test_a_mediator_gets_from_the_case_page_to_scheduling_drafting_and_the_room(demo):
    from sessions import services as session_services

    dispute = factories.dispute_in_mediation()
    session = session_services.session_schedule(
        dispute=dispute,
        actor=factories.demo_user("mediator@demo.odr"),
        scheduled_at=timezone.now() + timedelta(hours=1),
    )
    html = page("mediator@demo.odr", reverse("odr:dispute_detail", args=[dispute.pk]))
    assert f'href="/disputes/{dispute.pk}/sessions/new/"' in html
    assert f'href="/disputes/{dispute.pk}/agreement/"' in html
    assert f'href="/sessions/{session.pk}/room/"' in html


def test_a_party_gets_from_the_case_page_to_signing(demo):
    agreement = factories.agreement_signing()
    html = page("citizen2@demo.odr", reverse("odr:dispute_detail", args=[agreement.dispute_id]))
    assert f'href="/agreements/{agreement.pk}/sign/"' in html


def test_the_clerk_gets_from_the_case_page_and_the_queue_to_the_request_and_its_packet(demo):
    request = factories.confirmation_pending()
    dispute = request.agreement.dispute
    court_page = reverse("court:request", args=[request.pk])
    case_url = reverse("odr:dispute_detail", args=[dispute.pk])

    html = page("clerk@demo.odr", case_url)
    assert f'href="{court_page}"' in html
    # A party sees the case but has nothing to do in the court portal.
    assert f'href="{court_page}"' not in page("citizen1@demo.odr", case_url)

    assert f'href="{court_page}"' in page("clerk@demo.odr", reverse("court:queue"))
    packet = page("clerk@demo.odr", court_page)
    assert f"/api/v1/agreements/{request.agreement_id}/evidence-package.zip" in packet


def test_the_case_timeline_tells_the_performance_schedule_in_words(demo):
    from agreements.court import services as court_services
    from odr.models import AuditEvent

    request = factories.confirmation_pending()
    # The obligations are listed once the agreement is in force (by a task, or when the
    # case is first shown).
    court_services.performance_schedule(agreement=request.agreement)
    assert AuditEvent.objects.filter(action="performance.schedule").exists()
    html = page(
        "citizen1@demo.odr", reverse("odr:dispute_detail", args=[request.agreement.dispute_id])
    )
    assert "performance.schedule" not in html
    assert "平台已列出协议约定的履行事项。" in html


def test_the_court_queue_marks_the_current_filter_like_the_case_list(demo):
    # Filter pills styled as buttons had dark text on the brand red and a 44px box with
    # the label stuck to its top; they are the site's plain filter links now.
    factories.confirmation_pending()
    html = page("clerk@demo.odr", reverse("court:queue") + "?status=pending")
    nav = re.search(r'<nav class="filters".*?</nav>', html, re.S).group(0)
    assert "button" not in nav
    current = re.findall(r'<a href="([^"]*)"\s+aria-current="true"', nav)
    assert current == ["?status=pending"], nav


def test_the_demo_court_staff_has_a_person_s_name_for_the_ruling_s_sign_off(demo):
    # The ruling is signed off "审判员　<name>": a title in the name printed
    # "审判员　赵书记员" (judge Clerk Zhao) on the demo ruling.
    name = factories.demo_user("clerk@demo.odr").profile.real_name
    assert name and not any(title in name for title in ("书记员", "审判员", "法官"))
