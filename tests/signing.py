"""Signing as the signer's own device does it (issue 9, CONTRACT §3): a key made here, in
the test, with the cryptography library; its public key sent with step 1; the signed
attributes signed with it and sent with step 2. The private key stays in the test."""

from __future__ import annotations

import base64
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def sign_bytes(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    """ECDSA-SHA256, DER: what CONTRACT §3 asks for `signature`."""
    return key.sign(data, ec.ECDSA(hashes.SHA256()))


def sign_agreement(
    *,
    agreement,
    actor,
    key: ec.EllipticCurvePrivateKey | None = None,
    version: int | None = None,
    password: str | None = None,
    consent: bool = True,
    signature_png: str | None = None,
    typed_name: str | None = None,
    **kwargs: Any,
):
    """Both signing steps through the services; `version` defaults to the agreement's
    current one (the signer read what is open). Returns the agreement after step 2."""
    from agreements import services
    from agreements.models import Agreement
    from tests.factories import PASSWORD, signature_png_b64

    key = key or new_key()
    if version is None:
        version = Agreement.objects.only("version").get(pk=agreement.pk).version
    if signature_png is None and typed_name is None:
        signature_png = signature_png_b64()
    from odr.errors import DomainError

    for attempt in range(5):
        pending = services.agreement_sign(
            agreement=agreement,
            actor=actor,
            password=PASSWORD if password is None else password,
            consent=consent,
            public_key=public_pem(key),
            version=version,
            signature_png=signature_png,
            typed_name=typed_name,
            **kwargs,
        )
        try:
            return services.agreement_sign_complete(
                agreement=agreement,
                actor=actor,
                signing_id=pending.signing_id,
                signature=sign_bytes(key, bytes(pending.signed_attrs)),
            )
        except DomainError as exc:
            # Another signer's signature went in between the two steps: as a client
            # does, start again over the document as it now stands.
            if exc.code != "signing_restart" or attempt == 4:
                raise
    raise AssertionError("unreachable")


def api_sign(client, agreement_id: int, *, key=None, **payload: Any):
    """Both steps through the API with a test client (X-Session-Token or session); returns
    the response of step 2, or of step 1 when it failed."""
    key = key or new_key()
    body = {"public_key": public_pem(key), "consent": True, **payload}
    for _attempt in range(5):
        first = client.post(
            f"/api/v1/agreements/{agreement_id}/sign", body, content_type="application/json"
        )
        if first.status_code != 200:
            return first
        data = first.json()
        signature = sign_bytes(key, base64.b64decode(data["to_sign"]))
        second = client.post(
            f"/api/v1/agreements/{agreement_id}/sign/complete",
            {"signing_id": data["signing_id"], "signature": base64.b64encode(signature).decode()},
            content_type="application/json",
        )
        if second.status_code != 409 or second.json().get("code") != "signing_restart":
            return second
    return second


def sign_directly(agreement, *, users: dict, roles, start=None) -> None:
    """Signs `agreement` (built on the models, e.g. factories.agreement_for) as `roles` in
    order, a second apart, through the document functions alone: the document rendered
    once, each signature an incremental update with a key made here."""
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    from agreements.documents.finalize import (
        PreparedSignature,
        complete_signature,
        prepare_signature,
        render_for_signing,
        signature_field_name,
        signature_reason,
    )
    from agreements.documents.pki import certify_signer_key
    from agreements.models import Signature
    from tests.factories import signature_png

    pdf, boxes = render_for_signing(agreement)
    sha = __import__("hashlib").sha256(pdf).hexdigest()
    start = start or timezone.now().replace(microsecond=0)
    for n, role in enumerate(roles):
        when = start + timedelta(seconds=n)
        key = new_key()
        with time_machine.travel(when.timestamp(), tick=False):
            cert = certify_signer_key(
                public_key=key.public_key(), user=users[role], agreement=agreement, role=role
            )
            prepared: PreparedSignature = prepare_signature(
                pdf,
                cert=cert,
                field_name=signature_field_name(n + 1, role),
                box=boxes.get(role) or _party_box(boxes, agreement, role),
                image_png=signature_png(n),
                when=timezone.localtime(when),
                reason=signature_reason(role=role, version=agreement.version, document_sha256=sha),
            )
        pdf = complete_signature(
            prepared, cert=cert, signature=sign_bytes(key, prepared.signed_attrs)
        )
        Signature.objects.create(
            agreement=agreement,
            signer=users[role],
            role=role,
            version=agreement.version,
            signed_at=when,
            signature_png=signature_png(n),
            certificate_serial=format(cert.serial_number, "x"),
            certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
            signer_name=users[role].profile.real_name,
            document_sha256=sha,
        )
    agreement.signing_pdf = pdf
    agreement.signature_boxes = boxes
    agreement.unsigned_pdf_sha256 = sha
    agreement.save(update_fields=["signing_pdf", "signature_boxes", "unsigned_pdf_sha256"])


def _party_box(boxes: dict, agreement, role: str):
    party = agreement.dispute.parties.filter(role=role).order_by("position", "pk").first()
    return boxes.get(f"party:{party.pk}") if party is not None else None


def sign_application(
    *,
    agreement,
    actor,
    key: ec.EllipticCurvePrivateKey | None = None,
    password: str | None = None,
    consent: bool = True,
    signature_png: str | None = None,
    **kwargs: Any,
):
    """A party applies for judicial confirmation the way the law now asks (issue 9, point
    5): they sign the joint application, both steps through the services, with a key made
    here (one signature for each party they act for, as their agent signs each box).
    `kwargs` (basis, region, court, typed_name, ip) go to step 1. Returns the request."""
    from agreements.court import selectors as court_selectors
    from agreements.court import services as court_services
    from odr.errors import DomainError
    from tests.factories import PASSWORD, signature_png_b64

    key = key or new_key()
    if signature_png is None and kwargs.get("typed_name") is None:
        signature_png = signature_png_b64()
    for _party in range(10):
        for attempt in range(5):
            pending = court_services.confirmation_sign(
                agreement=agreement,
                actor=actor,
                password=PASSWORD if password is None else password,
                consent=consent,
                public_key=public_pem(key),
                signature_png=signature_png,
                **kwargs,
            )
            try:
                request = court_services.confirmation_sign_complete(
                    agreement=agreement,
                    actor=actor,
                    signing_id=pending.signing_id,
                    signature=sign_bytes(key, bytes(pending.signed_attrs)),
                )
                break
            except DomainError as exc:
                # Another party signed between the two steps: sign again, as a client does.
                if exc.code != "signing_restart" or attempt == 4:
                    raise
        done = court_selectors.consents_of(request)
        if all(p.pk in done for p in court_selectors.parties_acting_for(agreement, actor)):
            return request
    raise AssertionError("an actor signs for at most a few parties")


def api_sign_application(client, agreement_id: int, *, key=None, **payload: Any):
    """Both steps of signing the joint application through the API; returns the response
    of step 2, or of step 1 when it failed."""
    from tests.factories import PASSWORD, signature_png_b64

    key = key or new_key()
    body = {
        "public_key": public_pem(key),
        "consent": True,
        "password": PASSWORD,
        "signature_png": signature_png_b64(),
        **payload,
    }
    base = f"/api/v1/agreements/{agreement_id}/confirmation/sign"
    for _attempt in range(5):
        first = client.post(base, body, content_type="application/json")
        if first.status_code != 200:
            return first
        data = first.json()
        signature = sign_bytes(key, base64.b64decode(data["to_sign"]))
        second = client.post(
            f"{base}/complete",
            {"signing_id": data["signing_id"], "signature": base64.b64encode(signature).decode()},
            content_type="application/json",
        )
        if second.status_code != 409 or second.json().get("code") != "signing_restart":
            return second
    return second


def api_apply(client, agreement_id: int, body: dict | None = None, **payload: Any):
    """A party applies through the API as the law now asks: `POST …/confirmation` (the
    first chooses the court with `body`), then both steps of signing the application.
    Returns the first refusal, or the request after the signature."""
    started = client.post(
        f"/api/v1/agreements/{agreement_id}/confirmation",
        body or {},
        content_type="application/json",
    )
    if started.status_code != 200:
        return started
    return api_sign_application(client, agreement_id, **payload)
