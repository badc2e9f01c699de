"""Filing through the page: good input files a dispute with its evidence; bad input keeps
what was typed, shows the error next to its field and saves nothing."""

from __future__ import annotations

import io

import pytest
from django.core import mail
from django.urls import reverse

from odr.models import AuditEvent, Dispute, Evidence
from tests.factories import demo_user

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def citizen(demo, client):
    client.force_login(demo_user("citizen1@demo.odr"))
    return client


def _file(content: bytes, name: str) -> io.BytesIO:
    f = io.BytesIO(content)
    f.name = name
    return f


def _form(**overrides) -> dict:
    data = {
        "category": "debt",
        "region": "330523000000",
        "title": "借款一万元未还",
        "description": "2025年3月借给李四一万元，至今未还。",
        "request": "归还借款。",
        "claim_amount": "10000",
        "respondent_name": "李四",
        "respondent_email": "citizen2@demo.odr",
        "respondent_phone": "13800000002",
    }
    data.update(overrides)
    return data


def _stored_files(media) -> list:
    return [p for p in media.rglob("*") if p.is_file()] if media.exists() else []


def test_the_filing_page_needs_a_login(demo, client):
    response = client.get(reverse("odr:dispute_new"))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_filing_page_offers_categories_with_hints_and_every_region_without_javascript(
    citizen,
):
    page = citizen.get(reverse("odr:dispute_new")).content.decode()
    assert '<option value="debt">' in page
    assert 'id="category-hint-data"' in page
    for code in ("330000000000", "330523000000", "330523101201"):  # province to village
        assert f'<option value="{code}">' in page
    assert "multiple" in page.split('name="evidence"')[1].split(">")[0]
    assert 'id="upload-bar"' in page


def test_a_citizen_files_a_dispute_with_two_evidence_files(
    citizen, media, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = citizen.post(
            reverse("odr:dispute_new"),
            {**_form(), "evidence": [_file(PDF, "借条.pdf"), _file(PNG, "转账截图.png")]},
        )
    dispute = Dispute.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("odr:dispute_detail", args=[dispute.pk])
    assert dispute.status == Dispute.Status.FILED
    assert dispute.organisation.name == "安吉县社会矛盾纠纷调处化解中心"
    assert str(dispute.claim_amount) == "10000.00"
    assert dispute.request == "归还借款。"
    assert sorted(Evidence.objects.values_list("filename", flat=True)) == [
        "借条.pdf",
        "转账截图.png",
    ]
    assert len(_stored_files(media)) == 2
    assert [m.to for m in mail.outbox] == [["citizen2@demo.odr"]]
    assert "/invitations/" in mail.outbox[0].body


def test_the_script_gets_json_back_with_the_case_address(citizen, media):
    response = citizen.post(
        reverse("odr:dispute_new"),
        {**_form(), "evidence": [_file(PDF, "a.pdf")]},
        HTTP_X_REQUESTED_WITH="XMLHttpRequest",
    )
    assert response.status_code == 201
    assert response.json() == {
        "redirect": reverse("odr:dispute_detail", args=[Dispute.objects.get().pk])
    }


def test_one_bad_file_refuses_the_whole_filing_and_keeps_the_typed_input(citizen, media):
    response = citizen.post(
        reverse("odr:dispute_new"),
        {
            **_form(title="保留我的标题"),
            "evidence": [_file(PDF, "好的.pdf"), _file(b"MZ\x90\x00" + b"\x00" * 300, "照片.jpg")],
        },
    )
    assert response.status_code == 400
    assert not Dispute.objects.exists()
    assert not Evidence.objects.exists()
    assert not AuditEvent.objects.filter(action="dispute.file").exists()
    assert _stored_files(media) == []
    page = response.content.decode()
    assert 'value="保留我的标题"' in page
    evidence_error = page.split('data-error-for="evidence">')[1].split("</p>")[0]
    assert evidence_error.strip()  # the message sits next to the evidence field


def test_the_script_gets_the_errors_by_field(citizen, media):
    response = citizen.post(
        reverse("odr:dispute_new"),
        {
            **_form(title="", respondent_email="not-an-email"),
            "evidence": [_file(b"x" * 10, "a.pdf")],
        },
        HTTP_X_REQUESTED_WITH="XMLHttpRequest",
    )
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"title", "respondent_email"}
    assert not Dispute.objects.exists()


def test_filing_against_oneself_is_refused_at_the_respondent_email(citizen, media):
    response = citizen.post(
        reverse("odr:dispute_new"),
        _form(respondent_email="citizen1@demo.odr"),
        HTTP_X_REQUESTED_WITH="XMLHttpRequest",
    )
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["respondent_email"]
    assert not Dispute.objects.exists()


def test_an_unknown_region_and_a_negative_amount_are_shown_at_their_fields(citizen, media):
    response = citizen.post(
        reverse("odr:dispute_new"), _form(region="999999999999", claim_amount="-5")
    )
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"region", "claim_amount"}
    assert not Dispute.objects.exists()


def test_a_file_over_the_size_limit_is_refused(citizen, media, settings):
    settings.ODR_EVIDENCE_MAX_BYTES = 1024
    response = citizen.post(
        reverse("odr:dispute_new"),
        {**_form(), "evidence": [_file(PDF + b"0" * 2048, "big.pdf")]},
        HTTP_X_REQUESTED_WITH="XMLHttpRequest",
    )
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["evidence"]
    assert not Dispute.objects.exists()
    assert _stored_files(media) == []


def test_a_title_of_only_invisible_characters_is_refused_at_the_title(citizen, media):
    """Issue 11, L7: two zero-width spaces are no title."""
    response = citizen.post(reverse("odr:dispute_new"), _form(title="\u200b\u200b"))
    assert response.status_code == 400
    assert list(response.context["form"].errors) == ["title"]
    assert not Dispute.objects.exists()
