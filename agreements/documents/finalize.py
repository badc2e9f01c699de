"""The signed agreement, built up one incremental update at a time (issue 9, DESIGN §3).

1. When the agreement opens for signing its PDF is rendered once (`render_for_signing`)
   and stored: the text, the parties, the audit page as known at that moment, and an
   empty box in the signature table for each signer.
2. Each signer signs in two steps (CONTRACT §3). `prepare_signature` adds the signer's
   signature field (their drawn signature and the signing time as its appearance) to the
   stored bytes, reserves room for the CMS and returns the CMS signed attributes, which
   the signer signs on their own device with their own key. `complete_signature` checks
   that signature against the certificate the platform CA issued for that key and embeds
   it. The server never holds a signer's private key.
3. After the last signer, `seal_agreement` adds the committee's seal and the platform's
   seal (timestamped when ODR_TSA_URL is set), each its own incremental update. Nothing
   is ever rendered again over what was signed.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO

from asn1crypto import algos, cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from django.utils.translation import gettext as _
from pyhanko.pdf_utils.content import ImportedPdfPage
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.layout import AxisAlignment, SimpleBoxLayoutRule
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.signers.pdf_byterange import PreparedByteRangeDigest
from pyhanko.sign.signers.pdf_signer import PdfTBSDocument
from pyhanko.stamp import StaticStampStyle

from agreements.documents.fonts import EmbeddedFontCanvas, draw_seal
from agreements.documents.ltv import embed_validation_data
from agreements.documents.pdf import (
    RECORD_BOX,
    RECORD_ROW,
    RECORD_TOP,
    ROLE_SHORT,
    SEAL_BOX,
    SEAL_LABEL,
    current_signatures,
    issuer_name,
    render_agreement_pdf,
    signing_state,
)
from agreements.documents.pki import (
    ca,
    off_loop,
    organisation_key,
    seal_pdf,
    sha256,
    sign_with,
    timestamper,
)
from odr.errors import DomainError

# Room for the CMS in the PDF (hex, so twice its DER size): a signer's CMS (two EC
# certificates and a signature) is about 1.6 KB; a TSA's token and chain add several.
_RESERVED = 8192
_RESERVED_WITH_TSA = 32768


def signature_field_name(index: int, role: str) -> str:
    return f"Signature{index}_{role}"


def signature_reason(*, role: str, version: int, document_sha256: str) -> str:
    """The signature's /Reason: the role, and the version and SHA-256 of the document as
    that signer read it when signing. The signature dictionary lies inside the bytes the
    signature covers, so what the signer's signature binds is named in the signed file
    itself (issue 9, point 3), e.g. "申请人签署；第3版 SHA-256 9f86d0…"."""
    reason = f"{ROLE_SHORT.get(role, role)}签署；第{version}版"
    return f"{reason} SHA-256 {document_sha256}" if document_sha256 else reason


def render_for_signing(agreement) -> tuple[bytes, dict]:
    """The document as it goes out for signature, rendered once, and where each signer's
    signature field sits in it."""
    boxes: dict = {}
    pdf = render_agreement_pdf(agreement, boxes)
    return pdf, boxes


@dataclass(frozen=True)
class PreparedSignature:
    """Everything `complete_signature` needs, kept between the two steps."""

    pdf: bytes  # the document with the signer's field and a placeholder for the CMS
    digest: bytes  # SHA-256 over the /ByteRange
    reserved_start: int
    reserved_end: int
    signed_attrs: bytes  # DER of the CMS signed attributes: what the signer signs


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _external_signer(cert: x509.Certificate, signature: bytes | None) -> signers.ExternalSigner:
    from agreements.documents.pki import ChainStore

    chain = [_asn1(cert), ca().asn1_cert()]
    return signers.ExternalSigner(
        signing_cert=chain[0],
        # Indexed only if looked up: signing only iterates (pki.ChainStore).
        cert_registry=ChainStore.from_certs(chain),
        # Step 1 needs no signature value: only the signed attributes are made.
        signature_value=signature if signature is not None else 72,
        signature_mechanism=algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"}),
    )


def drawn_signature_stamp(image_png: bytes, *, when: datetime, box: list) -> StaticStampStyle:
    """A signature field's appearance drawn with reportlab in the documents' own embedded
    face: the signer's drawn signature and, below it, the signing time. Every signer's
    field of the agreement and of the joint application: pyHanko's text stamp would add an
    unembedded Courier as a direct font dictionary (which poppler's readers report as a
    broken cross-reference)."""
    from reportlab.lib.utils import ImageReader

    from agreements.documents.fonts import register_fonts

    _page, x1, y1, x2, y2 = box
    width, height = float(x2) - float(x1), float(y2) - float(y1)
    out = BytesIO()
    canvas = EmbeddedFontCanvas(out, pagesize=(width, height))
    canvas.drawImage(
        ImageReader(BytesIO(image_png)),
        2,
        10,
        width=width - 4,
        height=height - 12,
        preserveAspectRatio=True,
        anchor="sw",
        mask="auto",
    )
    canvas.setFont(register_fonts(), 7)
    canvas.drawRightString(width - 2, 2, when.strftime("%Y-%m-%d %H:%M:%S"))
    canvas.showPage()
    canvas.save()
    return _static(out.getvalue())


def prepare_signature(
    pdf: bytes,
    *,
    cert: x509.Certificate,
    field_name: str,
    box: list | None,
    image_png: bytes,
    when: datetime,
    reason: str,
    stamp_style: StaticStampStyle | None = None,
) -> PreparedSignature:
    """Step 1: the signer's field (visible in `box`, [page, x1, y1, x2, y2], with the
    drawn signature), the signature dictionary (its /M is this moment, /Reason names the
    version and hash read) and the placeholder, as an incremental update of `pdf`; and the
    signed attributes over that document's digest for the signer to sign. The field's
    appearance is drawn_signature_stamp unless `stamp_style` replaces it."""
    from agreements.documents.pki import pades_signed_attributes

    stamper = timestamper()
    meta = signers.PdfSignatureMetadata(
        field_name=field_name,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason,
    )
    spec = fields.SigFieldSpec(sig_field_name=field_name)
    if box:
        page, x1, y1, x2, y2 = box
        spec = fields.SigFieldSpec(
            sig_field_name=field_name,
            on_page=int(page),
            box=(int(x1), int(y1), int(x2), int(y2)),
        )
    external = _external_signer(cert, None)
    pdf_signer = signers.PdfSigner(
        meta,
        signer=external,
        stamp_style=stamp_style
        or (drawn_signature_stamp(image_png, when=when, box=box) if box else None),
        new_field_spec=spec,
    )

    # The coroutines hand their result over outside asyncio: asyncio.run on the main thread
    # formats its task, result and all, when it puts back the SIGINT handler (Python
    # 3.11's signal module), which for a whole PDF cost milliseconds (bench/agreements).
    done: list[PreparedSignature] = []

    async def run() -> None:
        writer = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
        digest, _tbs, output = await pdf_signer.async_digest_doc_for_signing(
            writer,
            bytes_reserved=_RESERVED_WITH_TSA if stamper else _RESERVED,
        )
        done.append(
            PreparedSignature(
                pdf=output.getvalue(),
                digest=digest.document_digest,
                reserved_start=digest.reserved_region_start,
                reserved_end=digest.reserved_region_end,
                # pyHanko's signed attributes for PAdES, encoded directly (pki.py says why).
                signed_attrs=pades_signed_attributes(external.signing_cert, digest.document_digest),
            )
        )

    off_loop(asyncio.run, run())
    return done[0]


def check_signer_signature(cert: x509.Certificate, signed_attrs: bytes, signature: bytes) -> None:
    """The signature must be an ECDSA-SHA256 signature (DER) by the certified key over
    exactly the signed attributes the server handed out; anything else is refused and
    nothing is embedded."""
    try:
        decode_dss_signature(signature)
        key = cert.public_key()
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise InvalidSignature
        key.verify(signature, signed_attrs, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        raise DomainError(
            "signature_invalid",
            _(
                "The signature does not verify against your key over the bytes to sign: "
                "nothing was signed. Start again."
            ),
            status=422,
        ) from None


def complete_signature(
    prepared: PreparedSignature, *, cert: x509.Certificate, signature: bytes
) -> bytes:
    """Step 2: the signer's signature checked, wrapped in a CMS with the signed
    attributes of step 1 (and a signature timestamp when ODR_TSA_URL is set), and written
    into the placeholder. Returns the signed document."""
    check_signer_signature(cert, prepared.signed_attrs, signature)
    external = _external_signer(cert, signature)
    stamper = timestamper()

    done: list[bytes] = []  # outside asyncio, as in prepare_signature

    async def run() -> None:
        signed_cms = await external.async_sign_prescribed_attributes(
            "sha256",
            signed_attrs=cms.CMSAttributes.load(prepared.signed_attrs),
            timestamper=stamper,
        )
        output = BytesIO(prepared.pdf)
        await PdfTBSDocument.async_finish_signing(
            output,
            PreparedByteRangeDigest(
                document_digest=prepared.digest,
                reserved_region_start=prepared.reserved_start,
                reserved_region_end=prepared.reserved_end,
            ),
            signed_cms,
        )
        done.append(output.getvalue())

    try:
        off_loop(asyncio.run, run())
        return done[0]
    except (OSError, ValueError) as exc:
        if stamper is None:
            raise
        raise DomainError(
            "timestamp_unavailable",
            _("The timestamp authority did not answer; nothing was signed. Try again shortly."),
            status=503,
        ) from exc


class _PdfPageBytes(ImportedPdfPage):
    """pyHanko's imported page, read from bytes in memory instead of a file name."""

    def __init__(self, data: bytes) -> None:
        super().__init__(file_name="", page_ix=0)
        self.data = data

    def render(self) -> bytes:
        import binascii
        import uuid

        from pyhanko.pdf_utils.layout import BoxConstraints

        xobj = self._ensure_writer.import_page_as_xobject(PdfFileReader(BytesIO(self.data)))
        resource_name = b"/Import" + binascii.hexlify(uuid.uuid4().bytes)
        self.resources.xobject[resource_name.decode("ascii")] = xobj
        x1, y1, x2, y2 = xobj.get_object()["/BBox"]
        self.box = BoxConstraints(width=abs(x1 - x2), height=abs(y1 - y2))
        return resource_name + b" Do"


@functools.lru_cache(maxsize=64)
def seal_drawing(name: str, *, size: float, label: str = SEAL_LABEL) -> bytes:
    """The committee's round red seal (its name round the edge, the star, the label),
    drawn with reportlab as a one-page PDF `size` points square: the appearance of the
    committee's seal signature. The same for every agreement of a committee: drawn once
    per process (about 10 ms of CPU otherwise, a tenth of a whole agreement)."""
    out = BytesIO()
    canvas = EmbeddedFontCanvas(out, pagesize=(size, size))
    draw_seal(canvas, name=name, x=size / 2, y=size / 2, radius=size / 2, label=label)
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def seal_stamp(name: str, *, size: float) -> StaticStampStyle:
    """The seal field's appearance: the drawn seal and nothing else (no border, no text)."""
    return _static(seal_drawing(name, size=size))


def _static(drawing: bytes) -> StaticStampStyle:
    """A stamp showing `drawing` (a one-page PDF the size of the field) edge to edge:
    pyHanko's default layout would shrink it inside a 5-point margin."""
    return StaticStampStyle(
        background=_PdfPageBytes(drawing),
        border_width=0,
        background_layout=SimpleBoxLayoutRule(
            x_align=AxisAlignment.ALIGN_MID, y_align=AxisAlignment.ALIGN_MID
        ),
    )


def completion_record(signatures: list, *, width: float, height: float) -> bytes:
    """The completion record (签署完成记录), what is known only once everyone has signed:
    for each signer in signing order the role, the name, the signing time, the serial of
    the certificate the platform CA issued for their key and the address they signed
    from. Drawn as a one-page PDF the size of the place the audit page kept for it; the
    platform seal's signature shows it as its appearance, so it is signed, as its own
    incremental update after the committee's seal, and nothing signed is re-rendered."""
    from reportlab.lib import colors

    from agreements.documents.chinese import cn_datetime
    from agreements.documents.fonts import FONT, FONT_BOLD

    out = BytesIO()
    c = EmbeddedFontCanvas(out, pagesize=(width, height))
    top = height - 4
    c.setFont(FONT_BOLD, 10)
    c.drawString(4, top - 10, "签署完成记录（平台电子印章签署）")
    # Column starts as fractions of the width: role, name, time, certificate, address.
    columns = (0.0, 0.11, 0.32, 0.58, 0.82)
    headers = ("角色", "签名人", "签署时间", "证书序列号", "签署IP地址")
    y = height - RECORD_TOP - RECORD_ROW + 3
    c.setFont(FONT_BOLD, 8)
    for x, text in zip(columns, headers, strict=True):
        c.drawString(4 + x * width, y, text)
    c.setStrokeColor(colors.Color(0.65, 0.65, 0.65))
    c.setLineWidth(0.4)
    c.line(2, y - 3, width - 2, y - 3)
    for sig in signatures:
        y -= RECORD_ROW
        cells = (
            (FONT, ROLE_SHORT.get(sig.role, sig.role)),
            (FONT, sig.signer_name or ""),
            (FONT, cn_datetime(sig.signed_at)),
            (FONT, sig.certificate_serial[:20] or "—"),
            (FONT, sig.ip or "—"),
        )
        for x, (font, text) in zip(columns, cells, strict=True):
            c.setFont(font, 7.5)
            c.drawString(4 + x * width, y, text)
    c.showPage()
    c.save()
    return out.getvalue()


def completion_record_stamp(signatures: list, box: list) -> StaticStampStyle:
    """The platform seal's appearance showing the completion record of `signatures`
    (rows with role, signer_name, signed_at, certificate_serial, ip) edge to edge in `box`
    ([page, x1, y1, x2, y2], the place the document kept for it): the agreement's and the
    joint application's."""
    _page, x1, y1, x2, y2 = box
    return _static(completion_record(signatures, width=int(x2) - int(x1), height=int(y2) - int(y1)))


def seal_agreement(agreement, pdf: bytes | None = None) -> tuple[bytes, str]:
    """Called once the last signature is in `pdf` (default: the stored signing document,
    Agreement.signing_pdf): the
    committee's seal and the platform's seal follow, each its own incremental update.
    Returns the sealed PDF and its SHA-256 (hex); storing them is agreements.services'."""
    # Every party the document names (several per side) and the mediator.
    state = signing_state(agreement)
    if not state.complete:
        raise DomainError(
            "agreement_not_fully_signed",
            f"Missing signatures: {', '.join(state.missing) or 'the parties'}.",
        )
    if pdf is None:
        pdf = bytes(agreement.signing_pdf)
    if not pdf:
        raise DomainError(
            "signing_document_missing", "The agreement has no signed document to seal."
        )
    organisation = agreement.dispute.organisation
    if organisation is not None:
        # The committee the agreement is issued under (a county centre hosts one).
        committee = issuer_name(agreement.dispute)
        # Visible at the seal's place the document kept for it (over "（印）"): the reader
        # sees the seal where the law expects it, and it is the signature itself.
        box = (agreement.signature_boxes or {}).get(SEAL_BOX)
        pdf = sign_with(
            pdf,
            organisation_key(organisation),
            field_name=f"Seal{organisation.pk}",
            reason="人民调解委员会印章",
            name=committee,
            box=box,
            stamp_style=seal_stamp(committee, size=box[3] - box[1]) if box else None,
        )
    # The platform's seal carries the completion record as its appearance, in the place
    # the audit page kept for it (issue 9, point 2); documents fixed before that place
    # existed get the seal invisible, as before.
    record = (agreement.signature_boxes or {}).get(RECORD_BOX)
    stamp = completion_record_stamp(current_signatures(agreement), record) if record else None
    pdf = seal_pdf(pdf, organisation=None, reason="平台电子印章", box=record, stamp_style=stamp)
    # --- after the last seal: the validation data (issue 9, point 4) --------------------
    # The CA chain and CRL in a DSS (and a document timestamp with a TSA), so that the
    # sealed PDF validates as PAdES B-LT offline years from now. Always the very last
    # update: nothing may follow it but later DSS renewals.
    pdf = embed_validation_data(pdf)
    return pdf, sha256(pdf)
