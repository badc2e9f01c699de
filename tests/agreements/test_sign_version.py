"""A signature binds the version the signer read (issue 9, point 3; CONTRACT §3): the
reviewer's case, where a party loaded the signing page at version 3 (¥5,000), the mediator
revised to ¥50,000 and reopened, and the party's submit signed the new text. Now the page
and the API name the version read; another answers 409 `version_changed`, writes nothing
and spends no re-authentication try, also when the revision commits while the request
is under way; the page says what changed; the sealed PDF names the version and hash each
signer read."""

from __future__ import annotations

import base64
import re
import shutil
import tempfile
from datetime import timedelta
from io import BytesIO
from pathlib import Path

import pytest
from django.core.cache import cache
from django.utils import timezone, translation
from pyhanko.pdf_utils.reader import PdfFileReader

from agreements import services
from agreements.documents import pki
from agreements.models import Agreement, Signature, SigningAttempts
from odr.models import AuditEvent
from tests import factories
from tests.agreements.subprocess_race import run_race
from tests.postgres import scratch_database
from tests.signing import sign_agreement

pytestmark = pytest.mark.django_db

MEDIATOR = "mediator@demo.odr"
PARTY = "citizen1@demo.odr"


@pytest.fixture(autouse=True)
def _english(client, settings, tmp_path):
    """Messages are asserted in their English source; Chinese is the default language."""
    settings.MEDIA_ROOT = tmp_path / "media"
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    cache.clear()
    with translation.override("en"):
        yield
    cache.clear()


def _terms(amount: str, words: str) -> list[dict]:
    due = (timezone.localdate() + timedelta(days=30)).isoformat()
    return [
        {
            "text": f"被申请人向申请人归还借款人民币{words}元。",
            "kind": "money",
            "obligor": "respondent",
            "amount": amount,
            "due_date": due,
        },
        {"text": "双方就本纠纷再无其他争议。", "kind": "other"},
    ]


def _save(agreement: Agreement, **data) -> Agreement:
    return services.agreement_save_draft(
        dispute=agreement.dispute, actor=factories.demo_user(MEDIATOR), data=data
    )


@pytest.fixture
def v3(demo) -> Agreement:
    """Version 3 out for signature, at ¥5,000: created (1), two edits (2, 3), opened."""
    agreement = factories.agreement_draft()
    agreement = _save(agreement, terms=_terms("5000.00", "5,000.00"))
    agreement = _save(agreement, performance_method="现金当面交付。")
    assert agreement.version == 3
    agreement = services.agreement_open(agreement=agreement, actor=factories.demo_user(MEDIATOR))
    assert agreement.status == Agreement.Status.SIGNING and agreement.version == 3
    return agreement


def _revise_to_50000(agreement: Agreement, *, reopen: bool = True) -> Agreement:
    """The mediator's revision: back to draft (version 4), the amount raised to ¥50,000
    (version 5), reopened for signature at version 5."""
    mediator = factories.demo_user(MEDIATOR)
    agreement = services.agreement_revise(
        agreement=Agreement.objects.get(pk=agreement.pk), actor=mediator, reason="金额有误"
    )
    agreement = _save(agreement, terms=_terms("50000.00", "50,000.00"))
    if reopen:
        agreement = services.agreement_open(agreement=agreement, actor=mediator)
    return Agreement.objects.get(pk=agreement.pk)


def _nothing_written(agreement: Agreement) -> None:
    assert not Signature.objects.filter(agreement=agreement).exists()
    assert not AuditEvent.objects.filter(action="agreement.sign").exists()


def _earlier_wrong_tries(email: str, taken: int = 2) -> None:
    SigningAttempts.objects.create(
        user=factories.demo_user(email), taken=taken, window_started_at=timezone.now()
    )


def _tries(email: str) -> int | None:
    row = SigningAttempts.objects.filter(user=factories.demo_user(email)).first()
    return row.taken if row else None


# --- the API -----------------------------------------------------------------------------


def _api_sign(client, agreement: Agreement, **body):
    """Both signing steps through the API with a key made here (tests/signing.py): the
    answer of step 2, or of step 1 when that refused."""
    from tests.signing import api_sign

    payload = {
        "password": factories.PASSWORD,
        "signature_png": factories.signature_png_b64(),
        **body,
    }
    return api_sign(client, agreement.pk, **payload)


def test_the_api_refuses_the_version_read_before_the_revision_and_signs_the_current_one(v3, client):
    client.force_login(factories.demo_user(PARTY))
    read = client.get(f"/api/v1/agreements/{v3.pk}").json()
    assert read["version"] == 3 and read["terms"][0]["amount"] == "5000.00"
    agreement = _revise_to_50000(v3)
    assert agreement.version == 5 and agreement.status == Agreement.Status.SIGNING
    _earlier_wrong_tries(PARTY)

    refused = _api_sign(client, agreement, version=read["version"])
    assert refused.status_code == 409, refused.content
    body = refused.json()
    assert body["code"] == "version_changed"
    assert "version 3" in body["detail"] and "current version is 5" in body["detail"]
    assert "Read the current version again" in body["detail"]
    _nothing_written(agreement)
    assert _tries(PARTY) == 2  # the try was not spent

    # A stale version with a wrong password is the same 409: nothing is checked, so
    # nothing is counted, and the answer says nothing about the password.
    wrong = _api_sign(client, agreement, version=3, password="guess")
    assert wrong.status_code == 409 and wrong.json()["code"] == "version_changed"
    assert _tries(PARTY) == 2
    _nothing_written(agreement)

    signed = _api_sign(client, agreement, version=5)
    assert signed.status_code == 200, signed.content
    signature = Signature.objects.get(agreement=agreement)
    assert signature.version == 5 and signature.role == "applicant"
    event = AuditEvent.objects.get(action="agreement.sign")
    assert event.after["version"] == 5 and event.after["version_read"] == 5
    assert event.after["document_sha256"] == signature.document_sha256
    assert _tries(PARTY) is None  # the right password cleared the count


def test_the_api_says_so_in_the_requests_language(v3, client):
    client.force_login(factories.demo_user(PARTY))
    agreement = _revise_to_50000(v3)
    refused = client.post(
        f"/api/v1/agreements/{agreement.pk}/sign",
        {
            "password": factories.PASSWORD,
            "consent": True,
            "signature_png": factories.signature_png_b64(),
            "version": 3,
        },
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    assert refused.status_code == 409
    detail = refused.json()["detail"]
    assert "第3版" in detail and "第5版" in detail and "重新阅读" in detail


def test_revise_and_reopen_without_an_edit_is_a_new_version_too(v3, client):
    """Revise and reopen alone (3 → 4): the signatures of 3 were voided, 3 is not 4."""
    mediator = factories.demo_user(MEDIATOR)
    services.agreement_revise(agreement=v3, actor=mediator)
    services.agreement_open(agreement=Agreement.objects.get(pk=v3.pk), actor=mediator)
    client.force_login(factories.demo_user(PARTY))
    refused = _api_sign(client, v3, version=3)
    assert refused.status_code == 409 and refused.json()["code"] == "version_changed"
    assert "current version is 4" in refused.json()["detail"]
    _nothing_written(v3)
    assert _api_sign(client, v3, version=4).status_code == 200
    assert Signature.objects.get().version == 4


def test_an_agreement_taken_back_for_changes_answers_version_changed(v3, client):
    """Revised, not yet reopened: the version read (3) and even the draft's own number
    (5) answer version_changed, never a signature."""
    agreement = _revise_to_50000(v3, reopen=False)
    assert agreement.status == Agreement.Status.DRAFT and agreement.version == 5
    client.force_login(factories.demo_user(PARTY))
    for version in (3, 5):
        refused = _api_sign(client, agreement, version=version)
        assert refused.status_code == 409 and refused.json()["code"] == "version_changed"
        assert "not open for signing" in refused.json()["detail"]
    _nothing_written(agreement)


def test_a_request_naming_no_version_signs_nothing_now_that_signing_has_two_steps(v3, client):
    """With the contract's two-step signing a `sign` must name the version read: one
    without answers 409 `version_changed` and writes nothing."""
    client.force_login(factories.demo_user(PARTY))
    response = _api_sign(client, v3)
    assert response.status_code == 409 and response.json()["code"] == "version_changed"
    assert "did not say which version" in response.json()["detail"]
    _nothing_written(v3)


def test_a_version_that_is_no_number_is_refused_as_input(v3, client):
    client.force_login(factories.demo_user(PARTY))
    for bad in ("three", 0, -1):
        response = _api_sign(client, v3, version=bad)
        assert response.status_code == 422, (bad, response.content)
    _nothing_written(v3)


def test_someone_who_does_not_sign_is_refused_as_before_whatever_version(v3, client):
    client.force_login(factories.demo_user("coordinator@demo.odr"))
    response = _api_sign(client, v3, version=99)
    assert response.status_code in (403, 404)
    assert response.json()["code"] != "version_changed"


# --- the service, racing -------------------------------------------------------------------


def _service_sign(agreement: Agreement, email: str = PARTY, **kwargs):
    return sign_agreement(
        agreement=agreement,
        actor=factories.demo_user(email),
        password=factories.PASSWORD,
        consent=True,
        signature_png=factories.signature_png_b64(),
        **kwargs,
    )


def test_a_revision_committed_between_the_page_load_and_the_submit_signs_nothing(v3):
    loaded = Agreement.objects.get(pk=v3.pk)  # what the signer's request holds
    assert loaded.version == 3
    _revise_to_50000(v3)
    _earlier_wrong_tries(PARTY)
    with pytest.raises(services.VersionChanged) as refused:
        _service_sign(loaded, version=3)
    assert refused.value.code == "version_changed" and refused.value.status == 409
    assert (refused.value.read, refused.value.current, refused.value.open) == (3, 5, True)
    _nothing_written(v3)
    assert _tries(PARTY) == 2


@pytest.mark.parametrize("reopen", [True, False])
def test_a_revision_committed_while_the_signer_reauthenticates_is_caught_under_the_lock(
    v3, monkeypatch, reopen
):
    """The version is right when the request starts; the mediator's revision commits
    after that first check, while the signer's password is checked (before the row is
    locked). The check under the lock refuses it: without it, version 5 would be
    signed (reopened), or the answer would be the state's refusal (still a draft)."""
    real = services.reauthenticate
    revised: list[Agreement] = []

    def reauthenticate_then_revise(**kwargs):
        real(**kwargs)
        revised.append(_revise_to_50000(v3, reopen=reopen))

    monkeypatch.setattr(services, "reauthenticate", reauthenticate_then_revise)
    with pytest.raises(services.VersionChanged) as refused:
        _service_sign(Agreement.objects.get(pk=v3.pk), version=3)
    assert revised and refused.value.read == 3 and refused.value.current == 5
    assert refused.value.open is reopen
    _nothing_written(v3)
    agreement = Agreement.objects.get(pk=v3.pk)
    assert agreement.version == 5
    assert agreement.status == (Agreement.Status.SIGNING if reopen else Agreement.Status.DRAFT)


def _assert_never_another_version(result: dict) -> None:
    """Whichever came first, the signature binds the version read or nothing: signed
    first, the revision voids it; revised first, the signer gets version_changed."""
    assert result["errors"] == []
    assert len(result["rounds"]) == 6
    for r in result["rounds"]:
        assert r["final_version"] == r["read"] + 2, r
        assert r["wrong_signatures"] == [] and r["events_binding_another_version"] == [], r
        assert r["live_signatures_on_read"] == [], r
        assert r["signer"] in ("signed", "version_changed"), r
        assert r["signatures"] == (1 if r["signer"] == "signed" else 0), r


def _race(tmp_path: Path, data_dir: Path, database_url: str | None) -> dict:
    return run_race(
        "tests.agreements.race_version",
        tmp_path=tmp_path,
        data_dir=data_dir,
        database_url=database_url,
    )


def test_a_signer_and_a_revision_at_the_same_instant_on_the_file_database(tmp_path):
    """Real threads with their own connections on the platform's default file database:
    the signature never lands on the revised version."""
    shm = Path("/dev/shm")
    data_dir = Path(tempfile.mkdtemp(dir=shm if shm.is_dir() else tmp_path))
    try:
        _assert_never_another_version(_race(tmp_path, data_dir, None))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.mark.scaleout
def test_a_signer_and_a_revision_at_the_same_instant_on_postgresql(tmp_path):
    """The same on PostgreSQL, where SELECT ... FOR UPDATE is a real row lock. Needs
    PostgreSQL on 127.0.0.1 (it runs in CI); unreachable, the test fails, not skips."""
    with scratch_database("odr_version_race") as url:
        _assert_never_another_version(_race(tmp_path, tmp_path / "data", url))


# --- the page ------------------------------------------------------------------------------


def _page(client, agreement: Agreement) -> str:
    response = client.get(f"/agreements/{agreement.pk}/sign/")
    assert response.status_code == 200
    return response.content.decode()


def _hidden_version(html: str) -> str:
    match = re.search(r'<input type="hidden" name="version" value="(\d+)"', html)
    assert match, "the form carries the version it shows"
    return match.group(1)


def _form(version: str | None, **more) -> dict:
    data = {
        "password": factories.PASSWORD,
        "consent": "on",
        "method": "drawn",
        "signature_png": "data:image/png;base64," + factories.signature_png_b64(),
        **more,
    }
    if version is not None:
        data["version"] = version
    return data


def _page_submit(client, agreement_pk: int, form: dict, **headers):
    """What the signing page's script does with the form (frontend/signature-pad.js):
    step 1 through the API with a key made here; on 409 `version_changed` it loads the
    page again with `?read=<the version sent>`, which shows what changed; on success it
    completes step 2 and lands on the agreement (returned as is: a 200 JSON)."""
    from tests.signing import new_key, public_pem, sign_bytes

    key = new_key()
    version = form.get("version")
    body = {
        "password": form.get("password", ""),
        "consent": form.get("consent") == "on",
        "version": int(version) if version and str(version).isdigit() else None,
        "public_key": public_pem(key),
    }
    if form.get("method") == "typed":
        body["typed_name"] = form.get("typed_name", "")
    else:
        body["signature_png"] = form.get("signature_png", "")
    first = client.post(
        f"/api/v1/agreements/{agreement_pk}/sign", body, content_type="application/json", **headers
    )
    if first.status_code == 409 and first.json()["code"] == "version_changed":
        return client.get(
            f"/agreements/{agreement_pk}/sign/?read={body['version'] or 0}", **headers
        )
    if first.status_code != 200:
        return first
    data = first.json()
    signature = sign_bytes(key, base64.b64decode(data["to_sign"]))
    return client.post(
        f"/api/v1/agreements/{agreement_pk}/sign/complete",
        {"signing_id": data["signing_id"], "signature": base64.b64encode(signature).decode()},
        content_type="application/json",
    )


def test_the_page_refuses_the_version_loaded_before_the_revision_and_shows_the_change(v3, client):
    client.force_login(factories.demo_user(PARTY))
    loaded = _page(client, v3)
    assert _hidden_version(loaded) == "3" and "You sign version 3" in loaded
    assert "5,000.00" in loaded
    agreement = _revise_to_50000(v3)
    _earlier_wrong_tries(PARTY)

    response = _page_submit(client, agreement.pk, _form(_hidden_version(loaded)))
    assert response.status_code == 409
    html = response.content.decode()
    _nothing_written(agreement)
    assert _tries(PARTY) == 2

    # The alert, at the top (before the text), names both versions and the change.
    start = html.index('id="version-changed"')
    alert = html[start : html.index("</div>", html.index('id="version-diff"') + 30)]
    assert html.index('id="version-changed"') < html.index('class="card"')
    assert 'role="alert"' in html[html.index("<div", html.index("<h1")) :][:200]
    assert "version 3" in alert and "current version is 5" in alert
    assert "Revised by the mediator" in alert and "金额有误" in alert
    assert "What changed from version 3 to version 5" in alert
    # ¥5,000 → ¥50,000: the added digit is marked in the term's wording and its amount.
    assert "<h3>Terms</h3>" in alert and "人民币5<ins>0</ins>,000.00元" in alert
    assert "¥5000<ins>0</ins>.00" in alert
    diff = alert[alert.index('id="version-diff"') :]
    assert "Method of performance" not in diff  # only what changed between 3 and 5
    assert f"/agreements/{agreement.pk}/versions/?a=3&amp;b=5" in html

    # The current text to read, and a fresh form for it: the drawn signature, the consent
    # and the password are not carried over to the new text.
    assert "50,000.00" in html and "5,000.00元" not in html.replace("50,000.00元", "")
    assert _hidden_version(html) == "5" and "You sign version 5" in html
    assert factories.PASSWORD not in html
    signature_input = re.search(r'<input type="hidden" name="signature_png"[^>]*>', html)
    assert signature_input and "value=" not in signature_input.group(0)
    consent_input = re.search(r'<input type="checkbox" name="consent"[^>]*>', html)
    assert consent_input and "checked" not in consent_input.group(0)

    response = _page_submit(client, agreement.pk, _form(_hidden_version(html)))
    assert response.status_code == 200
    assert Signature.objects.get(agreement=agreement).version == 5


def test_the_page_says_so_when_the_agreement_is_still_being_revised(v3, client):
    client.force_login(factories.demo_user(PARTY))
    agreement = _revise_to_50000(v3, reopen=False)
    response = _page_submit(client, agreement.pk, _form("3"))
    assert response.status_code == 409
    html = response.content.decode()
    assert 'id="version-changed"' in html and "not open for signing" in html
    assert "What changed from version 3 to version 5" in html
    assert 'id="sign-form"' not in html  # nothing to sign until it is reopened
    _nothing_written(agreement)


def test_when_the_version_read_is_not_kept_the_page_says_when_it_was_revised(v3, client):
    """No copy of the version read (a version number the platform never kept): no
    difference to show, but when and by whom it was revised, and the current text."""
    from agreements.models import AgreementVersion

    client.force_login(factories.demo_user(PARTY))
    agreement = _revise_to_50000(v3)
    AgreementVersion.objects.filter(agreement=agreement, number=3).delete()
    response = _page_submit(client, agreement.pk, _form("3"))
    assert response.status_code == 409
    html = response.content.decode()
    alert = html[
        html.index('id="version-changed"') : html.index(
            "</div>", html.index('id="version-changed"')
        )
    ]
    assert "Revised by the mediator" in alert and "金额有误" in alert
    assert "The current text is below." in alert and 'id="version-diff"' not in alert
    assert "50,000.00" in html and _hidden_version(html) == "5"
    _nothing_written(agreement)


def test_a_page_without_the_version_signs_nothing(v3, client):
    client.force_login(factories.demo_user(PARTY))
    response = _page_submit(client, v3.pk, _form(None))
    assert response.status_code == 409
    html = response.content.decode()
    assert "did not say which version" in html and _hidden_version(html) == "3"
    _nothing_written(v3)


def test_a_page_post_by_someone_who_does_not_sign_is_refused_as_before(v3, client):
    client.force_login(factories.demo_user("coordinator@demo.odr"))
    for version in (None, "3", "99"):
        response = _page_submit(client, v3.pk, _form(version))
        assert response.status_code in (403, 404, 409), version
        assert 'id="version-changed"' not in response.content.decode()
    _nothing_written(v3)


def test_the_page_shows_the_change_in_chinese(v3, client):
    client.force_login(factories.demo_user(PARTY))
    agreement = _revise_to_50000(v3)
    with translation.override("zh-hans"):
        response = _page_submit(client, agreement.pk, _form("3"), HTTP_ACCEPT_LANGUAGE="zh-hans")
    html = response.content.decode()
    assert response.status_code == 409
    assert "您打开本页后协议已被修改" in html and "第3版至第5版的改动" in html
    assert "您阅读的是协议第3版" in html and "您签署的是协议第5版" in html


# --- the sealed PDF ------------------------------------------------------------------------


def test_each_signers_signature_names_the_version_and_hash_they_read(v3, client):
    agreement = _revise_to_50000(v3)
    for email in (PARTY, "citizen2@demo.odr", MEDIATOR):
        _service_sign(Agreement.objects.get(pk=agreement.pk), email, version=5)
    agreement = Agreement.objects.get(pk=agreement.pk)
    assert agreement.status == Agreement.Status.SIGNED
    with agreement.pdf.open("rb") as fh:
        reader = PdfFileReader(BytesIO(fh.read()))
    reasons = {s.field_name: str(s.sig_object["/Reason"]) for s in reader.embedded_signatures}
    for signature in Signature.objects.filter(agreement=agreement, voided_at__isnull=True):
        assert len(signature.document_sha256) == 64
        [reason] = [r for name, r in reasons.items() if name.endswith("_" + signature.role)]
        assert reason.endswith(f"第5版 SHA-256 {signature.document_sha256}"), reason
    # The certificate issued for the signer's key says it too (X.520 description).
    described = {
        s.field_name: s.signer_cert.subject.native.get(pki.DESCRIPTION_OID.dotted_string)
        for s in reader.embedded_signatures
    }
    signers = [name for name in reasons if name.startswith("Signature")]
    assert len(signers) == 3
    for name in signers:
        assert described[name] == reasons[name], name


def test_a_page_left_open_on_an_old_version_after_the_new_one_is_in_force(v3, client):
    agreement = _revise_to_50000(v3)
    for email in (PARTY, "citizen2@demo.odr", MEDIATOR):
        _service_sign(Agreement.objects.get(pk=agreement.pk), email, version=5)
    client.force_login(factories.demo_user(PARTY))
    stale = _api_sign(client, agreement, version=3)
    assert stale.status_code == 409 and stale.json()["code"] == "version_changed"
    assert "version 5 has since been signed by everyone and is in force" in stale.json()["detail"]
    # The version read, signed already: the machine's own refusal, not a changed version.
    again = _api_sign(client, agreement, version=5)
    assert again.status_code == 409 and again.json()["code"] != "version_changed"
    page = _page_submit(client, agreement.pk, _form("3"))
    assert page.status_code == 409
    html = page.content.decode()
    assert 'id="version-changed"' in html and "is in force" in html
    assert "not open for signing yet" not in html and 'id="sign-form"' not in html
    assert Signature.objects.filter(agreement=agreement).count() == 3


# --- the page in a browser -----------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_in_a_browser_the_drawn_signature_is_not_carried_to_the_new_text(
    live_server, transactional_db, v3, phone_context
):
    """The reviewer's case on a phone: the party loads version 3, draws, types the
    password and ticks the consent; the mediator revises and reopens meanwhile; the
    submit comes back with the change at the top and an empty pad, so the drawing made
    for version 3 cannot sign version 5 without being drawn again."""
    from tests.agreements.browser import assert_clean, watch
    from tests.agreements.test_browser_signing import _draw, _log_in

    base = live_server.url
    page = phone_context.new_page()
    problems = watch(page)
    _log_in(page, base, PARTY, f"/agreements/{v3.pk}/sign/")
    assert page.input_value('input[name="version"]') == "3"
    assert "5,000.00" in page.inner_text("#agreement-text")
    page.fill('input[name="password"]', factories.PASSWORD)
    page.check('input[name="consent"]')
    page.locator("#signature-pad").scroll_into_view_if_needed()
    _draw(page, "#signature-pad")

    agreement = _revise_to_50000(v3)
    page.click("#sign-submit")
    page.wait_for_selector("#version-changed")
    assert not Signature.objects.exists()
    alert = page.inner_text("#version-changed")
    assert "3" in alert and "5" in alert
    assert page.locator("#version-diff ins").count() >= 1
    assert "50,000.00" in page.inner_text("#agreement-text")
    assert page.input_value('input[name="version"]') == "5"
    assert page.input_value('input[name="password"]') == ""
    assert not page.is_checked('input[name="consent"]')

    # Consent and password again, but no new drawing: the page stops it.
    page.fill('input[name="password"]', factories.PASSWORD)
    page.check('input[name="consent"]')
    page.click("#sign-submit")
    assert page.inner_text("#signature-error").strip()
    assert not Signature.objects.exists()

    page.locator("#signature-pad").scroll_into_view_if_needed()
    _draw(page, "#signature-pad")
    page.click("#sign-submit")
    page.wait_for_url(f"{base}/agreements/{agreement.pk}/?signed=1")
    assert Signature.objects.get().version == 5
    assert_clean(problems)
