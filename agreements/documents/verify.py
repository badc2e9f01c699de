"""Verification of the platform's PDFs (agreements, the parties' joint applications for
judicial confirmation and court rulings): is this file one we
issued (its SHA-256 is stored), and is every signature in it intact, valid and trusted by
the platform's CA, with the last one covering the entire file? A byte changed anywhere
fails one of these checks; the reason says which, in plain words."""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from io import BytesIO

from django.utils.translation import gettext as _
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from agreements.documents.ltv import DOC_TIMESTAMP_FIELD
from agreements.documents.pdf import current_signatures, signer_name
from agreements.documents.pdf_limits import structure_problem
from agreements.documents.pki import off_loop, trust_roots
from agreements.documents.revocation import current_crl
from agreements.models import Agreement, ConfirmationRequest, Signature
from odr.errors import Invalid
from odr.idnumber import mask_name

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
MAX_PDF_BYTES = 30 * 1024 * 1024


def field_label(field: str) -> str:
    """What a signature field is, in words: the names come from finalize and pki."""
    match = re.match(r"^Signature\d+_(applicant|respondent|mediator)$", field)
    if match:
        return {
            "applicant": _("Applicant's signature"),
            "respondent": _("Respondent's signature"),
            "mediator": _("Mediator's signature"),
        }[match.group(1)]
    if field.startswith(DOC_TIMESTAMP_FIELD):
        return _("Document timestamp")
    if field.startswith("PlatformSeal"):
        return _("Platform seal")
    if field.startswith("Seal"):
        return _("Organisation's seal")
    return field


@dataclass
class SignatureCheck:
    field: str
    signer: str
    intact: bool
    valid: bool
    trusted: bool
    covers_entire_file: bool
    signed_at: datetime | None
    timestamp: datetime | None
    ok: bool
    problem: str = ""
    label: str = ""


@dataclass
class Verification:
    valid: bool
    reason: str
    sha256: str
    hash_known: bool = False
    kind: str | None = None  # "agreement" | "ruling" | "application"
    document_id: str | None = None
    case_number: str | None = None
    status: str | None = None
    status_label: str = ""
    signed_at: datetime | None = None
    signers: list[dict] = field(default_factory=list)
    signatures: list[SignatureCheck] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


# What a PDF writer sets in /Info by itself (pyHanko does on every update).
_WRITER_INFO_KEYS = {"/ModDate", "/Producer"}


def _info(handler) -> dict[str, str]:
    from pyhanko.pdf_utils import generic

    trailer = handler.trailer_view
    if "/Info" not in trailer:
        return {}
    info = trailer.raw_get("/Info")
    # Resolved in that revision: an indirect object's get_object() reads the newest one.
    if isinstance(info, generic.IndirectObject):
        info = handler.get_object(info.reference)
    return {str(k): str(v) for k, v in info.items() if k not in _WRITER_INFO_KEYS}


def _info_unchanged_since(sig) -> bool:
    """pyHanko files a changed /Info (a forged title) under "LTA updates", as it does the
    DSS: so what follows the last signature must also leave /Info as it was signed."""
    reader = sig.reader
    return _info(reader.get_historical_resolver(sig.signed_revision)) == _info(reader)


def _coverage_ok(status, is_last: bool, sig) -> bool:
    if is_last:
        # The last signature covers the whole file, or only long-term validation data
        # follows it (a DSS, a document timestamp: ltv.embed_validation_data), which
        # pyHanko's difference analysis tells apart from any other change.
        return status.coverage == SignatureCoverageLevel.ENTIRE_FILE or (
            status.coverage >= SignatureCoverageLevel.ENTIRE_REVISION
            and status.modification_level is not None
            and status.modification_level <= ModificationLevel.LTA_UPDATES
            and _info_unchanged_since(sig)
        )
    # An earlier signature covers its own revision; what came after it may only add
    # signatures (form filling), never change the text.
    return status.coverage >= SignatureCoverageLevel.ENTIRE_REVISION and (
        status.modification_level is None
        or status.modification_level <= ModificationLevel.FORM_FILLING
    )


# What pyHanko raises on a malformed file besides its own PdfError: its parser indexes,
# unpacks and asserts its way through the bytes it is given.
PARSER_ERRORS = (
    PdfError,
    ValueError,
    KeyError,
    TypeError,
    IndexError,
    AttributeError,
    AssertionError,
)


def unreadable(problem: str) -> Invalid:
    """The answer for a file the platform will not read: 400 `invalid_pdf` from the API,
    a message on the /verify/ page (issue 11, L4: never a 500)."""
    return Invalid(
        _("The file is not a PDF the platform can check: %(problem)s.") % {"problem": problem},
        code="invalid_pdf",
    )


def _endless() -> Invalid:
    # Python's recursion limit is the reader's bound for what the byte scan cannot see
    # (nesting inside compressed object streams, cycles of references).
    return unreadable(_("its objects are nested or refer to each other without end"))


def check_signatures(data: bytes) -> tuple[list[SignatureCheck], str]:
    """Validates every embedded signature; returns the checks and the first problem
    found ("" when there is none). A file outside pdf_limits' bounds, or one that sends
    the reader's recursion past Python's limit (a cycle of references), is refused with
    `invalid_pdf` instead of being read."""
    problem = structure_problem(data)
    if problem:
        raise unreadable(problem)
    try:
        reader = PdfFileReader(BytesIO(data), strict=False)
        embedded = list(reader.embedded_signatures)
    except RecursionError:
        raise _endless() from None
    except PARSER_ERRORS as exc:
        return [], _("The file is not a readable PDF (%(error)s).") % {"error": exc}
    if not embedded:
        return [], _("The file holds no digital signature.")
    checks: list[SignatureCheck] = []
    problem = ""
    roots = trust_roots()
    # The platform CA's current CRL, not the copy in the file's DSS: a certificate revoked
    # after sealing makes its signatures invalid from then on (issue 9, point 4). Other
    # CAs' certificates (a court's own) are checked as before: no network, soft-fail.
    crl = current_crl().parsed
    crls = [crl]
    revoked_serials = {
        entry["user_certificate"].native for entry in crl["tbs_cert_list"]["revoked_certificates"]
    }
    for index, sig in enumerate(embedded):
        is_last = index == len(embedded) - 1
        is_doc_timestamp = sig.sig_object_type == "/DocTimeStamp"
        # A signer's certificate lives 30 days (issue 9): it is judged at the moment the
        # signature says it was made (the signer's own clock, fixed under the seals that
        # follow it, and a TSA's token when one is configured), not at today's date, so an
        # agreement still verifies years later. Revocation is judged apart, below: a
        # revoked certificate's signatures are invalid whenever they were made.
        try:
            # Inside the try: reading the self-reported time parses the CMS, and a changed
            # byte inside a signature's /Contents makes that fail (a damaged file, not a 500).
            context = ValidationContext(
                trust_roots=roots,
                allow_fetching=False,
                crls=crls,
                moment=None if is_doc_timestamp else sig.self_reported_timestamp,
                retroactive_revinfo=True,
            )
            status = (
                off_loop(validate_pdf_timestamp, sig, context)
                if is_doc_timestamp
                else off_loop(validate_pdf_signature, sig, context)
            )
        except RecursionError:
            raise _endless() from None
        except PARSER_ERRORS as exc:
            checks.append(
                SignatureCheck(
                    field=sig.field_name or "",
                    signer="",
                    intact=False,
                    valid=False,
                    trusted=False,
                    covers_entire_file=False,
                    signed_at=None,
                    timestamp=None,
                    ok=False,
                    problem=str(exc),
                )
            )
            problem = problem or _("Signature %(field)s cannot be read: the file was changed.") % {
                "field": sig.field_name
            }
            continue
        cert = status.signing_cert
        common_name = cert.subject.native.get("common_name", "") if cert else ""
        coverage_ok = _coverage_ok(status, is_last, sig)
        revoked = bool(status.revoked) or (
            cert is not None
            and cert.serial_number in revoked_serials
            and cert.issuer == crl["tbs_cert_list"]["issuer"]
        )
        # A document timestamp has no signer policy to meet: intact, valid and trusted.
        bottom_line = (
            status.intact and status.valid and status.trusted
            if is_doc_timestamp
            else status.bottom_line
        )
        ok = bool(bottom_line and coverage_ok and not revoked)
        reason = ""
        if not status.intact:
            reason = _("the signed content was changed after signing")
        elif not status.valid:
            reason = _("the signature value does not match its certificate")
        elif revoked:
            reason = _("the certificate was revoked by the platform's CA")
        elif not status.trusted:
            reason = _("the certificate was not issued by the platform's CA")
        elif not coverage_ok:
            reason = (
                _("content was added after the last signature")
                if is_last
                else _("the document was changed after this signature, beyond adding signatures")
            )
        elif not bottom_line:
            reason = _("the signature does not meet the validation policy")
        ts = None if is_doc_timestamp else status.timestamp_validity
        checks.append(
            SignatureCheck(
                field=sig.field_name or "",
                label=field_label(sig.field_name or ""),
                # A signer's certificate names them in full (issue 9): masking belongs
                # here, on the page anyone may open, not in the certificate. Seals name
                # institutions and stay as they are.
                signer=(
                    mask_name(str(common_name))
                    if re.match(r"^Signature\d+_", sig.field_name or "")
                    else str(common_name)
                ),
                intact=bool(status.intact),
                valid=bool(status.valid),
                trusted=bool(status.trusted) and not revoked,
                covers_entire_file=status.coverage == SignatureCoverageLevel.ENTIRE_FILE,
                signed_at=status.timestamp if is_doc_timestamp else status.signer_reported_dt,
                timestamp=status.timestamp if is_doc_timestamp else (ts.timestamp if ts else None),
                ok=ok,
                problem=reason,
            )
        )
        if not ok and not problem:
            problem = _("Signature %(field)s is not valid: %(reason)s.") % {
                "field": sig.field_name,
                "reason": reason,
            }
    return checks, problem


def _describe_agreement(result: Verification, agreement: Agreement) -> None:
    result.kind = "agreement"
    result.document_id = str(agreement.document_id)
    result.case_number = agreement.dispute.case_number
    result.status = agreement.status
    result.status_label = str(Agreement.Status(agreement.status).label)
    signatures = current_signatures(agreement)
    result.signed_at = agreement.effective_at or (
        max(s.signed_at for s in signatures) if signatures else None
    )
    result.signers = [
        {
            "role": s.role,
            "role_label": str(Signature.Role(s.role).label),
            "name": mask_name(signer_name(s)),
            "signed_at": s.signed_at,
        }
        for s in signatures
    ]


def _describe_ruling(result: Verification, request: ConfirmationRequest) -> None:
    agreement = request.agreement
    result.kind = "ruling"
    result.document_id = str(agreement.document_id)
    result.case_number = agreement.dispute.case_number
    result.status = request.status
    result.status_label = str(ConfirmationRequest.Status(request.status).label)
    result.signed_at = request.decided_at
    # The court is an institution: its name is public, not a person's to mask.
    result.signers = [
        {
            "role": "court",
            "role_label": _("Court"),
            "name": request.court.name,
            "signed_at": request.decided_at,
        }
    ]


@dataclass(frozen=True)
class _Application:
    """The parties' joint application (司法确认申请书) of a request, signed by every party
    with their own key and sealed by the platform (issue 9, point 5)."""

    request: ConfirmationRequest


def _describe_application(result: Verification, request: ConfirmationRequest) -> None:
    agreement = request.agreement
    result.kind = "application"
    result.document_id = str(agreement.document_id)
    result.case_number = agreement.dispute.case_number
    result.status = request.status
    result.status_label = str(ConfirmationRequest.Status(request.status).label)
    result.signed_at = request.submitted_at
    roles = dict(Signature.Role.choices)
    # Each party's signature in signing order, the names masked as on every public page.
    result.signers = [
        {
            "role": party_role,
            "role_label": str(roles.get(party_role, party_role)),
            "name": mask_name(signer or party_name),
            "signed_at": consented_at,
        }
        for party_role, party_name, signer, consented_at in request.consents.order_by(
            "consented_at", "pk"
        ).values_list("party__role", "party__name", "signer_name", "consented_at")
    ]


def _find_by_hash(digest: str) -> Agreement | ConfirmationRequest | _Application | None:
    agreement = (
        Agreement.objects.filter(pdf_sha256=digest)
        .select_related("dispute")
        .prefetch_related("signatures__signer__profile")
        .first()
    )
    if agreement is not None:
        return agreement
    ruling = (
        ConfirmationRequest.objects.filter(ruling_sha256=digest)
        .select_related("agreement__dispute", "court")
        .first()
    )
    if ruling is not None:
        return ruling
    application = (
        ConfirmationRequest.objects.filter(application_sha256=digest)
        .select_related("agreement__dispute", "court")
        .first()
    )
    return _Application(application) if application is not None else None


def _describe(result: Verification, obj) -> None:
    if isinstance(obj, Agreement):
        _describe_agreement(result, obj)
    elif isinstance(obj, _Application):
        _describe_application(result, obj.request)
    else:
        _describe_ruling(result, obj)


def verify_pdf(data: bytes) -> Verification:
    """An uploaded file: valid when we issued exactly these bytes and every signature in
    them holds."""
    digest = hashlib.sha256(data).hexdigest()
    result = Verification(valid=False, reason="", sha256=digest)
    obj = _find_by_hash(digest)
    result.hash_known = obj is not None
    if obj is not None:
        _describe(result, obj)
    result.signatures, problem = check_signatures(data)
    if problem:
        result.reason = problem
    elif obj is None:
        result.reason = _(
            "The signatures hold, but this exact file was not issued by the platform "
            "(an earlier or a different copy)."
        )
    else:
        result.valid = True
        result.reason = _("Valid: issued by the platform, unchanged, every signature holds.")
    return result


def _stored_file(obj) -> bytes | None:
    if isinstance(obj, Agreement):
        file = obj.pdf
    elif isinstance(obj, _Application):
        file = obj.request.application_pdf
    else:
        file = obj.ruling_pdf
    if not file:
        return None
    try:
        with file.open("rb") as handle:
            return handle.read()
    except OSError:
        return None


def verify_hash(digest: str) -> Verification | None:
    """A hash typed in (or read from a QR): None when the platform never issued it."""
    digest = digest.strip().lower()
    if not SHA256_RE.match(digest):
        return None
    obj = _find_by_hash(digest)
    if obj is None:
        return None
    return _verify_stored(obj, digest)


def _verify_stored(obj, digest: str) -> Verification:
    result = Verification(valid=False, reason="", sha256=digest, hash_known=True)
    _describe(result, obj)
    data = _stored_file(obj)
    if data is None:
        result.reason = _("The platform's stored copy of this document is missing.")
        return result
    if hashlib.sha256(data).hexdigest() != digest:
        result.reason = _("The platform's stored copy no longer matches its recorded hash.")
        return result
    result.signatures, problem = check_signatures(data)
    if problem:
        result.reason = problem
        return result
    result.valid = True
    result.reason = _("Valid: issued by the platform, unchanged, every signature holds.")
    return result


def verify_document(document_id: str | uuid.UUID) -> list[Verification] | None:
    """What the QR code opens: the agreement with this document id (and its court ruling,
    when there is one). None when there is no such agreement."""
    try:
        doc_uuid = uuid.UUID(str(document_id))
    except ValueError:
        return None
    agreement = (
        Agreement.objects.filter(document_id=doc_uuid)
        .select_related("dispute")
        .prefetch_related("signatures__signer__profile")
        .first()
    )
    if agreement is None:
        return None
    results = []
    if agreement.pdf_sha256:
        results.append(_verify_stored(agreement, agreement.pdf_sha256))
    else:
        pending = Verification(valid=False, reason="", sha256="")
        _describe_agreement(pending, agreement)
        pending.reason = _("This agreement is not signed by everyone yet: it is not in force.")
        results.append(pending)
    request = ConfirmationRequest.objects.filter(agreement=agreement).first()
    if request is not None and request.application_sha256:
        results.append(_verify_stored(_Application(request), request.application_sha256))
    if request is not None and request.ruling_sha256:
        results.append(_verify_stored(request, request.ruling_sha256))
    return results
