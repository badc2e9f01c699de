"""Revoking certificates the platform CA issued, and the CA's certificate revocation list
(issue 9, point 4). The CRL is public at pki.CRL_PATH; every certificate the CA issues
names it (pki._issue), sealed PDFs carry a copy in their DSS (ltv.py), and verification
checks every signature against the current one (verify.py).

Writes here follow the house style of services.py (keyword-only, audited); they live in
this module because they are the CA's, not an agreement's."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from asn1crypto import crl as asn1_crl
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Count, Max
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from agreements.documents import pki
from agreements.models import RevokedCertificate, Signature
from odr.audit import log_action
from odr.errors import DomainError, Invalid
from odr.lifecycle import Words, register_events

register_events(
    {
        "certificate.revoke": Words(
            "吊销证书", gettext_noop("%(actor)s revoked a certificate issued by the platform CA.")
        ),
    }
)

# A CRL is reissued when it is this old even without a new revocation, long before its
# nextUpdate (pki.CRL_VALIDITY), so that a copy fetched just before it is reissued stays
# current for days.
_REISSUE_AFTER = timedelta(days=1)


def normalise_serial(serial: str) -> str:
    """A serial as typed (hex, any case, with or without colons or 0x) in the form the
    platform stores: lower-case hex without leading zeros."""
    text = (serial or "").strip().lower().replace(":", "").removeprefix("0x")
    try:
        value = int(text, 16)
    except ValueError:
        value = -1
    if value <= 0 or len(text) > 64:
        raise Invalid(
            _("%(serial)s is not a certificate serial number (hexadecimal).") % {"serial": serial},
            code="invalid_serial",
        )
    return format(value, "x")


def _issued_by_platform(serial: str) -> bool:
    """Whether the platform's CA issued this certificate: a signature names it, or its
    certificate file is under ODR_PKI_DIR (signers', organisations' and the seal's)."""
    if Signature.objects.filter(certificate_serial=serial).exists():
        return True
    base = pki.pki_dir()
    if (base / "signers" / f"{serial}.cert.pem").is_file():
        return True
    for path in [*base.glob("orgs/*.cert.pem"), base / "ca" / "seal.cert.pem"]:
        if path.is_file() and _serial_of(path) == serial:
            return True
    return pki.platform_seal().serial == serial


def _serial_of(path: Path) -> str:
    from cryptography import x509

    try:
        return format(x509.load_pem_x509_certificate(path.read_bytes()).serial_number, "x")
    except (OSError, ValueError):
        return ""


def certificate_revoke(
    *,
    serial: str,
    reason: str,
    actor: AbstractBaseUser | None,
    note: str = "",
) -> RevokedCertificate:
    """Revokes one certificate the platform CA issued: from now on the CA's CRL lists it
    and verification reports every signature made with it as invalid. Audited; for a
    signer's certificate the event is on the signed case."""
    serial = normalise_serial(serial)
    if reason not in RevokedCertificate.Reason.values:
        raise Invalid(
            _("Choose one of the reasons: %(reasons)s.")
            % {"reasons": ", ".join(RevokedCertificate.Reason.values)},
            code="invalid_reason",
        )
    if serial == pki.ca().serial:
        raise Invalid(
            _("The CA's own certificate cannot be revoked by its own list: replace the CA."),
            code="cannot_revoke_root",
        )
    if not _issued_by_platform(serial):
        raise DomainError(
            "unknown_certificate",
            _("The platform's CA issued no certificate with the serial %(serial)s.")
            % {"serial": serial},
            status=404,
        )
    signature = (
        Signature.objects.filter(certificate_serial=serial)
        .select_related("agreement__dispute")
        .first()
    )
    try:
        with transaction.atomic():
            row = RevokedCertificate.objects.create(
                serial=serial, reason=reason, revoked_by=actor, note=note[:500]
            )
            log_action(
                action="certificate.revoke",
                obj=row,
                actor=actor,
                dispute=signature.agreement.dispute if signature else None,
                after={
                    "serial": serial,
                    "reason": reason,
                    "signature": signature.pk if signature else None,
                },
                actor_label="" if actor is not None else "manage.py revoke_certificate",
            )
    except IntegrityError:
        raise DomainError(
            "already_revoked",
            _("The certificate %(serial)s is already revoked.") % {"serial": serial},
        ) from None
    # The next current_crl() sees the new row and reissues at once; this process does so
    # now, so the CRL served next already lists it.
    transaction.on_commit(_forget_crl)
    _forget_crl()
    return row


# --- the CRL -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Crl:
    der: bytes
    # Parsed once per issued CRL: verification and the DSS use it for every signature.
    parsed: asn1_crl.CertificateList
    issued_at: datetime
    state: tuple


_lock = threading.Lock()
_crls: dict[str, Crl] = {}


def _forget_crl() -> None:
    with _lock:
        _crls.clear()


def _state() -> tuple:
    """What the CRL depends on: the CA and the revocations (one small query)."""
    agg = RevokedCertificate.objects.aggregate(n=Count("pk"), last=Max("pk"))
    return (pki.ca().serial, agg["n"], agg["last"])


def current_crl() -> Crl:
    """The CA's current CRL: reissued when a certificate was revoked since (also by another
    process: the state is read from the database) and once a day otherwise."""
    state = _state()
    key = str(pki.pki_dir())
    now = datetime.now(UTC)
    with _lock:
        cached = _crls.get(key)
        # A CRL issued "after" now (the clock was set back) would not be current yet.
        fresh = cached is not None and timedelta(0) <= now - cached.issued_at < _REISSUE_AFTER
        if fresh and cached.state == state:
            return cached
    entries = [
        pki.RevokedEntry(serial=r.serial, revoked_at=r.revoked_at, reason=r.reason)
        for r in RevokedCertificate.objects.order_by("pk")
    ]
    now = now.replace(microsecond=0)
    der = pki.build_crl(entries, now=now)
    crl = Crl(der=der, parsed=asn1_crl.CertificateList.load(der), issued_at=now, state=state)
    with _lock:
        _crls[key] = crl
    return crl


def is_revoked(serial: str) -> bool:
    return RevokedCertificate.objects.filter(serial=serial).exists()
