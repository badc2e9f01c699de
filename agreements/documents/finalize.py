"""Sealing a fully signed agreement: the final PDF, then each signer's own PAdES signature
in signing order, the committee's seal, and the platform's seal (with an RFC 3161
timestamp when a TSA is configured) last, every one an incremental update so that each
earlier signature stays verifiable (Electronic Signature Law Art. 13)."""

from __future__ import annotations

from cryptography.x509.oid import NameOID

from agreements.documents.ltv import embed_validation_data
from agreements.documents.pdf import (
    ROLE_SHORT,
    issuer_name,
    render_agreement_pdf,
    signing_state,
)
from agreements.documents.pki import (
    KeyPair,
    organisation_key,
    seal_pdf,
    sha256,
    sign_with,
    signer_key,
)
from odr.errors import DomainError


def signature_field_name(index: int, role: str) -> str:
    return f"Signature{index}_{role}"


def signature_reason(sig) -> str:
    """The signature's /Reason: the role, and the version and SHA-256 of the document as
    that signer read it when signing (Signature.version, .document_sha256, the audit
    event's too). The signature dictionary lies inside the bytes the signature covers, so
    what the signer's signature binds is named in the signed file itself (issue 9,
    point 3), e.g. "申请人签署；第3版 SHA-256 9f86d0…"."""
    reason = f"{ROLE_SHORT.get(sig.role, sig.role)}签署；第{sig.version}版"
    return f"{reason} SHA-256 {sig.document_sha256}" if sig.document_sha256 else reason


def _checked_key(agreement, sig) -> KeyPair:
    if not sig.certificate_serial:
        raise DomainError(
            "signer_certificate_missing",
            f"The {sig.role}'s signature has no certificate: issue one with "
            "issue_signer_certificate() when they sign.",
        )
    pair = signer_key(sig.certificate_serial)
    # The certificate names the agreement and role it was issued for; a serial copied
    # from another agreement must not sign this one.
    pseudonyms = pair.cert.subject.get_attributes_for_oid(NameOID.PSEUDONYM)
    expected = f"{agreement.document_id}/{sig.role}"
    # With several parties on a side a certificate may also name the party: ".../<id>".
    if not pseudonyms or (
        pseudonyms[0].value != expected and not pseudonyms[0].value.startswith(expected + "/")
    ):
        raise DomainError(
            "signer_certificate_mismatch",
            f"The certificate {sig.certificate_serial} was not issued for this agreement's "
            f"{sig.role}.",
        )
    return pair


def seal_agreement(agreement) -> tuple[bytes, str]:
    """Called once the last signature is in. Returns the sealed PDF and its SHA-256 (hex);
    storing them on the agreement is the caller's (agreements.services) job."""
    # Every party the document names (several per side) and the mediator.
    state = signing_state(agreement)
    if not state.complete:
        raise DomainError(
            "agreement_not_fully_signed",
            f"Missing signatures: {', '.join(state.missing) or 'the parties'}.",
        )
    keys = [(sig, _checked_key(agreement, sig)) for sig in state.signatures]
    pdf = render_agreement_pdf(agreement)
    for index, (sig, pair) in enumerate(keys, start=1):
        pdf = sign_with(
            pdf,
            pair,
            field_name=signature_field_name(index, sig.role),
            reason=signature_reason(sig),
        )
    organisation = agreement.dispute.organisation
    if organisation is not None:
        pdf = sign_with(
            pdf,
            organisation_key(organisation),
            field_name=f"Seal{organisation.pk}",
            reason="人民调解委员会印章",
            # The committee the agreement is issued under (a county centre hosts one).
            name=issuer_name(agreement.dispute),
        )
    pdf = seal_pdf(pdf, organisation=None, reason="平台电子印章")
    # --- after the last seal: the validation data (issue 9, point 4) --------------------
    # The CA chain and CRL in a DSS (and a document timestamp with a TSA), so that the
    # sealed PDF validates as PAdES B-LT offline years from now. Always the very last
    # update: nothing may follow it but later DSS renewals.
    pdf = embed_validation_data(pdf)
    return pdf, sha256(pdf)
