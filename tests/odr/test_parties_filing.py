"""Filing with full parties (issue 8 point 1; CONTRACT §3 POST /api/v1/disputes): several
respondents and co-applicants, persons and organisations, each invited and each consenting;
the filer's own identity first; what the answers do to the case."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from odr import reminders, services, sms
from odr.identity import credit_check_char, identities_of
from odr.idnumber import id_check_char
from odr.models import AuditEvent, Dispute, Invitation, Party, Profile
from tests import factories
from tests.odr.api_support import NEW_DISPUTE, assert_error, post

pytestmark = pytest.mark.django_db
S = Dispute.Status


def credit_code(body: str = "91330523MA2B3C4D5") -> str:
    return body + credit_check_char(body)


def id_number(birth: str = "19900215", serial: str = "002") -> str:
    first17 = f"330523{birth}{serial}"
    return first17 + id_check_char(first17)


COMPANY = {
    "kind": "organisation",
    "name": "安吉某某竹木有限公司",
    "email": "office@zhumu.example.com",
    "credit_code": credit_code(),
    "representative": "王五",
    "representative_title": "总经理",
    "address": "浙江省湖州市安吉县递铺街道竹海路8号",
}
LISI = {"name": "李四", "email": "citizen2@demo.odr", "phone": "13800000002"}
# Known by phone only: invited by a link the filer passes on.
ZHAOLIU = {"name": "赵六", "phone": "13700000006", "id_number": id_number("19751203", "031")}
WIFE = {"name": "张三妻", "email": "wife@example.com", "id_number": id_number("19820303", "024")}


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def filer(demo):
    return factories.demo_user("citizen1@demo.odr")


@pytest.fixture
def api(filer) -> Client:
    return client_of(filer)


def file_several(api: Client, **extra) -> dict:
    body = {
        **{k: v for k, v in NEW_DISPUTE.items() if k != "respondent"},
        "respondents": [LISI, COMPANY, ZHAOLIU],
        "co_applicants": [WIFE],
        **extra,
    }
    response = post(api, "/api/v1/disputes", body)
    assert response.status_code == 201, response.content
    return response.json()


def invitation_of(dispute: Dispute, name: str) -> Invitation:
    return Invitation.objects.get(party__dispute=dispute, party__name=name)


# --- filing through the API -------------------------------------------------------------


def test_several_respondents_and_a_co_applicant_are_filed_and_each_invited(
    api, filer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        body = file_several(api)
    dispute = Dispute.objects.get(pk=body["id"])
    parties = [(p["role"], p["position"], p["kind"], p["name"]) for p in body["parties"]]
    assert parties == [
        ("applicant", 0, "person", "张三"),
        ("applicant", 1, "person", "张三妻"),
        ("respondent", 0, "person", "李四"),
        ("respondent", 1, "organisation", "安吉某某竹木有限公司"),
        ("respondent", 2, "person", "赵六"),
    ]
    assert [p["accepted"] for p in body["parties"]] == [True, None, None, None, None]
    # Each invited party has its own link; e-mail goes to those with an address.
    assert Invitation.objects.filter(party__dispute=dispute).count() == 4
    assert sorted(m.to[0] for m in mail.outbox) == [
        "citizen2@demo.odr",
        "office@zhumu.example.com",
        "wife@example.com",
    ]
    wife_mail = next(m for m in mail.outbox if m.to == ["wife@example.com"])
    assert invitation_of(dispute, "张三妻").token in wife_mail.body
    # The organisation's particulars are kept as typed (the code upper-cased, checked).
    company = dispute.parties.get(kind=Party.Kind.ORGANISATION)
    assert (company.credit_code, company.representative, company.representative_title) == (
        COMPANY["credit_code"],
        "王五",
        "总经理",
    )
    # A person's sex and birth date follow from the ID number typed for them.
    zhao = dispute.parties.get(name="赵六")
    assert (zhao.sex, zhao.birth_date) == ("M", date(1975, 12, 3))
    # The phone-only party's link is for the filer to pass on, and only for the filer.
    link = next(p for p in body["parties"] if p["name"] == "赵六")["invitation_url"]
    assert link.endswith(f"/invitations/{invitation_of(dispute, '赵六').token}/")
    assert all(p["invitation_url"] is None for p in body["parties"] if p["name"] != "赵六")
    other = client_of(factories.demo_user("citizen2@demo.odr"))
    services.invitation_accept(
        token=invitation_of(dispute, "李四").token,
        user=factories.demo_user("citizen2@demo.odr"),
        consent_online=True,
    )
    seen = other.get(f"/api/v1/disputes/{dispute.pk}").json()
    assert all(p["invitation_url"] is None for p in seen["parties"])


def test_the_single_respondent_of_older_clients_still_files(api):
    response = post(api, "/api/v1/disputes", NEW_DISPUTE)
    assert response.status_code == 201, response.content
    assert [p["role"] for p in response.json()["parties"]] == ["applicant", "respondent"]


def test_the_filers_party_row_has_the_real_name_and_particulars_never_the_email(api, filer):
    Profile.objects.filter(user=filer).update(
        address="浙江省安吉县递铺街道胜利西路1号", ethnicity="汉族", occupation="农民"
    )
    body = file_several(api)
    party = Dispute.objects.get(pk=body["id"]).applicant
    assert party.user == filer
    assert party.name == "张三"
    assert "@" not in party.name
    assert party.id_number == filer.profile.id_number
    assert (party.sex, party.birth_date) == ("M", date(1980, 1, 1))
    assert (party.address, party.ethnicity, party.occupation, party.phone) == (
        "浙江省安吉县递铺街道胜利西路1号",
        "汉族",
        "农民",
        "13800000001",
    )
    assert party.position == 0 and party.accepted is True


@pytest.mark.parametrize(
    ("respondents", "code"),
    [
        ([{**COMPANY, "credit_code": COMPANY["credit_code"][:-1] + "0"}], "invalid_credit_code"),
        ([{**COMPANY, "credit_code": ""}], "invalid_credit_code"),
        ([{**ZHAOLIU, "id_number": "330523197512030310"}], "invalid_id_number"),
        ([{"name": "无联系方式"}], "contact_required"),
        ([LISI, {**LISI, "name": "李四又一次"}], "duplicate_party"),
        ([{"name": f"某人{i}", "phone": f"1390000{i:04d}"} for i in range(11)], "too_many_parties"),
    ],
)
def test_bad_parties_are_refused_with_422_and_nothing_saved(api, respondents, code):
    response = post(
        api,
        "/api/v1/disputes",
        {**{k: v for k, v in NEW_DISPUTE.items() if k != "respondent"}, "respondents": respondents},
    )
    assert_error(response, 422, code)
    assert not Dispute.objects.exists()
    assert not AuditEvent.objects.filter(action="dispute.file").exists()


def test_the_filer_cannot_name_themselves_by_their_id_number(api, filer):
    me = {"name": "张三", "phone": "13811112222", "id_number": filer.profile.id_number}
    response = post(api, "/api/v1/disputes", {**NEW_DISPUTE, "respondent": me})
    assert_error(response, 400, "self_dispute")


def test_a_co_applicant_is_checked_like_a_respondent(api):
    response = post(
        api, "/api/v1/disputes", {**NEW_DISPUTE, "co_applicants": [{"name": "无联系方式"}]}
    )
    body = assert_error(response, 422, "contact_required")
    assert "Co-applicant 1" in body["detail"] or "共同申请人" in body["detail"]


def test_filing_needs_the_filers_real_name_and_id_number(demo):
    newcomer = factories.make_user("new@example.com", name="", id_number="")
    response = post(client_of(newcomer), "/api/v1/disputes", NEW_DISPUTE)
    body = assert_error(response, 422, "identity_required")
    assert "ID" in body["detail"] or "身份" in body["detail"]
    assert not Dispute.objects.exists()


# --- filing through the page ------------------------------------------------------------


def page_form(**overrides) -> dict:
    data = {
        "category": "debt",
        "region": "330523000000",
        "title": "借款一万元未还",
        "description": "2025年3月借给李四一万元，至今未还。",
        "respondent_count": "2",
        "co_applicant_count": "1",
        "respondent_name": "李四",
        "respondent_email": "citizen2@demo.odr",
        "respondent2_kind": "organisation",
        "respondent2_name": COMPANY["name"],
        "respondent2_email": COMPANY["email"],
        "respondent2_credit_code": COMPANY["credit_code"],
        "respondent2_representative": "王五",
        "co_applicant1_name": "张三妻",
        "co_applicant1_phone": "13600000003",
        "file": "1",
    }
    data.update(overrides)
    return data


def test_the_page_files_several_respondents_and_a_co_applicant(api, filer):
    response = api.post(reverse("odr:dispute_new"), page_form())
    assert response.status_code == 302, response.content.decode()[:2000]
    dispute = Dispute.objects.get()
    assert [(p.role, p.position, p.name) for p in dispute.parties.all()] == [
        ("applicant", 0, "张三"),
        ("applicant", 1, "张三妻"),
        ("respondent", 0, "李四"),
        ("respondent", 1, COMPANY["name"]),
    ]
    assert Invitation.objects.filter(party__dispute=dispute).count() == 3
    # The co-applicant has a phone only: the filer sees her link on the case page.
    page = api.get(reverse("odr:dispute_detail", args=[dispute.pk])).content.decode()
    token = invitation_of(dispute, "张三妻").token
    assert f"/invitations/{token}/" in page
    respondent = client_of(factories.demo_user("citizen2@demo.odr"))
    services.invitation_accept(
        token=invitation_of(dispute, "李四").token,
        user=factories.demo_user("citizen2@demo.odr"),
        consent_online=True,
    )
    other_page = respondent.get(reverse("odr:dispute_detail", args=[dispute.pk])).content.decode()
    assert f"/invitations/{token}/" not in other_page


def test_add_another_party_keeps_everything_typed_and_saves_nothing(api):
    response = api.post(
        reverse("odr:dispute_new"),
        {**page_form(title="保留我的标题"), "add_party": "respondent", "file": ""},
    )
    assert response.status_code == 200
    assert not Dispute.objects.exists()
    page = response.content.decode()
    assert 'value="保留我的标题"' in page
    assert f'value="{COMPANY["credit_code"]}"' in page
    assert 'name="respondent3_name"' in page
    assert 'name="respondent_count" value="3"' in page


def test_the_page_shows_a_bad_credit_code_at_its_field_and_keeps_the_input(api):
    bad = COMPANY["credit_code"][:-1] + "0"
    response = api.post(reverse("odr:dispute_new"), page_form(respondent2_credit_code=bad))
    assert response.status_code == 400
    assert list(response.context["form"].errors) == ["respondent2_credit_code"]
    page = response.content.decode()
    assert f'value="{bad}"' in page and 'value="张三妻"' in page
    assert not Dispute.objects.exists()


def test_the_page_asks_a_filer_without_an_id_number_for_it_and_saves_it_to_the_profile(demo):
    newcomer = factories.make_user("new@example.com", name="", id_number="")
    client = client_of(newcomer)
    page = client.get(reverse("odr:dispute_new")).content.decode()
    assert 'name="real_name"' in page and 'name="id_number"' in page
    # Without them: the error at the name, nothing saved.
    response = client.post(reverse("odr:dispute_new"), page_form())
    assert response.status_code == 400
    assert "real_name" in response.context["form"].errors
    assert not Dispute.objects.exists()
    # A bad ID number (a wrong check character) is refused at its field.
    mine = id_number("19900215", "022")
    wrong = mine[:-1] + ("0" if mine[-1] != "0" else "1")
    response = client.post(
        reverse("odr:dispute_new"), page_form(real_name="王小二", id_number=wrong)
    )
    assert response.status_code == 400
    assert "id_number" in response.context["form"].errors
    response = client.post(
        reverse("odr:dispute_new"), page_form(real_name="王小二", id_number=mine)
    )
    assert response.status_code == 302
    profile = Profile.objects.get(user=newcomer)
    assert (profile.real_name, profile.id_number) == ("王小二", mine)
    party = Dispute.objects.get().applicant
    assert (party.name, party.id_number, party.sex, party.birth_date) == (
        "王小二",
        mine,
        "F",
        date(1990, 2, 15),
    )
    # Once given, the page no longer asks.
    page = client.get(reverse("odr:dispute_new")).content.decode()
    assert 'name="real_name"' not in page


# --- the answers: each party invited, each consenting -----------------------------------


@pytest.fixture
def two_respondents(api) -> Dispute:
    second = factories.make_user("wangwu@example.com", name="王五")
    body = post(
        api,
        "/api/v1/disputes",
        {
            **NEW_DISPUTE,
            "respondent": None,
            "respondents": [LISI, {"name": "王五", "email": second.email}],
        },
    )
    assert body.status_code == 201, body.content
    return Dispute.objects.get(pk=body.json()["id"])


def answer(dispute: Dispute, name: str, user, *, accept: bool) -> Dispute:
    token = invitation_of(dispute, name).token
    if accept:
        return services.invitation_accept(token=token, user=user, consent_online=True)
    return services.invitation_decline(token=token, user=user, reason="不同意调解")


def test_one_of_two_respondents_declines_and_the_case_goes_on_with_the_other(two_respondents):
    lisi, wangwu = (
        factories.demo_user("citizen2@demo.odr"),
        factories.demo_user("wangwu@example.com"),
    )
    dispute = answer(two_respondents, "王五", wangwu, accept=False)
    assert dispute.status == S.FILED  # 李四 has not answered yet
    assert dispute.parties.get(name="王五").accepted is False
    dispute = answer(two_respondents, "李四", lisi, accept=True)
    assert dispute.status == S.AWAITING_INTAKE
    assert dispute.intake_at is not None
    actions = list(
        AuditEvent.objects.filter(dispute=dispute, action__startswith="dispute.")
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert actions == ["dispute.file", "dispute.party_decline", "dispute.respond_accept"]
    # The one who declined is out of the case: the documents leave them out.
    names = [i.name for i in identities_of(dispute, accepted_only=True)]
    assert names == ["张三", "李四"]


def test_the_last_answer_a_decline_still_sends_the_case_to_intake(two_respondents):
    dispute = answer(two_respondents, "李四", factories.demo_user("citizen2@demo.odr"), accept=True)
    assert dispute.status == S.FILED  # 王五 has not answered yet
    dispute = answer(
        two_respondents, "王五", factories.demo_user("wangwu@example.com"), accept=False
    )
    assert dispute.status == S.AWAITING_INTAKE
    assert AuditEvent.objects.filter(dispute=dispute, action="dispute.party_decline_last").exists()


def test_both_respondents_decline_and_the_case_is_declined(two_respondents):
    answer(two_respondents, "李四", factories.demo_user("citizen2@demo.odr"), accept=False)
    dispute = answer(
        two_respondents, "王五", factories.demo_user("wangwu@example.com"), accept=False
    )
    assert dispute.status == S.DECLINED
    assert dispute.closed_at is not None
    assert AuditEvent.objects.filter(dispute=dispute, action="dispute.respond_decline").exists()


def test_the_case_waits_for_a_co_applicant_before_intake(api):
    wife = factories.make_user("wife@example.com", name="张三妻")
    body = file_several(api, respondents=[LISI])
    dispute = Dispute.objects.get(pk=body["id"])
    dispute = answer(dispute, "李四", factories.demo_user("citizen2@demo.odr"), accept=True)
    assert dispute.status == S.FILED
    dispute = answer(dispute, "张三妻", wife, accept=True)
    assert dispute.status == S.AWAITING_INTAKE


def test_accepting_links_the_user_to_that_party_and_copies_their_particulars(two_respondents):
    wangwu = factories.demo_user("wangwu@example.com")
    Profile.objects.filter(user=wangwu).update(
        address="安吉县孝丰镇三里村8号", ethnicity="汉族", occupation="个体工商户", phone="139"
    )
    answer(two_respondents, "王五", wangwu, accept=True)
    party = two_respondents.parties.get(user=wangwu)
    assert party.role == "respondent" and party.position == 1
    assert party.id_number == wangwu.profile.id_number
    assert party.sex and party.birth_date is not None
    assert (party.address, party.ethnicity, party.occupation, party.phone) == (
        "安吉县孝丰镇三里村8号",
        "汉族",
        "个体工商户",
        "139",
    )


def test_accepting_asks_for_the_real_name_and_id_number_first(two_respondents):
    wangwu = factories.demo_user("wangwu@example.com")
    Profile.objects.filter(user=wangwu).update(id_number="")
    token = invitation_of(two_respondents, "王五").token
    response = post(client_of(wangwu), f"/api/v1/invitations/{token}/accept", {})
    assert_error(response, 422, "identity_required")
    assert Invitation.objects.get(token=token).used_at is None
    mine = id_number("19700707", "015")
    response = post(
        client_of(wangwu),
        f"/api/v1/invitations/{token}/accept",
        {"real_name": "王五", "id_number": mine},
    )
    assert response.status_code == 200, response.content
    assert two_respondents.parties.get(name="王五").id_number == mine
    assert Profile.objects.get(user=wangwu).id_number == mine


def test_the_invitation_page_asks_for_the_id_number_inline(two_respondents):
    wangwu = factories.demo_user("wangwu@example.com")
    Profile.objects.filter(user=wangwu).update(id_number="")
    token = invitation_of(two_respondents, "王五").token
    client = client_of(wangwu)
    page = client.get(reverse("odr:invitation", args=[token])).content.decode()
    assert 'name="id_number"' in page
    assert "王五" in page and "李四" in page  # who they are invited as, and the others
    mine = id_number("19700707", "015")
    response = client.post(
        reverse("odr:invitation_accept", args=[token]),
        {"consent": "on", "real_name": "王五", "id_number": mine},
    )
    assert response.status_code == 302
    assert two_respondents.parties.get(name="王五").accepted is True


def test_one_person_cannot_answer_for_two_parties(two_respondents):
    lisi = factories.demo_user("citizen2@demo.odr")
    answer(two_respondents, "李四", lisi, accept=True)
    token = invitation_of(two_respondents, "王五").token
    response = post(
        client_of(lisi), f"/api/v1/invitations/{token}/accept", {"confirm_identity": True}
    )
    assert_error(response, 403, "already_a_party")
    assert Dispute.objects.get(pk=two_respondents.pk).status == S.FILED


# --- reminders --------------------------------------------------------------------------


def test_each_unanswered_invitation_is_reminded_and_a_phone_only_one_by_text(
    api, settings, django_capture_on_commit_callbacks
):
    settings.ODR_INVITATION_REMINDER_DAYS = 3
    body = file_several(api)
    dispute = Dispute.objects.get(pk=body["id"])
    answer(dispute, "李四", factories.demo_user("citizen2@demo.odr"), accept=True)
    mail.outbox.clear()
    before = len(sms.sent_texts())
    expires = invitation_of(dispute, "赵六").expires_at
    with django_capture_on_commit_callbacks(execute=True):
        assert reminders.send_due(now=expires - timedelta(days=1)) == 3
    assert sorted(m.to[0] for m in mail.outbox) == [
        "office@zhumu.example.com",
        "wife@example.com",
    ]
    # 赵六, known by a mobile number only, is texted the link himself (issue 12).
    [text] = sms.sent_texts()[before:]
    assert text["to"] == "+8613700000006"
    assert invitation_of(dispute, "赵六").token in text["text"]
    assert AuditEvent.objects.filter(dispute=dispute, action="invitation.remind").count() == 3
    assert timezone.now() < expires
