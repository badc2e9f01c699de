"""The CMS signed attributes the platform encodes itself (pki.pades_signed_attributes,
for speed) are byte for byte those pyHanko makes, for every kind of certificate the
platform signs with; anything but a plain PAdES signature still goes through pyHanko."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from asn1crypto import cms
from cryptography.hazmat.primitives.asymmetric import ec
from pyhanko.sign import signers
from pyhanko_certvalidator.registry import SimpleCertificateStore

from agreements.documents import pki
from agreements.documents.finalize import _asn1
from tests import factories

pytestmark = pytest.mark.django_db


def _pyhanko_attributes(cert, digest: bytes, **kwargs) -> bytes:
    signer = signers.ExternalSigner(
        signing_cert=cert,
        cert_registry=SimpleCertificateStore.from_certs([cert]),
        signature_value=72,
    )
    return asyncio.run(signer.signed_attrs(digest, "sha256", **kwargs)).dump()


def _signer_certificate(agreement):
    """A certificate as `sign` issues it for the key a signer's device made."""
    return _asn1(
        pki.certify_signer_key(
            public_key=ec.generate_private_key(ec.SECP256R1()).public_key(),
            user=agreement.dispute.mediator,
            agreement=agreement,
            role="mediator",
        )
    )


def test_the_signed_attributes_are_pyhankos_for_a_signer_the_seals_and_a_committee(demo):
    agreement = factories.agreement_for(factories.dispute_in_mediation())
    organisation = agreement.dispute.organisation
    long_name = pki._issue(
        # Every length above 127 bytes takes DER's long form.
        subject=pki._name("欧阳" + "娜" * 19, unit="applicant", pseudonym="x" * 100),
        issuer=pki.ca(),
        public_key=ec.generate_private_key(ec.SECP256R1()).public_key(),
        days=1,
    )
    certificates = [
        _signer_certificate(agreement),
        _asn1(long_name.cert),
        pki.platform_seal().asn1_cert(),
        pki.organisation_key(organisation).asn1_cert(),
        pki.ca().asn1_cert(),
    ]
    for cert in certificates:
        for digest in (hashlib.sha256(b"document").digest(), bytes(32), b"\xff" * 32):
            ours = pki.pades_signed_attributes(cert, digest)
            assert ours == _pyhanko_attributes(cert, digest, use_pades=True)
            parsed = cms.CMSAttributes.load(ours)
            assert {a["type"].native for a in parsed} == {
                "content_type",
                "message_digest",
                "signing_certificate_v2",
            }


def test_the_platform_signer_leaves_anything_but_plain_pades_to_pyhanko(demo):
    pair = pki.platform_seal()
    signer = pki.PadesSigner(
        signing_cert=pair.asn1_cert(),
        signing_key=pair.asn1_key(),
        cert_registry=SimpleCertificateStore.from_certs([pair.asn1_cert()]),
    )
    digest = hashlib.sha256(b"document").digest()
    pades = asyncio.run(signer.signed_attrs(digest, "sha256", use_pades=True))
    assert pades.dump() == pki.pades_signed_attributes(pair.asn1_cert(), digest)
    # Plain CMS (not PAdES) adds the algorithm protection attribute: pyHanko's path.
    plain = asyncio.run(signer.signed_attrs(digest, "sha256", use_pades=False))
    assert "cms_algorithm_protection" in {a["type"].native for a in plain}
    other = asyncio.run(
        signer.signed_attrs(hashlib.sha512(b"x").digest(), "sha512", use_pades=True)
    )
    assert other.dump() != pki.pades_signed_attributes(pair.asn1_cert(), digest)
    assert [a["values"][0].native for a in other if a["type"].native == "message_digest"] == [
        hashlib.sha512(b"x").digest()
    ]


def test_the_chain_store_finds_what_pyhankos_store_finds_when_asked(demo):
    agreement = factories.agreement_for(factories.dispute_in_mediation())
    leaf = _signer_certificate(agreement)
    chain = [leaf, pki.ca().asn1_cert()]
    ours, theirs = pki.ChainStore.from_certs(chain), SimpleCertificateStore.from_certs(chain)
    assert list(ours) == list(theirs) == chain
    assert not ours.register(leaf)
    for cert in chain:
        assert ours.retrieve_by_issuer_serial(cert.issuer_serial) is cert
        assert ours.retrieve_many_by_key_identifier(cert.key_identifier) == [cert]
        assert ours.retrieve_by_name(cert.subject) == theirs.retrieve_by_name(cert.subject)
        assert ours.retrieve_many_by_key_hash(cert.public_key.sha1) == [cert]
    assert list(ours) == chain
