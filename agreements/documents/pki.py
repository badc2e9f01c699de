"""The platform's certificate authority, the keys it issues, and PAdES signing.

Electronic Signature Law Art. 13 asks that a signature be under the signer's sole control
and that any later change be detectable. So each signer makes a key of their own on their
device at the signing moment, the platform's CA certifies its public key after
re-authentication, and each signature is a PAdES signature over the document made in two
steps (see finalize.py); people's mediation
committees and the platform itself seal with their own keys from the same CA. A court's
seal is the court's own (court_seal): loaded from ODR_COURT_SEALS in production, a
development specimen marked 样章 otherwise; the platform never mints it.

Key material never lives in the repository or the database. In development the root CA
and the platform seal are generated on first use under settings.ODR_PKI_DIR; in
production they are loaded from the files named by ODR_CA_CERT / ODR_CA_KEY /
ODR_SEAL_CERT / ODR_SEAL_KEY (a licensed CA's certificates) and nothing is ever
generated in their place. Organisations' seal keys the CA issues are written under
ODR_PKI_DIR with owner-only permissions. Signers' keys are made on the signer's own
device and never reach the server: the CA only certifies their public key
(certify_signer_key).

Layout of ODR_PKI_DIR:
    ca/root.{key,cert}.pem     development root CA
    ca/seal.{key,cert}.pem     development platform seal
    orgs/<organisation id>.{key,cert}.pem
    orgs/court-<id>-specimen.{key,cert}.pem   development court seal (样章)
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import hashlib
import os
import threading
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path

from asn1crypto import cms, tsp
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext as _
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.sign import fields, signers
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore

from odr import people
from odr.errors import DomainError

PLATFORM_NAME = "ODR 在线矛盾纠纷多元化解平台"
_CA_YEARS = 30
# Long enough that an agreement checked years later still validates without a
# timestamp; a licensed CA's policy replaces this in production.
_LEAF_YEARS = 10


class PkiError(ImproperlyConfigured):
    """The CA or a key is missing or unusable: a configuration problem, never user input."""


@dataclass(frozen=True)
class KeyPair:
    cert: x509.Certificate
    # None for a certificate issued to a key the platform does not hold (a signer's).
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | None

    @property
    def serial(self) -> str:
        return format(self.cert.serial_number, "x")

    # The asn1crypto forms pyHanko signs with, made once per pair: the CA's and the seals'
    # pairs are cached for the process and sign or validate on every agreement.
    def asn1_cert(self) -> asn1_x509.Certificate:
        cached = self.__dict__.get("_asn1_cert")
        if cached is None:
            cached = asn1_x509.Certificate.load(self.cert.public_bytes(serialization.Encoding.DER))
            object.__setattr__(self, "_asn1_cert", cached)
        return cached

    def asn1_key(self) -> asn1_keys.PrivateKeyInfo:
        cached = self.__dict__.get("_asn1_key")
        if cached is None:
            cached = asn1_keys.PrivateKeyInfo.load(
                self.key.private_bytes(
                    serialization.Encoding.DER,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
            object.__setattr__(self, "_asn1_key", cached)
        return cached


# --- where things live ---------------------------------------------------------------


def pki_dir() -> Path:
    """ODR_PKI_DIR, refused inside the code's own tree: keys there are one `git add`
    away from the repository."""
    return _resolved_pki_dir(str(settings.ODR_PKI_DIR), str(settings.BASE_DIR))


@functools.lru_cache(maxsize=8)
def _resolved_pki_dir(pki: str, base_dir: str) -> Path:
    """pki_dir() for these settings, resolved once: every signature asks for the CA
    (ca() keys its cache by the directory) and resolving the path took a system call per
    component each time (about half a millisecond per agreement). A refusal is not
    cached (lru_cache keeps no exception), so it is raised again at every call."""
    path = Path(pki).resolve()
    base = Path(base_dir).resolve()
    if path == base or base in path.parents:
        raise PkiError(
            f"ODR_PKI_DIR ({path}) is inside the project directory {base}: keys must live "
            "outside the repository. Point ODR_PKI_DIR elsewhere (default "
            "~/.local/share/odr-pki)."
        )
    return path


def may_generate() -> bool:
    """Only development and tests generate a CA; production must be given one."""
    return bool(settings.DEBUG or settings.TESTING)


_thread_lock = threading.RLock()
_lock_depth = 0


@contextlib.contextmanager
def _dir_lock() -> Iterator[None]:
    """An exclusive lock over ODR_PKI_DIR, so that two processes starting at once do not
    each generate a root CA (and sign with different ones). Reentrant within a process:
    issuing the seal or an organisation's key may have to create the CA first, and a
    second flock() on a new descriptor would wait for the first forever."""
    global _lock_depth
    with _thread_lock:
        if _lock_depth:
            _lock_depth += 1
            try:
                yield
            finally:
                _lock_depth -= 1
            return
        base = pki_dir()
        base.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(base / ".lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            _lock_depth = 1
            try:
                yield
            finally:
                _lock_depth = 0
                fcntl.flock(handle, fcntl.LOCK_UN)


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def _password() -> bytes | None:
    value = settings.ODR_PKI_KEY_PASSWORD
    return value.encode() if value else None


def _key_pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    # With ODR_PKI_KEY_PASSWORD set, a copy of the directory alone signs nothing.
    password = _password()
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption(),
    )


def _save_pair(stem: Path, pair: KeyPair) -> None:
    # The key first: a certificate without its key on disk would look issued but be useless.
    _write_private(stem.with_name(stem.name + ".key.pem"), _key_pem(pair.key))
    _write_private(
        stem.with_name(stem.name + ".cert.pem"), pair.cert.public_bytes(serialization.Encoding.PEM)
    )


def _load_pair(cert_path: Path, key_path: Path) -> KeyPair:
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        data = key_path.read_bytes()
        encrypted = b"ENCRYPTED" in data[:64]
        if encrypted and _password() is None:
            raise PkiError(f"{key_path} is encrypted: set ODR_PKI_KEY_PASSWORD.")
        key = serialization.load_pem_private_key(data, password=_password() if encrypted else None)
    except (OSError, ValueError, TypeError) as exc:
        raise PkiError(f"Cannot load the key pair {cert_path} / {key_path}: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise PkiError(f"{key_path} is not an EC or RSA signing key.")
    return KeyPair(cert=cert, key=key)


def _load_stem(stem: Path) -> KeyPair | None:
    cert_path = stem.with_name(stem.name + ".cert.pem")
    key_path = stem.with_name(stem.name + ".key.pem")
    if not (cert_path.is_file() and key_path.is_file()):
        return None
    return _load_pair(cert_path, key_path)


# --- issuing -------------------------------------------------------------------------


def _clip(value: str, limit: int) -> str:
    """X.509 limits names in UTF-8 bytes (a Chinese character takes three)."""
    while len(value.encode()) > limit:
        value = value[:-1]
    return value


# X.520 description (id-at-description): what a signer's certificate was issued to sign.
DESCRIPTION_OID = x509.ObjectIdentifier("2.5.4.13")


def _name(
    common_name: str,
    *,
    org: str = PLATFORM_NAME,
    unit: str = "",
    email: str = "",
    pseudonym: str = "",
    description: str = "",
) -> x509.Name:
    attrs = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, _clip(org, 64)),
    ]
    if unit:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, _clip(unit, 64)))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, _clip(common_name, 64)))
    if pseudonym:
        attrs.append(x509.NameAttribute(NameOID.PSEUDONYM, _clip(pseudonym, 128)))
    if email:
        attrs.append(x509.NameAttribute(NameOID.EMAIL_ADDRESS, _clip(email, 128)))
    if description:
        attrs.append(x509.NameAttribute(DESCRIPTION_OID, _clip(description, 1024)))
    return x509.Name(attrs)


def _issue(
    *,
    subject: x509.Name,
    issuer: KeyPair | None,
    is_ca: bool = False,
    years: int = _LEAF_YEARS,
    time_stamping: bool = False,
    email: str = "",
    rsa_key: bool = False,
    public_key: ec.EllipticCurvePublicKey | None = None,
    days: int | None = None,
) -> KeyPair:
    """Issues a certificate, for a new key (EC P-256 by default: signing is several times
    faster than RSA-2048 and every PDF validator accepts it; RSA only for peers that need
    it, some TSAs), or for `public_key`, a key someone else holds (a signer's own: the
    pair returned then has no private key)."""
    key = None
    if public_key is None:
        key = (
            rsa.generate_private_key(public_exponent=65537, key_size=2048)
            if rsa_key
            else ec.generate_private_key(ec.SECP256R1())
        )
        public_key = key.public_key()
    now = datetime.now(UTC).replace(microsecond=0)
    signing_key = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        # A little slack backwards: a signature made right after issue must not fall
        # before the certificate's start on a machine whose clock is a second behind.
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=days if days is not None else 365 * years))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not is_ca,
                content_commitment=not is_ca and not time_stamping,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=is_ca,
                crl_sign=is_ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
    if time_stamping:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
        )
    if email:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.RFC822Name(email)]), critical=False
        )
    if issuer is not None:
        # Where a validator finds whether this certificate was revoked (the CA's CRL) and
        # the certificate of its issuer: absolute URLs on the platform's public address.
        builder = builder.add_extension(
            x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint(
                        full_name=[x509.UniformResourceIdentifier(crl_url())],
                        relative_name=None,
                        reasons=None,
                        crl_issuer=None,
                    )
                ]
            ),
            critical=False,
        ).add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.CA_ISSUERS,
                        x509.UniformResourceIdentifier(ca_certificate_url()),
                    )
                ]
            ),
            critical=False,
        )
    cert = builder.sign(signing_key, hashes.SHA256())
    return KeyPair(cert=cert, key=key)


_cache: dict[tuple[str, str], KeyPair] = {}


# Fixed paths (agreements/documents/urls.py serves them): they are written into every
# certificate the CA issues, so they must never move.
CRL_PATH = "/pki/ca.crl"
CA_CERT_PATH = "/pki/ca.cer"


def crl_url() -> str:
    return f"{settings.SITE_URL}{CRL_PATH}"


def ca_certificate_url() -> str:
    return f"{settings.SITE_URL}{CA_CERT_PATH}"


# How long a CRL stays current. Validators refuse one past its nextUpdate, so the platform
# issues a fresh one well before (revocation.current_crl: daily, and at once on a
# revocation).
CRL_VALIDITY = timedelta(days=7)

# RevokedCertificate.Reason's values as RFC 5280 reason codes.
_CRL_REASONS = {
    "unspecified": x509.ReasonFlags.unspecified,
    "key_compromise": x509.ReasonFlags.key_compromise,
    "affiliation_changed": x509.ReasonFlags.affiliation_changed,
    "superseded": x509.ReasonFlags.superseded,
    "cessation_of_operation": x509.ReasonFlags.cessation_of_operation,
}


@dataclass(frozen=True)
class RevokedEntry:
    serial: str  # hex, as KeyPair.serial
    revoked_at: datetime
    reason: str  # a key of _CRL_REASONS


def build_crl(entries: list[RevokedEntry], *, now: datetime | None = None) -> bytes:
    """The platform CA's CRL (DER) listing `entries`, valid from now for CRL_VALIDITY. Its
    number is the issue time in seconds, so a later CRL always has a higher one."""
    authority = ca()
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(authority.cert.subject)
        .last_update(now)
        .next_update(now + CRL_VALIDITY)
        .add_extension(x509.CRLNumber(int(now.timestamp())), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(authority.key.public_key()),
            critical=False,
        )
    )
    for entry in entries:
        revoked = (
            x509.RevokedCertificateBuilder()
            .serial_number(int(entry.serial, 16))
            .revocation_date(entry.revoked_at.astimezone(UTC).replace(microsecond=0))
        )
        reason = _CRL_REASONS.get(entry.reason, x509.ReasonFlags.unspecified)
        if reason is not x509.ReasonFlags.unspecified:
            # RFC 5280 5.3.1: "unspecified" is expressed by leaving the extension out.
            revoked = revoked.add_extension(x509.CRLReason(reason), critical=False)
        builder = builder.add_revoked_certificate(revoked.build())
    return builder.sign(authority.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


# The settings naming each platform pair's files, for the messages that ask for them.
_SETTING_NAMES = {"root": ("ODR_CA_CERT", "ODR_CA_KEY"), "seal": ("ODR_SEAL_CERT", "ODR_SEAL_KEY")}


def _configured(kind: str) -> KeyPair | None:
    """The root CA's or the platform seal's certificate and key from their files, when
    settings name them."""
    cert_path, key_path = {
        "root": (settings.ODR_CA_CERT, settings.ODR_CA_KEY),
        "seal": (settings.ODR_SEAL_CERT, settings.ODR_SEAL_KEY),
    }[kind]
    if cert_path and key_path:
        return _load_pair(Path(cert_path), Path(key_path))
    if cert_path or key_path:
        cert_setting, key_setting = _SETTING_NAMES[kind]
        raise PkiError(f"Set both {cert_setting} and {key_setting}, or neither.")
    return None


def _platform_pair(kind: str) -> KeyPair:
    """The root CA ("root") or the platform seal ("seal"): configured files first; else,
    in development only, generated once under ODR_PKI_DIR."""
    cache_key = (str(pki_dir()), kind)
    if cache_key in _cache:
        return _cache[cache_key]
    pair = _configured(kind)
    if pair is None:
        stem = pki_dir() / "ca" / kind
        pair = _load_stem(stem)
        if pair is None:
            if not may_generate():
                cert_name, key_name = _SETTING_NAMES[kind]
                raise PkiError(
                    f"No platform {'CA' if kind == 'root' else 'seal'} key: set {cert_name} and "
                    f"{key_name} to the certificate and key files. Production never generates "
                    "its own CA."
                )
            with _dir_lock():
                pair = _load_stem(stem)
                if pair is None:
                    if kind == "root":
                        pair = _issue(
                            subject=_name("ODR Platform Root CA (development)"),
                            issuer=None,
                            is_ca=True,
                            years=_CA_YEARS,
                        )
                    else:
                        pair = _issue(
                            subject=_name("ODR 平台电子印章 Platform Seal", unit="platform seal"),
                            issuer=ca(),
                        )
                    _save_pair(stem, pair)
    _cache[cache_key] = pair
    return pair


def ca() -> KeyPair:
    """The CA that issues every signer's, organisation's and the platform's certificate;
    its certificate is the trust root of verification."""
    return _platform_pair("root")


def platform_seal() -> KeyPair:
    return _platform_pair("seal")


def trust_roots() -> list[asn1_x509.Certificate]:
    return [ca().asn1_cert(), *court_trust_roots()]


# A signer's certificate lives as long as a signing takes and a little more: it certifies
# a key made for one signature, which the signer's device never reuses (DESIGN §3).
SIGNER_CERT_DAYS = 30


class SignerKeyError(DomainError):
    """The public key a signer submitted cannot be certified."""


def load_signer_public_key(pem: str) -> ec.EllipticCurvePublicKey:
    """The signer's own public key (SPKI PEM) as CONTRACT §3 asks: EC on P-256."""
    try:
        key = serialization.load_pem_public_key(pem.strip().encode())
    except (ValueError, TypeError, UnicodeError):
        raise SignerKeyError(
            "invalid_public_key",
            _("The public key is not a PEM-encoded public key (SPKI)."),
            status=422,
        ) from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise SignerKeyError(
            "invalid_public_key",
            _("The public key must be an EC key on the P-256 curve."),
            status=422,
        )
    return key


def certify_signer_key(
    *,
    public_key: ec.EllipticCurvePublicKey,
    user,
    agreement,
    role: str,
    party_id=None,
    document: str = "",
) -> x509.Certificate:
    """The platform CA's certificate for the key the signer made on their own device at
    the signing moment, issued only after they re-authenticated. It names the signer by
    their verified real name, unmasked (masking belongs to the verification page, not to
    a certificate), the agreement's document id and the role (and party) it signs for,
    and in its description `document`: the version and SHA-256 of the document the signer
    read (the signature's /Reason, e.g. "申请人签署；第3版 SHA-256 9f86d0…", issue 9
    point 3). The server never sees the private key: there is no signer key to keep."""
    pseudonym = f"{agreement.document_id}/{role}" + (f"/{party_id}" if party_id else "")
    pair = _issue(
        subject=_name(
            people.display_name(user), unit=str(role), pseudonym=pseudonym, description=document
        ),
        issuer=ca(),
        email=user.email or "",
        public_key=public_key,
        days=SIGNER_CERT_DAYS,
    )
    return pair.cert


def organisation_key(organisation) -> KeyPair:
    """The organisation's own seal key, issued by the CA on first use: a people's
    mediation committee's (the platform certifies the committees it hosts, also in
    production). A court's key is never minted here: it is the court's own (court_seal)."""
    if getattr(organisation, "is_court", False):
        return court_seal(organisation).pair
    stem = pki_dir() / "orgs" / str(organisation.pk)
    pair = _load_stem(stem)
    if pair is None:
        with _dir_lock():
            pair = _load_stem(stem)
            if pair is None:
                pair = _issue(
                    subject=_name(organisation.name, org=organisation.name, unit="seal"),
                    issuer=ca(),
                )
                _save_pair(stem, pair)
    return pair


# --- the court's own seal --------------------------------------------------------------

# What the development seal says of itself, on its face and in its certificate: a
# specimen (样章) that no court issued, so that a ruling sealed with it is recognisable as
# such wherever it ends up.
SPECIMEN_LABEL = "样章"
SPECIMEN_UNIT = "样章 development specimen, not a court seal"


@dataclass(frozen=True)
class CourtSeal:
    """A court's seal: its signing key and certificate, the issuers of that certificate
    up to a root (empty when the platform's CA issued it), and the picture of the seal
    stamped over the ruling's date (PNG bytes; None for the development specimen, which
    the documents draw with 样章 on its face)."""

    pair: KeyPair
    chain: tuple[x509.Certificate, ...] = ()
    image: bytes | None = None
    specimen: bool = False


def court_seals_setting() -> dict[str, dict]:
    """settings.ODR_COURT_SEALS read as a mapping: a dict, a JSON object, or the path of
    a JSON file holding one. Keys are a court's code as in its case numbers (浙0523), its
    Organisation.case_code (浙0523民特) or its id; values name files:
    {"cert": PEM, "key": PEM, "image": PNG, "chain": PEM of the issuers (optional)}."""
    raw = settings.ODR_COURT_SEALS or {}
    if isinstance(raw, str):
        text = raw.strip()
        if not text.startswith("{"):
            try:
                text = Path(text).read_text(encoding="utf-8")
            except OSError as exc:
                raise PkiError(f"ODR_COURT_SEALS names {raw}, which cannot be read: {exc}") from exc
        import json

        try:
            raw = json.loads(text)
        except ValueError as exc:
            raise PkiError(f"ODR_COURT_SEALS is not a JSON object: {exc}") from exc
    if not isinstance(raw, dict) or not all(isinstance(v, dict) for v in raw.values()):
        raise PkiError(
            'ODR_COURT_SEALS must map a court\'s code to {"cert": ..., "key": ..., "image": ...}.'
        )
    return raw


def _court_keys(court) -> list[str]:
    code = (court.case_code or "").strip()
    return [k for k in (code.removesuffix("民特"), code, str(court.pk)) if k]


def _court_example(court) -> str:
    code = _court_keys(court)[0]
    return (
        f'ODR_COURT_SEALS=\'{{"{code}": {{"cert": "/etc/odr/courts/{code}.cert.pem", '
        f'"key": "/etc/odr/courts/{code}.key.pem", "image": "/etc/odr/courts/{code}.png"}}}}\''
    )


def _configured_court_seal(court, entry: dict) -> CourtSeal:
    missing = [k for k in ("cert", "key", "image") if not entry.get(k)]
    if missing:
        raise PkiError(
            f"ODR_COURT_SEALS for {court.name} lacks {', '.join(missing)}: give the court's "
            f"certificate, key and seal image, e.g. {_court_example(court)}."
        )
    pair = _load_pair(Path(entry["cert"]), Path(entry["key"]))
    chain: list[x509.Certificate] = []
    if entry.get("chain"):
        try:
            chain = x509.load_pem_x509_certificates(Path(entry["chain"]).read_bytes())
        except (OSError, ValueError) as exc:
            raise PkiError(
                f"Cannot load the chain {entry['chain']} of {court.name}: {exc}"
            ) from exc
    try:
        image = Path(entry["image"]).read_bytes()
    except OSError as exc:
        raise PkiError(f"Cannot read the seal image of {court.name}: {exc}") from exc
    if not image.startswith(b"\x89PNG\r\n\x1a\n"):
        raise PkiError(
            f"The seal image of {court.name} ({entry['image']}) is not a PNG: give the seal "
            "as a PNG with a transparent background."
        )
    return CourtSeal(pair=pair, chain=tuple(chain), image=image, specimen=False)


def court_seal(court) -> CourtSeal:
    """The court's seal. Production: the court's own key, certificate and seal image from
    ODR_COURT_SEALS; the platform never mints a court's key, and a court without an entry
    stops the ruling with ImproperlyConfigured naming what to set. Development and tests
    (and only they): a specimen key issued by the development CA, its certificate saying
    it is a specimen, and no image: the ruling draws a round seal with 样章 on its face."""
    seals = court_seals_setting()
    for key in _court_keys(court):
        if key in seals:
            cache_key = (f"court:{key}", repr(sorted(seals[key].items())))
            if cache_key not in _cache_seals:
                _cache_seals[cache_key] = _configured_court_seal(court, seals[key])
            return _cache_seals[cache_key]
    if not may_generate():
        raise PkiError(
            f"No seal configured for the court {court.name}: the platform never makes a "
            f"court's seal. Set ODR_COURT_SEALS to the court's own certificate, key and seal "
            f"image, e.g. {_court_example(court)}."
        )
    stem = pki_dir() / "orgs" / f"court-{court.pk}-specimen"
    pair = _load_stem(stem)
    if pair is None:
        ca()  # outside the lock below when the CA is made first
        with _dir_lock():
            pair = _load_stem(stem)
            if pair is None:
                pair = _issue(
                    subject=_name(court.name, org=court.name, unit=SPECIMEN_UNIT),
                    issuer=ca(),
                )
                _save_pair(stem, pair)
    return CourtSeal(pair=pair, specimen=True)


_cache_seals: dict[tuple[str, str], CourtSeal] = {}


def court_trust_roots() -> list[asn1_x509.Certificate]:
    """The self-signed roots of the courts' configured chains: a court's certificate may
    come from another licensed CA than the platform's, and its rulings must verify."""
    out = []
    for entry in court_seals_setting().values():
        if not entry.get("chain"):
            continue
        try:
            certs = x509.load_pem_x509_certificates(Path(entry["chain"]).read_bytes())
        except (OSError, ValueError):
            continue  # court_seal() says what is wrong when the court seals
        for cert in certs:
            if cert.issuer == cert.subject:
                out.append(
                    asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
                )
    return out


# --- PAdES signing -------------------------------------------------------------------


# The CMS signed attributes of a PAdES signature, encoded directly. pyHanko builds them
# as asn1crypto objects, whose DER is re-encoded from every nested value each time it is
# read (they stay "mutated"): 10-20 ms of CPU per signature, more than the rest of the
# signature together (bench/agreements). The bytes are the same as pyHanko's
# (tests/agreements/test_signed_attributes.py compares them): content type data, the
# message digest and the ESS signing-certificate-v2 (RFC 5035: SHA-256 of the
# certificate, its issuer and serial), as a DER SET OF sorted by encoding.
_ATTR_CONTENT_TYPE = bytes.fromhex("301806092a864886f70d010903310b06092a864886f70d010701")
_OID_MESSAGE_DIGEST = bytes.fromhex("06092a864886f70d010904")
_OID_SIGNING_CERTIFICATE_V2 = bytes.fromhex("060b2a864886f70d010910022f")


def _der(tag: int, body: bytes) -> bytes:
    size = len(body)
    if size < 0x80:
        return bytes((tag, size)) + body
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(length))) + length + body


def pades_signed_attributes(cert: asn1_x509.Certificate, message_digest: bytes) -> bytes:
    """The DER of the signed attributes pyHanko makes for a PAdES signature with SHA-256
    by `cert` over a document whose digest is `message_digest` (what the signer signs)."""
    tbs = cert["tbs_certificate"]
    issuer_serial = _der(
        0x30, _der(0x30, _der(0xA4, tbs["issuer"].dump())) + tbs["serial_number"].dump()
    )
    # ESSCertIDv2: the hash algorithm is the DEFAULT (SHA-256), so it is left out.
    ess_cert_id = _der(0x30, _der(0x04, hashlib.sha256(cert.dump()).digest()) + issuer_serial)
    signing_certificate = _der(
        0x30, _OID_SIGNING_CERTIFICATE_V2 + _der(0x31, _der(0x30, _der(0x30, ess_cert_id)))
    )
    digest = _der(0x30, _OID_MESSAGE_DIGEST + _der(0x31, _der(0x04, message_digest)))
    return _der(0x31, b"".join(sorted((_ATTR_CONTENT_TYPE, digest, signing_certificate))))


class ChainStore(SimpleCertificateStore):
    """The certificates a signature carries (the signer's and its issuers'), indexed only
    if something looks one up. Signing only iterates over them; indexing a new signer
    certificate (its name normalised for lookups, its extensions parsed) cost about a
    millisecond per step of every signature."""

    def __init__(self) -> None:
        super().__init__()
        self._unindexed: list[asn1_x509.Certificate] = []

    @classmethod
    def from_certs(cls, certs) -> ChainStore:
        store = cls()
        for cert in certs:
            store.register(cert)
        return store

    def register(self, cert: asn1_x509.Certificate) -> bool:
        if cert.issuer_serial in self.certs:
            return False
        self.certs[cert.issuer_serial] = cert
        self._unindexed.append(cert)
        return True

    def _index(self) -> None:
        pending, self._unindexed = self._unindexed, []
        for cert in pending:
            del self.certs[cert.issuer_serial]
            super().register(cert)

    def retrieve_many_by_key_identifier(self, key_identifier: bytes):
        self._index()
        return super().retrieve_many_by_key_identifier(key_identifier)

    def retrieve_many_by_key_hash(self, key_hash: bytes):
        self._index()
        return super().retrieve_many_by_key_hash(key_hash)

    def retrieve_by_name(self, name: asn1_x509.Name):
        self._index()
        return super().retrieve_by_name(name)


class PadesSigner(signers.SimpleSigner):
    """pyHanko's SimpleSigner with the signed attributes of a plain PAdES signature
    encoded directly (pades_signed_attributes); anything else (CAdES attributes, another
    digest, a non-PDF signature) goes through pyHanko as before."""

    async def signed_attrs(
        self,
        data_digest: bytes,
        digest_algorithm: str,
        attr_settings=None,
        content_type="data",
        use_pades=False,
        timestamper=None,
        dry_run=False,
        is_pdf_sig=True,
    ):
        plain = (
            use_pades
            and is_pdf_sig
            and content_type == "data"
            and digest_algorithm == "sha256"
            and self.signed_attr_prov_spec is None
            and (attr_settings is None or attr_settings.cades_signed_attrs is None)
        )
        if not plain:
            return await super().signed_attrs(
                data_digest,
                digest_algorithm,
                attr_settings=attr_settings,
                content_type=content_type,
                use_pades=use_pades,
                timestamper=timestamper,
                dry_run=dry_run,
                is_pdf_sig=is_pdf_sig,
            )
        return cms.CMSAttributes.load(pades_signed_attributes(self.signing_cert, data_digest))


_RESERVED_BYTES = 8192


class UrlTimeStamper(TimeStamper):
    """RFC 3161 over HTTP with the standard library (no extra HTTP client needed)."""

    def __init__(self, url: str, *, timeout: float = 15) -> None:
        super().__init__()
        self.url = url
        self.timeout = timeout

    def _post(self, body: bytes) -> bytes:
        request = urllib.request.Request(
            self.url, data=body, headers={"Content-Type": "application/timestamp-query"}
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            return response.read()

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        raw = await asyncio.to_thread(self._post, req.dump())
        return tsp.TimeStampResp.load(raw)


def timestamper() -> TimeStamper | None:
    url = settings.ODR_TSA_URL
    return UrlTimeStamper(url) if url else None


def off_loop(fn, /, *args, **kwargs):
    """Runs pyHanko's synchronous API, which calls asyncio.run(), in a worker thread when
    this thread already runs an event loop (an async view, a consumer, Playwright's sync
    API): asyncio.run() refuses to start inside a running loop. No ORM use in `fn`."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return fn(*args, **kwargs)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn, *args, **kwargs).result()


def sign_with(
    pdf: bytes,
    pair: KeyPair,
    *,
    field_name: str,
    reason: str,
    name: str | None = None,
    location: str | None = None,
    use_timestamp: bool = False,
    issuers: tuple[x509.Certificate, ...] | None = None,
    box: list | None = None,
    stamp_style=None,
) -> bytes:
    """Adds one PAdES signature (field `field_name`) to `pdf` as an incremental update:
    every earlier byte and signature stays as it was. `issuers`: the certificates above
    the signer's when another CA than the platform's issued it (a court's own). `box`
    ([page, x1, y1, x2, y2]) makes the field visible there, drawn by `stamp_style` (a
    pyHanko stamp style: the committee's round seal); without it the field is invisible."""
    return _sign(
        IncrementalPdfFileWriter(BytesIO(pdf), strict=False),
        pair,
        field_name=field_name,
        reason=reason,
        name=name,
        location=location,
        use_timestamp=use_timestamp,
        issuers=issuers,
        box=box,
        stamp_style=stamp_style,
    )


def _sign(
    writer: IncrementalPdfFileWriter,
    pair: KeyPair,
    *,
    field_name: str,
    reason: str,
    name: str | None,
    location: str | None,
    use_timestamp: bool,
    issuers: tuple[x509.Certificate, ...] | None,
    box: list | None,
    stamp_style,
) -> bytes:
    """sign_with over a writer already opened on the document."""
    if issuers:
        chain = [pair.asn1_cert()] + [
            asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in issuers
        ]
    else:
        chain = [pair.asn1_cert(), ca().asn1_cert()]
    signer = PadesSigner(
        signing_cert=chain[0],
        signing_key=pair.asn1_key(),
        cert_registry=ChainStore.from_certs(chain),
    )
    meta = signers.PdfSignatureMetadata(
        field_name=field_name,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason,
        name=name,
        location=location,
    )
    stamper = timestamper() if use_timestamp else None
    spec = fields.SigFieldSpec(sig_field_name=field_name)
    if box:
        page, x1, y1, x2, y2 = box
        spec = fields.SigFieldSpec(
            sig_field_name=field_name,
            on_page=int(page),
            box=(int(x1), int(y1), int(x2), int(y2)),
        )
    pdf_signer = signers.PdfSigner(
        meta, signer=signer, timestamper=stamper, stamp_style=stamp_style, new_field_spec=spec
    )
    out = off_loop(
        pdf_signer.sign_pdf,
        writer,
        # Without a timestamp the CMS size is known (two EC certificates, one signature:
        # about 1.6 KB); reserving it skips pyHanko's dummy signing pass, which costs as
        # much as the real one. A TSA's token and chain vary, so pyHanko measures those.
        bytes_reserved=None if stamper else _RESERVED_BYTES,
    )
    return out.getvalue()


def seal_pdf(
    pdf: bytes, *, organisation=None, reason: str, box: list | None = None, stamp_style=None
) -> bytes:
    """Seals `pdf` with the organisation's key (a court's ruling, a committee's document),
    or with the platform seal when organisation is None, as the last incremental update,
    with an RFC 3161 timestamp when settings.ODR_TSA_URL is set. `box` and `stamp_style`
    make the seal's field visible (sign_with)."""
    issuers: tuple[x509.Certificate, ...] = ()
    if organisation is None:
        pair, field, name = platform_seal(), "PlatformSeal", PLATFORM_NAME
    elif getattr(organisation, "is_court", False):
        # The court's own seal (configured in production, a specimen in development).
        seal = court_seal(organisation)
        pair, issuers, name = seal.pair, seal.chain, organisation.name
        field = f"Seal{organisation.pk}"
    else:
        pair, name = organisation_key(organisation), organisation.name
        field = f"Seal{organisation.pk}"
    try:
        # One reader for the field names and the signature: opening the document twice
        # parsed its cross-reference sections twice.
        writer = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
        # A document sealed twice by the same organisation gets a second field, not a clash.
        existing = _field_names(writer.prev)
        base, n = field, 2
        while field in existing:
            field, n = f"{base}_{n}", n + 1
        return _sign(
            writer,
            pair,
            field_name=field,
            reason=reason,
            name=name,
            location=None,
            use_timestamp=True,
            issuers=issuers or None,
            box=box,
            stamp_style=stamp_style,
        )
    except (OSError, ValueError) as exc:
        if timestamper() is None:
            raise
        # The TSA is down or answered nonsense: refuse cleanly so the caller's transaction
        # rolls back and the step can be retried, instead of sealing without the time.
        raise timestamp_unavailable() from exc


def timestamp_unavailable() -> DomainError:
    return DomainError(
        "timestamp_unavailable",
        _("The timestamp authority did not answer; nothing was sealed. Try again shortly."),
        status=503,
    )


def _field_names(reader) -> set[str]:
    """Signature field names already in the file (form fields only: parsing the signatures
    themselves would cost more than signing)."""
    try:
        return {str(field["/T"]) for field in signature_fields(reader)}
    except (PdfError, ValueError, KeyError, TypeError):
        # An unreadable PDF fails loudly when it is signed, with pyHanko's own message.
        return set()


def signature_fields(reader) -> list:
    """The top-level signature fields of the file, without resolving their values:
    pyHanko's enumerate_sig_fields reads each one's signature dictionary, whose /Contents
    its parser takes a byte at a time (the platform's fields are all top-level)."""
    try:
        fields = reader.root["/AcroForm"]["/Fields"]
    except KeyError:
        return []
    found = []
    for ref in fields:
        field = ref.get_object()
        if field.get("/FT") == "/Sig" and "/T" in field:
            found.append(field)
    return found


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
