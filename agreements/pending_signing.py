"""Step 2 of a device-key signing, the same for an agreement and for a joint application
(issue 9): the signer's signature decoded, their pending signing found or refused, and the
signature embedded in the bytes prepared at step 1, which must still extend the stored
document."""

from __future__ import annotations

import base64
import binascii
import hashlib
import uuid
from typing import Any

from cryptography import x509
from django.utils.translation import gettext as _

from agreements.models import PendingSigning
from odr.errors import DomainError, Invalid


def signing_gone() -> DomainError:
    return DomainError(
        "signing_expired",
        _("This signing has expired or was replaced: nothing was signed. Sign again."),
        status=409,
    )


def signing_uuid(value: Any) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        raise signing_gone() from None


def decoded_signature(signature: str | bytes) -> bytes:
    """The API sends base64; the services take the DER bytes as they are."""
    if isinstance(signature, bytes):
        return signature
    try:
        return base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise Invalid(
            _("The signature must be base64 (DER ECDSA signature)."), code="signature_invalid"
        ) from None


def embed(pending: PendingSigning, *, document: bytes, signature: bytes, restart: str) -> bytes:
    """`document` is the stored document now; the bytes prepared at step 1 extend the one
    the signer signed over. Another signature in between answers 409 `signing_restart`
    (with `restart`, the words for this document); a signature by another key or over other
    bytes 422 `signature_invalid`. Returns the document with this signature in it."""
    from agreements.documents.finalize import PreparedSignature, complete_signature

    if hashlib.sha256(document).hexdigest() != pending.base_sha256:
        raise DomainError("signing_restart", restart, status=409)
    return complete_signature(
        PreparedSignature(
            pdf=bytes(pending.prepared_pdf),
            digest=bytes(pending.document_digest),
            reserved_start=pending.reserved_start,
            reserved_end=pending.reserved_end,
            signed_attrs=bytes(pending.signed_attrs),
        ),
        cert=x509.load_pem_x509_certificate(pending.certificate_pem.encode()),
        signature=signature,
    )
