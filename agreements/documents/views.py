"""The public verification pages: /verify/ (upload a PDF or enter a hash) and
/verify/<document_id>/ (what the QR code on every agreement opens); and, for those who
see the case, the agreement's non-binding English translation
(/agreements/<id>/translation.pdf)."""

from __future__ import annotations

from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from agreements.documents.verify import MAX_PDF_BYTES, verify_document, verify_hash, verify_pdf
from odr.errors import DomainError


@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    results, error, status = [], "", 200
    sha256 = (request.GET.get("sha256") or "").strip()
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            error, status = _("Choose the PDF file to check."), 400
        elif upload.size > MAX_PDF_BYTES:
            error, status = _("The file is larger than any document the platform issues."), 413
        else:
            try:
                results = [verify_pdf(upload.read())]
            except DomainError as exc:  # a file built to exhaust the reader (invalid_pdf)
                error, status = exc.message, exc.status
    elif sha256:
        result = verify_hash(sha256)
        if result is None:
            error, status = _("The platform has issued no document with this hash."), 404
        else:
            results = [result]
    return render(
        request,
        "agreements/documents/verify.html",
        {"results": results, "error": error, "sha256": sha256},
        status=status,
    )


def ca_certificate(request: HttpRequest) -> HttpResponse:
    """The platform CA's certificate, so that any PDF validator (Adobe Reader, pdfsig,
    pyHanko) can be told to trust the signatures on our documents."""
    from cryptography.hazmat.primitives.serialization import Encoding

    from agreements.documents.pki import ca

    response = HttpResponse(
        ca().cert.public_bytes(Encoding.PEM), content_type="application/x-pem-file"
    )
    response["Content-Disposition"] = 'attachment; filename="odr-platform-ca.pem"'
    return response


@require_http_methods(["GET", "HEAD"])
def ca_crl(request: HttpRequest) -> HttpResponse:
    """The platform CA's certificate revocation list (DER, RFC 5280), at the address every
    certificate it issues names: validators read it to learn which were revoked."""
    from django.utils.http import http_date

    from agreements.documents.pki import CRL_VALIDITY
    from agreements.documents.revocation import current_crl

    crl = current_crl()
    response = HttpResponse(crl.der, content_type="application/pkix-crl")
    response["Content-Disposition"] = 'inline; filename="odr-platform-ca.crl"'
    response["Last-Modified"] = http_date(crl.issued_at.timestamp())
    response["Expires"] = http_date((crl.issued_at + CRL_VALIDITY).timestamp())
    # Short: a revocation must reach validators within minutes, not at nextUpdate.
    response["Cache-Control"] = "public, max-age=300"
    return response


@require_http_methods(["GET", "HEAD"])
def ca_certificate_der(request: HttpRequest) -> HttpResponse:
    """The CA's certificate in DER, where the certificates' Authority Information Access
    points (caIssuers): validators that build the chain themselves fetch it there."""
    from cryptography.hazmat.primitives.serialization import Encoding

    from agreements.documents.pki import ca

    response = HttpResponse(
        ca().cert.public_bytes(Encoding.DER), content_type="application/pkix-cert"
    )
    response["Content-Disposition"] = 'inline; filename="odr-platform-ca.cer"'
    response["Cache-Control"] = "public, max-age=86400"
    return response


def verify_document_page(request: HttpRequest, document_id: UUID) -> HttpResponse:
    results = verify_document(document_id)
    if results is None:
        return render(
            request,
            "agreements/documents/verify.html",
            {"error": _("There is no document with this id."), "results": []},
            status=404,
        )
    return render(
        request,
        "agreements/documents/verify.html",
        {"results": results, "document_id": document_id},
    )


def translation_response(agreement) -> HttpResponse:
    """The non-binding English rendering, named as such: never the signed document."""
    from agreements.documents.translation import render_agreement_translation_pdf

    response = HttpResponse(
        render_agreement_translation_pdf(agreement), content_type="application/pdf"
    )
    name = f"agreement-{agreement.dispute_id}-v{agreement.version}-translation-non-binding.pdf"
    response["Content-Disposition"] = f'inline; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
def agreement_translation(request: HttpRequest, agreement_id: int) -> HttpResponse:
    from agreements.selectors import agreement_get_for

    # NotFound (not the case's) rises to odr.middleware.NotFoundMiddleware: 404.
    return translation_response(agreement_get_for(user=request.user, agreement_id=agreement_id))
