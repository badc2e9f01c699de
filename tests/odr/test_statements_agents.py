"""The respondent's statement (答辩), the parties' particulars completed by the mediator,
agents (委托代理人) with their powers of attorney, and what of them reaches the court's
packet: API, pages and the rules behind them."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from odr import services
from odr.identity import credit_check_char
from odr.idnumber import id_check_char
from odr.models import Agent, AuditEvent, Party, Statement
from tests import factories
from tests.factories import demo_user
from tests.odr.api_support import assert_error, post

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)
MP3 = b"ID3\x03\x00\x00\x00\x00\x00\x0f" + b"\x00" * 64
CODE = "91330523MA2B3C4D5" + credit_check_char("91330523MA2B3C4D5")
AGENT_ID = "33052319750808113" + id_check_char("33052319750808113")


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _client(email: str) -> Client:
    client = Client()
    client.force_login(demo_user(email))
    return client


def _patch(client: Client, path: str, data: dict):
    return client.patch(path, json.dumps(data), content_type="application/json")


def _company(dispute) -> Party:
    """A second respondent with no account yet: a company, as the filing named it."""
    return Party.objects.create(
        dispute=dispute,
        role=Party.Role.RESPONDENT,
        position=1,
        kind=Party.Kind.ORGANISATION,
        name="安吉某某竹木制品有限公司",
        email="company@example.com",
    )


# --- the respondent's statement ---------------------------------------------------------


def test_the_respondent_gives_a_statement_shown_beside_the_claim(demo):
    dispute = factories.dispute_in_mediation()
    respondent = dispute.parties.get(role="respondent")
    client = _client("citizen2@demo.odr")
    response = post(
        client, f"/api/v1/disputes/{dispute.pk}/statement", {"text": "借款已还五千元。"}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"id", "party", "text", "created_at"}
    assert (body["party"], body["text"]) == (respondent.pk, "借款已还五千元。")
    event = AuditEvent.objects.get(action="statement.add", dispute=dispute)
    assert event.after == {"party": respondent.pk, "length": 8}
    listed = _client("mediator@demo.odr").get(f"/api/v1/disputes/{dispute.pk}/statements")
    assert [s["text"] for s in listed.json()] == ["借款已还五千元。"]
    page = _client("citizen1@demo.odr").get(f"/disputes/{dispute.pk}/").content.decode()
    beside = page.split('class="panel claim-and-statement"')[1].split("</section>")[0]
    assert "借款已还五千元。" in beside and dispute.description in beside
    assert f'action="/disputes/{dispute.pk}/statement/"' not in page  # no form for her


@pytest.mark.parametrize(
    ("email", "status", "code"),
    [
        ("citizen1@demo.odr", 403, "not_a_respondent"),  # a party, but the applicant
        ("mediator@demo.odr", 403, "not_a_respondent"),
        ("coordinator@demo.odr", 403, "not_a_respondent"),
        ("mediator.yucun@demo.odr", 404, "not_found"),  # does not see the case
    ],
)
def test_only_a_respondent_gives_a_statement(demo, email, status, code):
    dispute = factories.dispute_in_mediation()
    response = post(_client(email), f"/api/v1/disputes/{dispute.pk}/statement", {"text": "x"})
    assert_error(response, status, code)
    assert not Statement.objects.exists()


def test_an_empty_statement_or_a_closed_case_is_refused(demo):
    dispute = factories.dispute_in_mediation()
    client = _client("citizen2@demo.odr")
    path = f"/api/v1/disputes/{dispute.pk}/statement"
    assert_error(post(client, path, {"text": ""}), 422)
    assert_error(post(client, path, {"text": " \u200b "}), 422, "statement_required")
    services.dispute_fail(dispute=dispute, actor=demo_user("mediator@demo.odr"), reason="分歧大")
    assert_error(post(client, path, {"text": "晚了"}), 409, "case_closed")


def test_the_respondent_gives_the_statement_through_the_case_page(demo):
    dispute = factories.dispute_in_mediation()
    client = _client("citizen2@demo.odr")
    page = client.get(f"/disputes/{dispute.pk}/").content.decode()
    assert f'action="/disputes/{dispute.pk}/statement/"' in page
    response = client.post(f"/disputes/{dispute.pk}/statement/", {"text": "我同意分期归还。"})
    assert response.status_code == 302
    assert Statement.objects.get(dispute=dispute).text == "我同意分期归还。"


# --- particulars ------------------------------------------------------------------------


def test_the_mediator_completes_an_organisation_partys_particulars(demo):
    dispute = factories.dispute_in_mediation()
    company = _company(dispute)
    path = f"/api/v1/disputes/{dispute.pk}/parties/{company.pk}"
    mediator = _client("mediator@demo.odr")
    assert_error(
        _patch(mediator, path, {"credit_code": CODE[:-1] + "0"}), 422, "invalid_credit_code"
    )
    response = _patch(
        mediator,
        path,
        {
            "credit_code": CODE.lower(),
            "address": "浙江省安吉县递铺街道竹海路8号",
            "representative": "王五",
            "representative_title": "总经理",
        },
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["credit_code"] == CODE
    assert body["lines"] == [
        f"被申请人：安吉某某竹木制品有限公司，住所地浙江省安吉县递铺街道竹海路8号，统一社会信用代码{CODE}。",
        "法定代表人：王五，总经理。",
    ]
    assert body["missing"] == [] and body["masked"] is False and body["editable"] is True
    assert AuditEvent.objects.filter(action="party.update", dispute=dispute).count() == 1


def test_the_coordinator_completes_a_person_with_no_account_and_the_id_is_checked(demo):
    dispute = factories.file_dispute()  # the respondent has not answered: no account yet
    respondent = dispute.parties.get(role="respondent")
    path = f"/api/v1/disputes/{dispute.pk}/parties/{respondent.pk}"
    coordinator = _client("coordinator@demo.odr")
    wrong = AGENT_ID[:-1] + ("0" if AGENT_ID[-1] != "0" else "1")
    assert_error(_patch(coordinator, path, {"id_number": wrong}), 422, "invalid_id_number")
    assert_error(
        _patch(coordinator, path, {"id_number": AGENT_ID, "sex": "F"}), 422, "sex_contradicts_id"
    )
    assert_error(_patch(coordinator, path, {"kind": "robot"}), 422, "invalid_kind")
    body = _patch(
        coordinator, path, {"id_number": AGENT_ID, "ethnicity": "汉族", "occupation": "司机"}
    ).json()
    assert (body["sex"], body["birth_date"]) == ("M", "1975-08-08")
    event = AuditEvent.objects.get(action="party.update", dispute=dispute)
    assert AGENT_ID not in json.dumps([event.before, event.after])


@pytest.mark.parametrize(
    ("email", "target", "status", "code"),
    [
        # A person with an account keeps their own particulars in their profile.
        ("mediator@demo.odr", "respondent", 403, "not_allowed_to_edit_party"),
        ("citizen2@demo.odr", "respondent", 403, "not_allowed_to_edit_party"),
        # A party does not write the other side's particulars.
        ("citizen1@demo.odr", "company", 403, "not_allowed_to_edit_party"),
        # Another mediator of the organisation is not this case's.
        ("mediator.yucun@demo.odr", "company", 404, "not_found"),
    ],
)
def test_who_may_not_change_a_partys_particulars(demo, email, target, status, code):
    dispute = factories.dispute_in_mediation()
    company = _company(dispute)
    party = company if target == "company" else dispute.parties.get(role=target, position=0)
    path = f"/api/v1/disputes/{dispute.pk}/parties/{party.pk}"
    assert_error(_patch(_client(email), path, {"occupation": "农民"}), status, code)


def test_particulars_are_frozen_once_the_agreement_is_opened_for_signing(demo):
    agreement = factories.agreement_signing()
    company = _company(agreement.dispute)
    path = f"/api/v1/disputes/{agreement.dispute_id}/parties/{company.pk}"
    mediator = _client("mediator@demo.odr")
    assert_error(_patch(mediator, path, {"representative": "王五"}), 409, "particulars_frozen")
    assert mediator.get(path).json()["editable"] is False


def test_particulars_are_read_in_full_by_those_with_the_right_and_masked_for_others(demo):
    dispute = factories.dispute_in_mediation()
    services.profile_update(
        user=demo_user("citizen1@demo.odr"),
        id_number=demo_user("citizen1@demo.odr").profile.id_number,
    )
    applicant = dispute.parties.get(role="applicant")
    full_id = applicant.id_number
    assert full_id
    path = f"/api/v1/disputes/{dispute.pk}/parties/{applicant.pk}"
    for email in ("citizen2@demo.odr", "mediator@demo.odr", "coordinator@demo.odr"):
        body = _client(email).get(path).json()
        assert (body["id_number"], body["masked"]) == (full_id, False), email
        assert body["name"] == "张三"
    admin = _client("admin@demo.odr").get(path).json()
    assert admin["masked"] is True
    assert admin["id_number"] == full_id[:6] + "*" * 11 + full_id[-1]
    assert admin["name"] == "张*"
    assert full_id not in json.dumps(admin)


def test_the_mediator_completes_particulars_through_the_case_page(demo):
    dispute = factories.dispute_in_mediation()
    company = _company(dispute)
    client = _client("mediator@demo.odr")
    page = client.get(f"/disputes/{dispute.pk}/").content.decode()
    assert f'id="edit-party-{company.pk}"' in page
    assert "统一社会信用代码" in page  # missing, named in Chinese
    prefix = f"party{company.pk}"
    response = client.post(
        f"/disputes/{dispute.pk}/parties/{company.pk}/",
        {
            f"{prefix}-kind": "organisation",
            f"{prefix}-name": "安吉某某竹木制品有限公司",
            f"{prefix}-credit_code": CODE,
            f"{prefix}-representative": "王五",
            f"{prefix}-representative_title": "总经理",
            f"{prefix}-address": "浙江省安吉县递铺街道竹海路8号",
        },
    )
    assert response.status_code == 302
    company.refresh_from_db()
    assert (company.credit_code, company.representative) == (CODE, "王五")
    # The parties see no form for someone else's particulars.
    page = _client("citizen1@demo.odr").get(f"/disputes/{dispute.pk}/").content.decode()
    assert f'id="edit-party-{company.pk}"' not in page
    assert f"统一社会信用代码{CODE}" in page


# --- agents -------------------------------------------------------------------------------


def _agent_form(**kw) -> dict:
    data = {
        "file": SimpleUploadedFile("委托书.pdf", PDF, content_type="application/pdf"),
        "name": "赵律师",
        "relation": "浙江某某律师事务所律师",
        "scope": "special",
        "powers": "代为承认、放弃、变更请求，进行和解",
        "id_number": AGENT_ID,
        "phone": "13600000001",
    }
    return {**data, **kw}


def _agents_path(dispute, party) -> str:
    return f"/api/v1/disputes/{dispute.pk}/parties/{party.pk}/agents"


def test_a_party_names_an_agent_with_the_power_of_attorney(demo):
    dispute = factories.dispute_in_mediation()
    respondent = dispute.parties.get(role="respondent")
    response = _client("citizen2@demo.odr").post(_agents_path(dispute, respondent), _agent_form())
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["name"], body["scope"], body["filename"]) == ("赵律师", "special", "委托书.pdf")
    assert body["document_url"].endswith(
        f"/api/v1/disputes/{dispute.pk}/parties/{respondent.pk}/agents/{body['id']}/power-of-attorney"
    )
    agent = Agent.objects.get(pk=body["id"])
    assert agent.added_by == demo_user("citizen2@demo.odr")
    event = AuditEvent.objects.get(action="agent.add", dispute=dispute)
    assert AGENT_ID not in json.dumps(event.after) and event.after["id_number_set"] is True
    # The party's record now names the agent, as the documents print it.
    detail = _client("mediator@demo.odr").get(
        f"/api/v1/disputes/{dispute.pk}/parties/{respondent.pk}"
    )
    assert "委托代理人：赵律师，浙江某某律师事务所律师，特别授权。" in detail.json()["lines"]


def test_the_mediator_names_an_agent_for_a_party_with_a_photo(demo):
    dispute = factories.dispute_in_mediation()
    applicant = dispute.parties.get(role="applicant")
    form = _agent_form(
        file=SimpleUploadedFile("委托书.png", PNG),
        scope="general",
        powers="",
        relation="近亲属（儿子）",
    )
    response = _client("mediator@demo.odr").post(_agents_path(dispute, applicant), form)
    assert response.status_code == 201, response.content
    assert response.json()["scope"] == "general"


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"file": SimpleUploadedFile("委托书.mp3", MP3)}, "file_type_not_allowed"),
        ({"file": SimpleUploadedFile("委托书.pdf", b"not a pdf at all")}, "file_type_not_allowed"),
        ({"powers": ""}, "powers_required"),
        ({"scope": "everything"}, "invalid_scope"),
        ({"name": " "}, "agent_name_required"),
        ({"id_number": "330523197508081100"}, "invalid_id_number"),
    ],
)
def test_a_bad_agent_is_refused_with_422(demo, changes, code):
    dispute = factories.dispute_in_mediation()
    respondent = dispute.parties.get(role="respondent")
    response = _client("citizen2@demo.odr").post(
        _agents_path(dispute, respondent), _agent_form(**changes)
    )
    assert_error(response, 422, code)
    assert not Agent.objects.exists()


def test_the_other_side_names_no_agent_for_a_party(demo):
    dispute = factories.dispute_in_mediation()
    respondent = dispute.parties.get(role="respondent")
    response = _client("citizen1@demo.odr").post(_agents_path(dispute, respondent), _agent_form())
    assert_error(response, 403, "not_allowed_to_name_agent")
    stranger = _client("mediator.yucun@demo.odr").post(
        _agents_path(dispute, respondent), _agent_form()
    )
    assert_error(stranger, 404)


def test_the_power_of_attorney_is_for_those_with_the_right(demo):
    dispute = factories.dispute_in_mediation()
    respondent = dispute.parties.get(role="respondent")
    agent_id = (
        _client("citizen2@demo.odr")
        .post(_agents_path(dispute, respondent), _agent_form())
        .json()["id"]
    )
    path = f"{_agents_path(dispute, respondent)}/{agent_id}/power-of-attorney"
    page_path = f"/disputes/{dispute.pk}/parties/{respondent.pk}/agents/{agent_id}/"
    for email in (
        "citizen1@demo.odr",
        "citizen2@demo.odr",
        "mediator@demo.odr",
        "coordinator@demo.odr",
    ):
        for url in (path, page_path):
            response = _client(email).get(url)
            assert response.status_code == 200, (email, url)
            assert b"".join(response.streaming_content) == PDF
    for email in ("admin@demo.odr", "clerk@demo.odr", "mediator.yucun@demo.odr"):
        for url in (path, page_path):
            assert _client(email).get(url).status_code == 404, (email, url)
    # The admin sees that there is an agent, masked, with no link to the paper.
    listed = _client("admin@demo.odr").get(_agents_path(dispute, respondent)).json()
    assert [(a["name"], a["document_url"], a["id_number"][:6]) for a in listed] == [
        ("赵**", None, AGENT_ID[:6])
    ]


def test_an_agent_is_revoked_once_and_the_record_stays(demo):
    dispute = factories.dispute_in_mediation()
    respondent = dispute.parties.get(role="respondent")
    client = _client("citizen2@demo.odr")
    agent_id = client.post(_agents_path(dispute, respondent), _agent_form()).json()["id"]
    path = f"{_agents_path(dispute, respondent)}/{agent_id}"
    assert_error(_client("citizen1@demo.odr").delete(path), 403, "not_allowed_to_name_agent")
    assert client.delete(path).status_code == 204
    assert_error(client.delete(path), 409, "agent_revoked")
    agent = Agent.objects.get(pk=agent_id)
    assert agent.revoked_at is not None
    assert AuditEvent.objects.filter(action="agent.revoke", dispute=dispute).count() == 1
    detail = client.get(f"/api/v1/disputes/{dispute.pk}/parties/{respondent.pk}").json()
    assert not any(line.startswith("委托代理人") for line in detail["lines"])
    assert detail["agents"][0]["revoked_at"] is not None


def test_no_agent_is_named_or_revoked_once_the_agreement_is_opened(demo):
    dispute = factories.dispute_in_mediation()
    respondent = dispute.parties.get(role="respondent")
    client = _client("citizen2@demo.odr")
    agent_id = client.post(_agents_path(dispute, respondent), _agent_form()).json()["id"]
    factories.agreement_signing(dispute)
    assert_error(
        client.post(_agents_path(dispute, respondent), _agent_form()), 409, "particulars_frozen"
    )
    assert_error(
        client.delete(f"{_agents_path(dispute, respondent)}/{agent_id}"), 409, "particulars_frozen"
    )


def test_agents_are_named_and_revoked_through_the_case_page(demo):
    dispute = factories.dispute_in_mediation()
    respondent = dispute.parties.get(role="respondent")
    client = _client("citizen2@demo.odr")
    page = client.get(f"/disputes/{dispute.pk}/").content.decode()
    assert f'id="add-agent-{respondent.pk}"' in page
    prefix = f"agent{respondent.pk}"
    response = client.post(
        f"/disputes/{dispute.pk}/parties/{respondent.pk}/agents/",
        {
            f"{prefix}-name": "李律师",
            f"{prefix}-relation": "浙江某某律师事务所律师",
            f"{prefix}-scope": "general",
            f"{prefix}-power_of_attorney": SimpleUploadedFile("委托书.pdf", PDF),
        },
    )
    assert response.status_code == 302
    agent = Agent.objects.get(party=respondent)
    page = _client("citizen1@demo.odr").get(f"/disputes/{dispute.pk}/").content.decode()
    assert "李律师" in page and "一般授权" in page
    assert f"/disputes/{dispute.pk}/parties/{respondent.pk}/agents/{agent.pk}/" in page
    admin_page = _client("admin@demo.odr").get(f"/disputes/{dispute.pk}/").content.decode()
    assert f'/agents/{agent.pk}/"' not in admin_page and "李律师" not in admin_page
    response = client.post(
        f"/disputes/{dispute.pk}/parties/{respondent.pk}/agents/{agent.pk}/revoke/"
    )
    assert response.status_code == 302
    agent.refresh_from_db()
    assert agent.revoked_at is not None


# --- the court's packet ---------------------------------------------------------------------


def test_the_court_packet_holds_the_statements_powers_of_attorney_and_particulars(demo):
    from agreements.court.package import build_evidence_package

    dispute = factories.dispute_in_mediation()
    respondent = dispute.parties.get(role="respondent")
    services.profile_update(
        user=demo_user("citizen1@demo.odr"),
        id_number=demo_user("citizen1@demo.odr").profile.id_number,
    )
    services.statement_add(
        actor=demo_user("citizen2@demo.odr"), dispute=dispute, text="只欠五千元。"
    )
    agent = services.agent_add(
        actor=demo_user("citizen2@demo.odr"),
        dispute=dispute,
        party=respondent,
        name="赵律师",
        scope="special",
        powers="代为和解",
        relation="浙江某某律师事务所律师",
        upload=io.BytesIO(PDF),
        filename="委托书.pdf",
        size=len(PDF),
    )
    revoked = services.agent_add(
        actor=demo_user("citizen2@demo.odr"),
        dispute=dispute,
        party=respondent,
        name="钱某",
        scope="general",
        upload=io.BytesIO(PNG),
        filename="旧委托书.png",
        size=len(PNG),
    )
    services.agent_revoke(actor=demo_user("citizen2@demo.odr"), dispute=dispute, agent=revoked)
    agreement = factories.agreement_for(dispute, status="signed")
    _name, data = build_evidence_package(agreement)
    archive = zipfile.ZipFile(io.BytesIO(data))
    names = archive.namelist()
    assert "parties/particulars.txt" in names
    assert "statements/01_statement.txt" in names
    assert "attorney/01_委托书.pdf" in names
    assert not any("旧委托书" in n for n in names)  # a revoked authority is not filed
    assert archive.read("attorney/01_委托书.pdf") == PDF
    statement = archive.read("statements/01_statement.txt").decode()
    assert "答辩人：李四" in statement and "只欠五千元。" in statement
    particulars = archive.read("parties/particulars.txt").decode()
    full_id = demo_user("citizen1@demo.odr").profile.id_number
    assert f"公民身份号码{full_id}" in particulars  # in full: the file is the court's
    assert "委托代理人：赵律师，浙江某某律师事务所律师，特别授权。" in particulars
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["powers_of_attorney"] == [
        {
            "file": "attorney/01_委托书.pdf",
            "party": "李四",
            "agent": "赵律师",
            "scope": "special",
            "sha256": agent.sha256,
        }
    ]
    assert manifest["statements"][0]["file"] == "statements/01_statement.txt"
    for name in names:
        if name != "manifest.json":
            assert name in manifest["files"]
