"""Public verification endpoints (CONTRACT §3): GET /api/v1/verify/{sha256} and
POST /api/v1/verify (multipart `file`). Anyone may ask; names come back masked.

An unknown hash answers 404 `{"detail", "code": "unknown_document", "valid": false}`: the
platform never issued a document with that hash. An uploaded file that was read answers
200 with `valid` true or false and a plain `reason`, because "this file is not valid" is
the answer to the question asked, not an error. A file the platform will not read at all
(larger than any it issues, or built to exhaust the PDF reader: nesting, counts,
reference cycles) answers 413 `file_too_large` or 400 `invalid_pdf`, never a 500.

GET /api/v1/agreements/{id}/translation.pdf: the agreement's non-binding English
rendering, for whoever sees the case (404 for anyone else); never the signed document."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import File, Router, Schema, Status
from ninja.files import UploadedFile

from agreements.documents.verify import MAX_PDF_BYTES, SHA256_RE, verify_hash, verify_pdf

router = Router(tags=["documents"])


class SignerOut(Schema):
    role: str
    role_label: str = ""
    name: str
    signed_at: datetime | None


class SignatureOut(Schema):
    field: str
    label: str
    signer: str
    intact: bool
    valid: bool
    trusted: bool
    covers_entire_file: bool
    signed_at: datetime | None
    timestamp: datetime | None
    ok: bool
    problem: str


class VerificationOut(Schema):
    valid: bool
    case_number: str | None
    status: str | None
    status_label: str
    signed_at: datetime | None
    signers: list[SignerOut]
    reason: str
    sha256: str
    hash_known: bool
    kind: str | None
    document_id: str | None
    signatures: list[SignatureOut]


class NotVerifiedOut(Schema):
    detail: str
    code: str
    valid: bool = False
    sha256: str = ""


@router.get(
    "/verify/{sha256}",
    auth=None,
    response={200: VerificationOut, 400: NotVerifiedOut, 404: NotVerifiedOut},
    summary="Verify a document by its SHA-256",
)
def verify_by_hash(request: HttpRequest, sha256: str):
    digest = sha256.strip().lower()
    if not SHA256_RE.match(digest):
        return Status(
            400,
            {
                "detail": _("A SHA-256 hash is 64 hexadecimal characters."),
                "code": "invalid_hash",
                "sha256": sha256[:80],
            },
        )
    result = verify_hash(digest)
    if result is None:
        return Status(
            404,
            {
                "detail": _("The platform has issued no document with this hash."),
                "code": "unknown_document",
                "sha256": digest,
            },
        )
    return Status(200, result.as_dict())


@router.post(
    "/verify",
    auth=None,
    response={200: VerificationOut, 400: NotVerifiedOut, 413: NotVerifiedOut},
    summary="Verify an uploaded PDF",
)
def verify_upload(request: HttpRequest, file: UploadedFile = File(...)):  # noqa: B008
    if file.size and file.size > MAX_PDF_BYTES:
        return Status(
            413,
            {
                "detail": _("The file is larger than any document the platform issues."),
                "code": "file_too_large",
            },
        )
    return Status(200, verify_pdf(file.read()).as_dict())


@router.get(
    "/agreements/{agreement_id}/translation.pdf",
    response={200: None},
    summary="The agreement's non-binding English translation (PDF)",
)
def agreement_translation_pdf(request: HttpRequest, agreement_id: int) -> HttpResponse:
    from agreements.documents.views import translation_response
    from agreements.selectors import agreement_get_for

    return translation_response(agreement_get_for(user=request.auth, agreement_id=agreement_id))
