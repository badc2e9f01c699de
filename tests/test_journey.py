"""The whole life of a case, through the public JSON API only (CONTRACT §3), with the demo
accounts: filing, invitation by e-mail, intake, a session and its ticket, the agreement
drafted, opened and signed by all three, the sealed PDF verified (and a changed byte
refused), the joint application for judicial confirmation, docketed by the court's clerk
under the court's number and ruled on by its judge, and the hash-chained audit trail that
records it all (and notices a raw-SQL edit)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
from datetime import timedelta
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone

from odr.models import AuditEvent
from tests import factories

pytestmark = pytest.mark.django_db

PASSWORD = factories.PASSWORD


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


class Api:
    """One API client of CONTRACT §2: logs in with the allauth app client and sends the
    session token on every call, never a cookie."""

    def __init__(self, email: str) -> None:
        login = Client().post(
            "/_allauth/app/v1/auth/login",
            json.dumps({"email": email, "password": PASSWORD}),
            content_type="application/json",
        )
        assert login.status_code == 200, login.content
        self.token = login.json()["meta"]["session_token"]
        self.email = email

    def _client(self) -> Client:
        # A fresh client per call: nothing may ride on a cookie.
        return Client(enforce_csrf_checks=True)

    def get(self, path: str, **extra: Any):
        return self._client().get(path, HTTP_X_SESSION_TOKEN=self.token, **extra)

    def post(self, path: str, data: Any = None):
        return self._client().post(
            path,
            json.dumps(data if data is not None else {}),
            content_type="application/json",
            HTTP_X_SESSION_TOKEN=self.token,
        )

    def put(self, path: str, data: Any):
        return self._client().put(
            path, json.dumps(data), content_type="application/json", HTTP_X_SESSION_TOKEN=self.token
        )


def ok(response, status: int = 200) -> Any:
    assert response.status_code == status, (response.status_code, response.content[:500])
    return (
        response.json()
        if response.get("Content-Type", "").startswith("application/json")
        else response
    )


def test_a_case_goes_from_filing_to_a_confirmed_ruling_through_the_api_and_the_audit_holds(
    demo, django_capture_on_commit_callbacks
):
    citizen1 = Api("citizen1@demo.odr")
    citizen2 = Api("citizen2@demo.odr")
    coordinator = Api("coordinator@demo.odr")
    mediator = Api("mediator@demo.odr")
    clerk = Api("clerk@demo.odr")
    judge = Api("judge@demo.odr")
    stranger = factories.make_user("bystander@example.com", name="路人")
    EmailAddress.objects.create(user=stranger, email=stranger.email, verified=True, primary=True)
    bystander = Api("bystander@example.com")
    anonymous = Client()

    # 1. citizen1 files; the respondent is invited by e-mail.
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        dispute = ok(
            citizen1.post(
                "/api/v1/disputes",
                {
                    "category": "debt",
                    "title": "借款未还",
                    "description": "2025年3月借给李四一万元，约定半年归还，至今未还。",
                    "region": "330523000000",
                    "claim_amount": "10000.00",
                    "respondent": {"name": "李四", "email": "citizen2@demo.odr"},
                },
            ),
            201,
        )
    dispute_id = dispute["id"]
    assert dispute["status"] == "filed"
    assert dispute["case_number"]
    invitations = [m for m in mail.outbox if m.to == ["citizen2@demo.odr"]]
    assert len(invitations) == 1
    token = re.search(r"/invitations/([^/\s]+)/", invitations[0].body).group(1)
    # Nobody outside the case sees it (404, never 403).
    assert bystander.get(f"/api/v1/disputes/{dispute_id}").status_code == 404

    # 2. citizen2 accepts the invitation; the case waits for intake.
    accepted = ok(citizen2.post(f"/api/v1/invitations/{token}/accept"))
    assert accepted["status"] == "awaiting_intake"
    assert {p["role"]: p["accepted"] for p in accepted["parties"]}["respondent"] is True

    # 3. The county centre's coordinator accepts it and gives it to the demo mediator.
    seen = ok(coordinator.get(f"/api/v1/disputes/{dispute_id}"))
    assert "accept" in seen["actions"]
    mediator_id = ok(mediator.get("/api/v1/me"))["id"]
    in_mediation = ok(
        coordinator.post(f"/api/v1/disputes/{dispute_id}/actions/accept", {"mediator": mediator_id})
    )
    assert in_mediation["status"] == "in_mediation"
    assert in_mediation["mediator"]

    # 4. The mediator schedules a session; a party gets a single-use room ticket.
    when = (timezone.now() + timedelta(days=2)).replace(microsecond=0).isoformat()
    session = ok(
        mediator.post(f"/api/v1/disputes/{dispute_id}/sessions", {"scheduled_at": when}), 201
    )
    assert session["room_url"] and session["id"]
    ticket = ok(citizen1.post(f"/api/v1/sessions/{session['id']}/ticket"))
    assert ticket["ticket"] and ticket["ws_url"].endswith(f"/ws/sessions/{session['id']}/")
    assert isinstance(ticket["ice_servers"], list)
    assert bystander.post(f"/api/v1/sessions/{session['id']}/ticket").status_code == 404

    # 5. The mediator drafts the agreement, then opens it for signature.
    draft = ok(
        mediator.put(
            f"/api/v1/disputes/{dispute_id}/agreement", factories.complete_agreement_data()
        )
    )
    agreement_id = draft["id"]
    assert draft["status"] == "draft"
    # A party cannot draft nor open it.
    assert citizen1.put(
        f"/api/v1/disputes/{dispute_id}/agreement", factories.complete_agreement_data()
    ).status_code in (403, 404)
    opened = ok(mediator.post(f"/api/v1/agreements/{agreement_id}/actions/open"))
    assert opened["status"] == "signing"

    # 6. Both parties and the mediator sign; a wrong password signs nothing.
    # Each signs in two steps with a key of their own (CONTRACT §3, tests/signing.py).
    from tests.signing import new_key, public_pem, sign_bytes

    version = opened["version"]
    wrong = citizen1.post(
        f"/api/v1/agreements/{agreement_id}/sign",
        {
            "password": "wrong",
            "consent": True,
            "signature_png": factories.signature_png_b64(),
            "public_key": public_pem(new_key()),
            "version": version,
        },
    )
    assert 400 <= wrong.status_code < 500 and wrong.json()["code"]
    for signer in (citizen1, citizen2, mediator):
        key = new_key()
        step1 = ok(
            signer.post(
                f"/api/v1/agreements/{agreement_id}/sign",
                {
                    "password": PASSWORD,
                    "consent": True,
                    "signature_png": factories.signature_png_b64(),
                    "public_key": public_pem(key),
                    "version": version,
                },
            )
        )
        signature = sign_bytes(key, base64.b64decode(step1["to_sign"]))
        with django_capture_on_commit_callbacks(execute=True):
            signed = ok(
                signer.post(
                    f"/api/v1/agreements/{agreement_id}/sign/complete",
                    {
                        "signing_id": step1["signing_id"],
                        "signature": base64.b64encode(signature).decode(),
                    },
                )
            )
    assert signed["status"] == "signed"
    assert ok(citizen2.get(f"/api/v1/disputes/{dispute_id}"))["status"] == "settled"

    # 7. The sealed PDF is what the agreement's hash says, and anyone can verify it.
    pdf = ok(citizen2.get(f"/api/v1/agreements/{agreement_id}/pdf"))
    assert pdf["Content-Type"] == "application/pdf"
    data = b"".join(pdf.streaming_content) if pdf.streaming else pdf.content
    assert data.startswith(b"%PDF-")
    sha = hashlib.sha256(data).hexdigest()
    assert sha == signed["pdf_sha256"]
    assert bystander.get(f"/api/v1/agreements/{agreement_id}/pdf").status_code == 404

    by_hash = ok(anonymous.get(f"/api/v1/verify/{sha}"))
    assert by_hash["valid"] is True
    assert by_hash["case_number"] == dispute["case_number"]
    assert len(by_hash["signers"]) == 3
    names = json.dumps(by_hash["signers"], ensure_ascii=False)
    # Names are masked: the respondent's full name never appears, a mask character does.
    assert "李四" not in names and "*" in names
    assert ok(anonymous.post("/api/v1/verify", {"file": io.BytesIO(data)}))["valid"] is True
    changed = bytearray(data)
    changed[len(changed) // 2] ^= 0x01
    assert (
        ok(anonymous.post("/api/v1/verify", {"file": io.BytesIO(bytes(changed))}))["valid"] is False
    )
    unknown = anonymous.get(f"/api/v1/verify/{'0' * 64}")
    assert unknown.status_code == 404 and unknown.json()["valid"] is False

    # 8. Both parties apply for judicial confirmation by signing the joint application
    # with their own keys (issue 9, point 5); the court sees it once both signed.
    started = ok(citizen1.post(f"/api/v1/agreements/{agreement_id}/confirmation"))
    assert started["status"] == "awaiting_consent"
    assert not any(p["signed"] for p in started["parties"])

    def sign_application(signer: Api) -> dict:
        key = new_key()
        step1 = ok(
            signer.post(
                f"/api/v1/agreements/{agreement_id}/confirmation/sign",
                {
                    "password": PASSWORD,
                    "consent": True,
                    "signature_png": factories.signature_png_b64(),
                    "public_key": public_pem(key),
                },
            )
        )
        signature = sign_bytes(key, base64.b64decode(step1["to_sign"]))
        return ok(
            signer.post(
                f"/api/v1/agreements/{agreement_id}/confirmation/sign/complete",
                {
                    "signing_id": step1["signing_id"],
                    "signature": base64.b64encode(signature).decode(),
                },
            )
        )

    first = sign_application(citizen1)
    assert first["status"] == "awaiting_consent" and first["id"] == started["id"]
    assert ok(clerk.get("/api/v1/court/requests?status=pending"))["count"] == 0
    second = sign_application(citizen2)
    assert second["status"] == "pending" and second["id"] == first["id"]
    pending = ok(clerk.get("/api/v1/court/requests?status=pending"))
    assert [r["id"] for r in pending["items"]] == [second["id"]]
    # Court staff only: a citizen's list of requests before the court is empty.
    assert ok(bystander.get("/api/v1/court/requests?status=pending"))["count"] == 0

    # 9. The clerk dockets it under the court's own number; the clerk may not rule (403),
    # the judge confirms it; the ruling goes to the parties and the court only.
    request_id = second["id"]
    assert (
        citizen1.post(
            f"/api/v1/court/requests/{request_id}/decision",
            {"decision": "confirmed", "reason": "x"},
        ).status_code
        == 404
    )
    number = f"（{timezone.localdate().year}）浙0523民特1号"
    accepted = ok(
        clerk.post(f"/api/v1/court/requests/{request_id}/accept", {"court_case_number": number})
    )
    assert accepted["status"] == "accepted" and accepted["case_number"] == number
    refused = clerk.post(
        f"/api/v1/court/requests/{request_id}/decision", {"decision": "confirmed", "reason": ""}
    )
    assert refused.status_code == 403 and refused.json()["code"] == "judge_only"
    with django_capture_on_commit_callbacks(execute=True):
        decided = ok(
            judge.post(
                f"/api/v1/court/requests/{request_id}/decision",
                {"decision": "confirmed", "reason": "协议内容不违反法律、行政法规的强制性规定。"},
            )
        )
    assert decided["status"] == "confirmed" and decided["case_number"] == number
    ruling_bytes = set()
    for reader in (citizen1, citizen2, clerk, judge):
        ruling = ok(reader.get(f"/api/v1/court/requests/{request_id}/ruling.pdf"))
        assert ruling["Content-Type"] == "application/pdf"
        body = b"".join(ruling.streaming_content) if ruling.streaming else ruling.content
        assert body.startswith(b"%PDF-")
        ruling_bytes.add(hashlib.sha256(body).hexdigest())
    assert len(ruling_bytes) == 1  # one ruling, the same for all
    assert bystander.get(f"/api/v1/court/requests/{request_id}/ruling.pdf").status_code == 404
    assert anonymous.get(f"/api/v1/court/requests/{request_id}/ruling.pdf").status_code in (
        401,
        404,
    )
    assert ok(anonymous.get(f"/api/v1/verify/{ruling_bytes.pop()}"))["valid"] is True

    # 10. The audit trail recorded the life of the case and its chain is intact ...
    actions = set(AuditEvent.objects.filter(dispute_id=dispute_id).values_list("action", flat=True))
    assert len(actions) >= 8, actions
    call_command("verify_audit", stdout=io.StringIO(), stderr=io.StringIO())

    # ... and a raw SQL edit of one event, past the ORM, is caught.
    event = AuditEvent.objects.filter(dispute_id=dispute_id).order_by("seq")[1]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {AuditEvent._meta.db_table} SET actor_label = %s WHERE id = %s",
            ["someone else", event.pk],
        )
    err = io.StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("verify_audit", stdout=io.StringIO(), stderr=err)
    assert exited.value.code not in (0, None)
    assert f"#{event.seq}" in err.getvalue()
