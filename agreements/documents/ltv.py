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

import binascii
import re
from io import BytesIO

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.errors import NoDSSFoundError
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


def _chain_of(signed_data: cms.SignedData) -> list[asn1_x509.Certificate]:
    """Every certificate needed to validate one signature offline: its own chain and, for
    each timestamp token on it (signature timestamps), the TSA's."""
    certs = _certificates(signed_data)
    for signer_info in signed_data["signer_infos"]:
        for signed in (False, True):
            for tst_signed_data in extract_tst_data_iter(signer_info, signed=signed):
                certs.extend(_certificates(tst_signed_data))
    return certs


_BYTE_RANGE = re.compile(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]")


def _signature_contents(pdf: bytes, writer: IncrementalPdfFileWriter) -> list[bytes]:
    """The /Contents (the CMS, zero-padded) of every signature in the file. The platform's
    own PDFs are read straight from each /ByteRange's gap: pyHanko's reader parses the
    padded hex strings a byte at a time, which cost more than everything else here
    (bench/agreements). Anything unexpected falls back to the reader."""
    found: list[bytes] = []
    try:
        for match in _BYTE_RANGE.finditer(pdf):
            start, length, resume, _rest = (int(g) for g in match.groups())
            gap = pdf[start + length : resume]
            if not (gap.startswith(b"<") and gap.endswith(b">")):
                raise ValueError("not a hex string between the signed ranges")
            found.append(binascii.unhexlify(gap[1:-1]))
    except (ValueError, binascii.Error):
        found = []
    filled = [f for f in pki.signature_fields(writer.prev) if "/V" in f]
    if found and len(found) == len(filled):
        return found
    return [sig.pkcs7_content for sig in writer.prev.embedded_signatures]


def embed_validation_data(pdf: bytes) -> bytes:
    """Adds, as one incremental update, a DSS holding the CA chain and the CA's CRL (and
    the TSA's chain when signatures are timestamped) for every signature in `pdf`, and,
    when ODR_TSA_URL is set, a document timestamp over the result. Every earlier byte
    stays as it was. A PDF without signatures comes back unchanged."""
    writer = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
    contents = _signature_contents(pdf, writer)
    if not contents:
        return pdf
    crl = revocation.current_crl().parsed
    root = pki.ca().asn1_cert()
    # pyHanko's DocumentSecurityStore.supply_dss_in_writer, once for all signatures
    # instead of re-reading the DSS it has just written for each.
    try:
        dss, created = DocumentSecurityStore.read_dss(writer), False
    except NoDSSFoundError:
        dss, created = DocumentSecurityStore(writer=writer), True
    for content in contents:
        signed_data = cms.ContentInfo.load(content)["content"]
        dss.register_vri(
            # The VRI key as pyHanko's own add_validation_info computes it.
            DocumentSecurityStore.sig_content_identifier(content.hex().encode("ascii")),
            certs=[*_chain_of(signed_data), root],
            crls=[crl],
        )
    dss_dict = dss.as_pdf_object()
    if created:
        writer.root[pdf_name("/DSS")] = writer.add_object(dss_dict)
        writer.update_root()
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
