"""Hostile files on the public verification endpoints (issue 11, L4): a PDF of 100,000
nested arrays made pyHanko's recursive parser raise RecursionError, a 500. Anyone may
upload to /api/v1/verify and /verify/, so the file's structure is bounded before it is
parsed (agreements.documents.pdf_limits) and the reader's own failures are caught: every
file below answers 400 `invalid_pdf` or a plain "not valid", never a 5xx."""

from __future__ import annotations

import struct
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from agreements.documents.finalize import seal_agreement
from agreements.documents.pdf_limits import structure_problem
from tests import factories

pytestmark = pytest.mark.django_db

DEEP = 100_000


@pytest.fixture(autouse=True)
def _english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


def _pdf(*objects: bytes, trailer: bytes = b"") -> bytes:
    """A classic PDF (header, numbered objects, xref table, trailer) around `objects`."""
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        trailer,
        xref,
    )
    return bytes(out)


PAGES = b"<< /Type /Pages /Kids [] /Count 0 >>"


def _catalog(extra: bytes) -> bytes:
    return b"<< /Type /Catalog /Pages 2 0 R " + extra + b" >>"


def _nested_in_an_object_stream(depth: int) -> bytes:
    """The catalog, deeply nested, compressed inside an object stream behind a
    cross-reference stream: no scan of the file's bytes can see the nesting."""
    header = b"1 0 "
    packed = zlib.compress(header + _catalog(b"/X " + b"[" * depth + b"]" * depth))
    out = bytearray(b"%PDF-1.7\n")
    pages = len(out)
    out += b"2 0 obj\n" + PAGES + b"\nendobj\n"
    stream = len(out)
    out += b"3 0 obj\n<< /Type /ObjStm /N 1 /First %d /Filter /FlateDecode /Length %d >>\n" % (
        len(header),
        len(packed),
    )
    out += b"stream\n" + packed + b"\nendstream\nendobj\n"
    xref = len(out)
    rows = [(0, 0, 65535), (2, 3, 0), (1, pages, 0), (1, stream, 0), (1, xref, 0)]
    table = b"".join(struct.pack(">BIH", *row) for row in rows)
    out += b"4 0 obj\n<< /Type /XRef /Size 5 /W [1 4 2] /Root 1 0 R /Length %d >>\n" % len(table)
    out += b"stream\n" + table + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def _xref_stream_declaring(count_entry: bytes) -> bytes:
    """A cross-reference stream that declares more entries than it holds: a lenient
    reader fills in the missing ones, a billion times."""
    return (
        b"%PDF-1.7\n1 0 obj\n<< /Type /XRef " + count_entry + b" /W [1 4 4] /Length 3 >>\n"
        b"stream\nabc\nendstream\nendobj\nstartxref\n9\n%%EOF\n"
    )


REFUSED = {
    "100k nested arrays": _pdf(_catalog(b"/X " + b"[" * DEEP + b"]" * DEEP), PAGES),
    "100k nested dictionaries": _pdf(_catalog(b"/X " + b"<< /A " * DEEP + b">>" * DEEP), PAGES),
    "nesting in the trailer": _pdf(
        _catalog(b""), PAGES, trailer=b"/X " + b"[" * DEEP + b"]" * DEEP + b" "
    ),
    "nesting inside a compressed object stream": _nested_in_an_object_stream(5_000),
    "a cycle of references": _pdf(_catalog(b"/AcroForm 3 0 R"), PAGES, b"4 0 R", b"3 0 R"),
    "a billion entries in a cross-reference stream": _xref_stream_declaring(b"/Size 999999999"),
    "a billion entries under an escaped name": _xref_stream_declaring(b"/S#69ze %x\n 999999999"),
    "a billion entries in /Index": _xref_stream_declaring(b"/Size 3 /Index [0 1 5 +999999999]"),
    "a billion entries in the classic trailer": _pdf(_catalog(b""), PAGES).replace(
        b"/Size 3", b"/Size 999999999"
    ),
    "a million brackets": b"%PDF-1.7\n" + b"[]" * 600_000,
}
NOT_VALID = {
    "garbage": b"hello, this is not a PDF",
    "an empty file": b"",
    "only the header": b"%PDF-1.7\n",
    "a truncated PDF": _pdf(_catalog(b""), PAGES)[:60],
    "a cross-reference table longer than the file": _pdf(_catalog(b""), PAGES).replace(
        b"xref\n0 3\n", b"xref\n0 999999999\n"
    ),
    "a signature with a huge byte range": _pdf(
        _catalog(b"/AcroForm << /Fields [3 0 R] /SigFlags 3 >>"),
        PAGES,
        b"<< /FT /Sig /T (Sig1) /V 4 0 R >>",
        b"<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /adbe.pkcs7.detached "
        b"/ByteRange [0 99999999999 99999999999 99999999999] /Contents <3003020100> >>",
    ),
    "a signature with garbage contents": _pdf(
        _catalog(b"/AcroForm << /Fields [3 0 R] /SigFlags 3 >>"),
        PAGES,
        b"<< /FT /Sig /T (Sig1) /V 4 0 R >>",
        b"<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /adbe.pkcs7.detached "
        b"/ByteRange [0 10 20 10] /Contents <3082> >>",
    ),
}


def _upload(client, data: bytes):
    return client.post(
        "/api/v1/verify", {"file": SimpleUploadedFile("x.pdf", data, "application/pdf")}
    )


@pytest.mark.parametrize("data", REFUSED.values(), ids=REFUSED.keys())
def test_a_file_built_to_exhaust_the_reader_answers_400_invalid_pdf(client, data):
    response = _upload(client, data)
    assert response.status_code == 400, response.content[:300]
    body = response.json()
    assert body["code"] == "invalid_pdf" and body["detail"]


@pytest.mark.parametrize("data", NOT_VALID.values(), ids=NOT_VALID.keys())
def test_a_malformed_file_is_not_valid_and_never_a_server_error(client, data):
    response = _upload(client, data)
    assert response.status_code == 200, response.content[:300]
    body = response.json()
    assert body["valid"] is False and body["reason"]


def test_nesting_the_byte_scan_cannot_see_is_stopped_by_the_recursion_limit(client):
    """Compressed in an object stream, the nesting passes the scan; the reader's
    RecursionError is caught and answered like the scan's refusal."""
    data = REFUSED["nesting inside a compressed object stream"]
    assert structure_problem(data) is None
    body = _upload(client, data).json()
    assert body["code"] == "invalid_pdf" and "without end" in body["detail"]


def test_the_verify_page_says_why_it_will_not_read_a_hostile_file(client):
    response = client.post(
        "/verify/",
        {"file": SimpleUploadedFile("x.pdf", REFUSED["100k nested arrays"], "application/pdf")},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert 'class="msg error"' in page
    assert "not a PDF the platform can check" in page and "nested more than 64 deep" in page


def test_a_truncated_sealed_agreement_is_not_valid(client, demo, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    agreement = factories.agreement_for(
        factories.dispute_in_mediation(), signers=("applicant", "respondent", "mediator")
    )
    pdf, _digest = seal_agreement(agreement)
    assert _upload(client, pdf).status_code == 200  # the whole file is read
    for cut in (len(pdf) // 2, len(pdf) - 200):
        response = _upload(client, pdf[:cut])
        assert response.status_code == 200 and response.json()["valid"] is False
