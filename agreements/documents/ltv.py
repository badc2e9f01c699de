"""Long-term validation data for the platform's sealed PDFs (issue 9, point 4).

A signature is checked years later by someone who cannot (or should not have to) ask the
platform: was each certificate issued by the CA, and was it revoked? So the sealed PDF
carries the answers itself, in a Document Security Store (DSS, PAdES B-LT): the
certificates of every signature's chain up to the platform CA (and of the timestamp
authority's, when signatures are timestamped) and the CA's current CRL, registered for
each signature (a VRI entry). With ODR_TSA_URL set, a document timestamp over the whole
file, DSS included, follows in the same update (B-LTA): it proves that this validation
data existed at that time, and is what a later renewal builds on.

A validator then needs the platform CA's certificate as its only trust root, and no
network (tests/agreements/test_ltv.py proves both with pyHanko)."""

from __future__ import annotations

from io import BytesIO

from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.generic_cms import extract_tst_data_iter

from agreements.documents import pki, revocation

DOC_TIMESTAMP_FIELD = "DocumentTimestamp"


def _certificates(signed_data) -> list[asn1_x509.Certificate]:
    """The certificates a CMS SignedData carries (the signer's chain as the signer put it)."""
    return [
        choice.chosen
        for choice in (signed_data["certificates"] or ())
        if isinstance(choice.chosen, asn1_x509.Certificate)
    ]


def _chain_of(embedded) -> list[asn1_x509.Certificate]:
    """Every certificate needed to validate one embedded signature offline: its own and,
    for each timestamp token on it (signature timestamps), the TSA's."""
    certs = _certificates(embedded.signed_data)
    for signed in (False, True):
        for tst_signed_data in extract_tst_data_iter(embedded.signer_info, signed=signed):
            certs.extend(_certificates(tst_signed_data))
    return certs


def embed_validation_data(pdf: bytes) -> bytes:
    """Adds, as one incremental update, a DSS holding the CA chain and the CA's CRL (and
    the TSA's chain when signatures are timestamped) for every signature in `pdf`, and,
    when ODR_TSA_URL is set, a document timestamp over the result. Every earlier byte
    stays as it was. A PDF without signatures comes back unchanged."""
    writer = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
    embedded = writer.prev.embedded_signatures
    if not embedded:
        return pdf
    crl = revocation.current_crl().parsed
    root = pki.ca().asn1_cert()
    for sig in embedded:
        DocumentSecurityStore.supply_dss_in_writer(
            writer,
            # The VRI key: SHA-1 of the signature's /Contents, as pyHanko's own
            # add_validation_info computes it.
            sig.pkcs7_content.hex().encode("ascii"),
            certs=[*_chain_of(sig), root],
            crls=[crl],
        )
    stamper = pki.timestamper()
    out = BytesIO()
    if stamper is None:
        writer.write(out)
        return out.getvalue()
    try:
        # The DSS is written in the same update as the timestamp, so the timestamp covers it.
        pki.off_loop(
            signers.PdfTimeStamper(stamper, field_name=DOC_TIMESTAMP_FIELD).timestamp_pdf,
            writer,
            "sha256",
            output=out,
        )
    except (OSError, ValueError) as exc:
        raise pki.timestamp_unavailable() from exc
    return out.getvalue()
