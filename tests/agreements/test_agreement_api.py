"""The agreement endpoints of CONTRACT §3: who sees what (404), who may do what (403/409),
every action allowed and refused with its status and audit event, and the whole way from
a draft to a sealed agreement in force through the API alone."""

from __future__ import annotations

import hashlib
import subprocess

import pytest
from django.core.cache import cache
from django.utils import translation

from agreements import services
from agreements.models import Agreement, Signature
from odr.models import AuditEvent, Dispute
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(client):
    """Messages are asserted in their English source; Chinese is the default language."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    cache.clear()  # no wrong-password count left over from another test
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _as(client, email):
    client.force_login(factories.demo_user(email))
    return client


def _put(client, dispute_id, body):
    return client.put(
        f"/api/v1/disputes/{dispute_id}/agreement", body, content_type="application/json"
    )


def _post(client, path, body=None):
    return client.post(f"/api/v1{path}", body or {}, content_type="application/json")


def _sign_body(**overrides):
    """Step 1 of signing (CONTRACT §3), with a public key made here."""
    from tests.signing import new_key, public_pem

    body = {
        "password": factories.PASSWORD,
        "consent": True,
        "signature_png": factories.signature_png_b64(),
        "public_key": public_pem(new_key()),
    }
    body.update(overrides)
    return body


def test_the_mediator_creates_the_draft_with_the_contract_fields(demo, client):
    dispute = factories.dispute_in_mediation()
    # The profiles gave addresses and ethnicity at filing: here the parties have none yet.
    dispute.parties.update(address="", ethnicity="")
    response = _put(
        _as(client, "mediator@demo.odr"),
        dispute.pk,
        {
            "facts": "借款一万元未还。",
            "terms": [
                {
                    "text": "被申请人归还一万元",
                    "obligor": "respondent",
                    "amount": 10000,
                    "due_date": "2099-06-30",
                    "place": "调解中心",
                }
            ],
        },
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "draft" and body["version"] == 1 and body["dispute"] == dispute.pk
    assert body["facts"] == "借款一万元未还。"
    assert body["terms"][0]["amount"] == "10000.00" and body["terms"][0]["kind"] == "money"
    assert body["actions"] == ["edit", "open"]
    assert body["signatures"] == [] and body["pdf_sha256"] == ""
    # The contract's fields alone leave the parties' particulars to fill: the draft says so,
    # naming each party and each particular it lacks.
    assert any("particulars of 申请人张三" in m and "住址" in m for m in body["missing"])
    assert any("particulars of 被申请人李四" in m and "民族" in m for m in body["missing"])
    assert client.get(f"/api/v1/disputes/{dispute.pk}").json()["agreement"] == {
        "id": body["id"],
        "status": "draft",
    }


def test_extra_fields_are_accepted_and_validation_errors_are_json(demo, client):
    dispute = factories.complete_particulars(factories.dispute_in_mediation())
    _as(client, "mediator@demo.odr")
    body = _put(client, dispute.pk, factories.complete_agreement_data()).json()
    assert body["missing"] == [] and body["performance_place"] == "安吉县矛盾纠纷调解中心"
    assert (
        body["parties"][0]["id_number"].startswith("330523")
        and "*" in body["parties"][0]["id_number"]
    )
    bad = _put(client, dispute.pk, {"terms": [{"text": "x", "due_date": "tomorrow"}]})
    assert bad.status_code == 422 and bad.json()["code"] == "validation_error"
    bad = _put(client, dispute.pk, {"terms": [{"text": "x", "obligor": "court"}]})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_party_role"


def test_an_agreement_is_not_found_by_whoever_cannot_see_the_case(demo, client):
    agreement = factories.agreement_draft()
    stranger = factories.make_user()
    client.force_login(stranger)
    for path in (f"/api/v1/agreements/{agreement.pk}", f"/api/v1/agreements/{agreement.pk}/pdf"):
        response = client.get(path)
        assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert _post(client, f"/agreements/{agreement.pk}/actions/open").status_code == 404
    assert _post(client, f"/agreements/{agreement.pk}/sign", _sign_body()).status_code == 404
    assert _put(client, agreement.dispute_id, {"facts": "x"}).status_code == 404
    assert client.get("/api/v1/agreements/999999").status_code == 404


def test_anonymous_callers_must_log_in(demo, client):
    agreement = factories.agreement_draft()
    response = client.get(f"/api/v1/agreements/{agreement.pk}")
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("email", "actions"),
    [
        ("mediator@demo.odr", ["edit", "open"]),
        ("citizen1@demo.odr", []),
        ("citizen2@demo.odr", []),
        ("coordinator@demo.odr", []),
    ],
)
def test_actions_in_draft_follow_the_table(demo, client, email, actions):
    agreement = factories.agreement_draft()
    body = _as(client, email).get(f"/api/v1/agreements/{agreement.pk}").json()
    assert body["actions"] == actions


def test_actions_while_signing_follow_the_table(demo, client):
    agreement = factories.agreement_signing()
    expected = {
        "mediator@demo.odr": ["revise"],  # sign only after both parties
        "citizen1@demo.odr": ["sign"],
        "citizen2@demo.odr": ["sign"],
        "coordinator@demo.odr": [],
    }
    for email, actions in expected.items():
        assert (
            _as(client, email).get(f"/api/v1/agreements/{agreement.pk}").json()["actions"]
            == actions
        )
    factories.agreement_sign_as(agreement, "citizen1@demo.odr")
    factories.agreement_sign_as(agreement, "citizen2@demo.odr")
    body = _as(client, "mediator@demo.odr").get(f"/api/v1/agreements/{agreement.pk}").json()
    assert body["actions"] == ["revise", "sign"]
    assert body["awaiting_signatures"] == ["mediator"]
    assert (
        _as(client, "citizen1@demo.odr").get(f"/api/v1/agreements/{agreement.pk}").json()["actions"]
        == []
    )


@pytest.mark.parametrize(
    "email", ["citizen1@demo.odr", "citizen2@demo.odr", "coordinator@demo.odr"]
)
def test_only_the_mediator_opens_and_revises(demo, client, email):
    agreement = factories.agreement_draft()
    response = _post(_as(client, email), f"/agreements/{agreement.pk}/actions/open")
    assert response.status_code == 403 and response.json()["code"] == "action_not_allowed"
    assert _put(client, agreement.dispute_id, {"facts": "改"}).status_code == 403
    services.agreement_open(agreement=agreement, actor=factories.demo_user("mediator@demo.odr"))
    response = _post(client, f"/agreements/{agreement.pk}/actions/revise")
    assert response.status_code == 403
    assert Agreement.objects.get(pk=agreement.pk).status == "signing"


def test_open_then_revise_through_the_api_with_status_and_audit(demo, client):
    agreement = factories.agreement_draft()
    _as(client, "mediator@demo.odr")
    response = _post(client, f"/agreements/{agreement.pk}/actions/open")
    assert response.status_code == 200 and response.json()["status"] == "signing"
    assert AuditEvent.objects.filter(action="agreement.open", object_id=str(agreement.pk)).exists()
    again = _post(client, f"/agreements/{agreement.pk}/actions/open")
    assert again.status_code == 409 and again.json()["code"] == "invalid_status"
    frozen = _put(client, agreement.dispute_id, {"facts": "改"})
    assert frozen.status_code == 409
    response = _post(client, f"/agreements/{agreement.pk}/actions/revise", {"reason": "改金额"})
    assert response.status_code == 200
    assert response.json()["status"] == "draft" and response.json()["version"] == 2
    assert AuditEvent.objects.get(action="agreement.revise").after["reason"] == "改金额"
    again = _post(client, f"/agreements/{agreement.pk}/actions/revise")
    assert again.status_code == 409
    unknown = _post(client, f"/agreements/{agreement.pk}/actions/sign")
    assert unknown.status_code == 404


def test_open_refuses_an_incomplete_draft_naming_what_is_missing(demo, client):
    agreement = factories.agreement_draft(performance_method="", party_details={})
    agreement.dispute.parties.update(address="")  # no profile gave one either
    response = _post(_as(client, "mediator@demo.odr"), f"/agreements/{agreement.pk}/actions/open")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "agreement_incomplete"
    for words in ("method of performance", "particulars of 申请人张三: 住址", "被申请人李四: 住址"):
        assert words in body["detail"]


def test_actions_are_refused_once_the_case_is_closed(demo, client):
    agreement = factories.agreement_draft()
    Dispute.objects.filter(pk=agreement.dispute_id).update(status=Dispute.Status.FAILED)
    response = _post(_as(client, "mediator@demo.odr"), f"/agreements/{agreement.pk}/actions/open")
    assert response.status_code == 409 and response.json()["code"] == "case_not_in_mediation"


def test_sign_endpoint_errors_are_clear_and_record_nothing(demo, client):
    agreement = factories.agreement_signing()
    _as(client, "citizen1@demo.odr")
    v = agreement.version
    cases = [
        (_sign_body(password="wrong", version=v), 403, "wrong_password"),
        (_sign_body(consent=False, version=v), 400, "consent_required"),
        (_sign_body(signature_png="aGVsbG8=", version=v), 400, "invalid_signature_image"),
        (_sign_body(signature_png=None, version=v), 400, "invalid_signature_image"),
        (_sign_body(public_key=None, version=v), 422, "signer_key_required"),
        (_sign_body(), 409, "version_changed"),
    ]
    for body, status, code in cases:
        response = _post(client, f"/agreements/{agreement.pk}/sign", body)
        assert (response.status_code, response.json()["code"]) == (status, code)
    assert not Signature.objects.exists()
    response = _post(
        _as(client, "mediator@demo.odr"),
        f"/agreements/{agreement.pk}/sign",
        _sign_body(version=agreement.version),
    )
    assert response.status_code == 409 and response.json()["code"] == "parties_sign_first"
    response = _post(
        _as(client, "coordinator@demo.odr"), f"/agreements/{agreement.pk}/sign", _sign_body()
    )
    assert response.status_code == 403


def test_pdf_before_signing_is_the_current_unsigned_rendering(demo, client, tmp_path):
    agreement = factories.agreement_draft()
    response = _as(client, "citizen2@demo.odr").get(f"/api/v1/agreements/{agreement.pk}/pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF") and b"/ByteRange" not in response.content
    assert "unsigned" in response["Content-Disposition"]
    path = tmp_path / "draft.pdf"
    path.write_bytes(response.content)
    text = subprocess.run(
        ["pdftotext", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    # The rotated 草稿 watermark: marked as a draft, not to be mistaken for the signed one.
    assert "草" in text and "稿" in text


def test_both_parties_and_the_mediator_sign_through_the_api_and_the_case_settles(demo, client):
    dispute = factories.complete_particulars(factories.dispute_in_mediation())
    _as(client, "mediator@demo.odr")
    agreement_id = _put(client, dispute.pk, factories.complete_agreement_data()).json()["id"]
    assert _post(client, f"/agreements/{agreement_id}/actions/open").status_code == 200
    from tests.signing import api_sign

    version = client.get(f"/api/v1/agreements/{agreement_id}").json()["version"]
    for email in ("citizen2@demo.odr", "citizen1@demo.odr", "mediator@demo.odr"):
        response = api_sign(
            _as(client, email),
            agreement_id,
            password=factories.PASSWORD,
            signature_png=factories.signature_png_b64(),
            version=version,
        )
        assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "signed" and body["effective_at"]
    assert [s["role"] for s in body["signatures"]] == ["respondent", "applicant", "mediator"]
    assert [s["name"] for s in body["signatures"]] == ["李四", "张三", "李调解"]
    assert len(body["pdf_sha256"]) == 64 and body["actions"] == []
    pdf = client.get(f"/api/v1/agreements/{agreement_id}/pdf")
    assert pdf.status_code == 200
    assert hashlib.sha256(pdf.content).hexdigest() == body["pdf_sha256"]
    assert Dispute.objects.get(pk=dispute.pk).status == Dispute.Status.SETTLED
    assert client.get(f"/api/v1/disputes/{dispute.pk}").json()["status"] == "settled"
    again = _post(client, f"/agreements/{agreement_id}/sign", _sign_body())
    assert again.status_code == 409


def test_terms_written_with_missing_keys_still_answer_every_field(demo, client):
    dispute = factories.dispute_in_mediation()
    agreement = factories.agreement_for(dispute, status="signing")
    body = _as(client, "citizen1@demo.odr").get(f"/api/v1/agreements/{agreement.pk}").json()
    act = body["terms"][1]
    assert act["kind"] == "act" and act["amount"] is None and act["instalments"] == []
    assert body["terms"][0]["instalments"][1] == {"amount": "5000.00", "due_date": "2026-12-31"}


def test_an_app_client_signs_with_its_session_token(demo):
    """Other software logs in through allauth's headless app API and signs with the
    X-Session-Token header (CONTRACT §2): no cookie, no CSRF."""
    from django.test import Client

    agreement = factories.agreement_signing()
    app = Client(enforce_csrf_checks=True)
    login = app.post(
        "/_allauth/app/v1/auth/login",
        {"email": "citizen2@demo.odr", "password": factories.PASSWORD},
        content_type="application/json",
    )
    token = login.json()["meta"]["session_token"]
    from tests.signing import api_sign

    client = Client(enforce_csrf_checks=True, HTTP_X_SESSION_TOKEN=token)
    response = api_sign(
        client,
        agreement.pk,
        password=factories.PASSWORD,
        signature_png=factories.signature_png_b64(),
        version=agreement.version,
    )
    assert response.status_code == 200, response.content
    assert [s["role"] for s in response.json()["signatures"]] == ["respondent"]
