"""A person's particulars in their profile (PATCH /api/v1/me, the profile page), and how
a change reaches their Party rows on cases whose agreement is not yet opened for signing,
never a frozen version."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from odr import services
from odr.idnumber import id_check_char
from odr.models import AuditEvent, Party, Profile
from tests import factories
from tests.factories import demo_user
from tests.odr.api_support import assert_error

pytestmark = pytest.mark.django_db


def _id(first17: str) -> str:
    return first17 + id_check_char(first17)


MAN = _id("33052319700315131")  # born 1970-03-15, 17th digit odd: a man
WOMAN = _id("33052319920720242")  # born 1992-07-20, even: a woman


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _client(email: str) -> Client:
    client = Client()
    client.force_login(demo_user(email))
    return client


def _patch(client: Client, data: dict):
    return client.patch("/api/v1/me", json.dumps(data), content_type="application/json")


def test_patch_me_sets_every_particular_and_name_becomes_the_real_name(demo):
    user = factories.make_user("new@example.com", name="")
    client = Client()
    client.force_login(user)
    assert client.get("/api/v1/me").json()["name"] == "new@example.com"
    response = _patch(
        client,
        {
            "real_name": "王小明",
            "phone": "13700000009",
            "id_number": MAN,
            "address": "浙江省安吉县孝丰镇白杨村3号",
            "ethnicity": "汉族",
            "occupation": "农民",
            "language": "zh-hans",
        },
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["name"] == "王小明"
    assert body["profile"] == {
        "real_name": "王小明",
        "phone": "13700000009",
        "id_number": MAN,
        "address": "浙江省安吉县孝丰镇白杨村3号",
        "sex": "M",  # from the ID number: none was given
        "birth_date": "1970-03-15",
        "ethnicity": "汉族",
        "occupation": "农民",
        "language": "zh-hans",
    }
    assert client.get("/api/v1/me").json()["profile"]["sex"] == "M"


def test_a_field_left_out_stays_as_it_is(demo):
    client = _client("citizen1@demo.odr")
    before = client.get("/api/v1/me").json()["profile"]
    body = _patch(client, {"occupation": "个体工商户"}).json()
    assert body["profile"] == {**before, "occupation": "个体工商户"}


def test_a_bad_id_number_answers_422_and_changes_nothing(demo):
    client = _client("citizen1@demo.odr")
    before = Profile.objects.get(user__email="citizen1@demo.odr")
    events = AuditEvent.objects.count()
    wrong = MAN[:-1] + ("0" if MAN[-1] != "0" else "1")
    assert_error(
        _patch(client, {"id_number": wrong, "real_name": "改名"}), 422, "invalid_id_number"
    )
    assert_error(_patch(client, {"id_number": "12345"}), 422, "invalid_id_number")
    after = Profile.objects.get(user__email="citizen1@demo.odr")
    assert (after.real_name, after.id_number) == (before.real_name, before.id_number)
    assert AuditEvent.objects.count() == events


def test_a_sex_the_id_number_contradicts_answers_422(demo):
    client = _client("citizen1@demo.odr")
    assert_error(_patch(client, {"id_number": MAN, "sex": "F"}), 422, "sex_contradicts_id")
    assert_error(_patch(client, {"sex": "X"}), 422, "invalid_sex")
    assert _patch(client, {"id_number": WOMAN, "sex": "F"}).json()["profile"]["sex"] == "F"


def test_a_new_id_number_replaces_the_sex_it_contradicts(demo):
    client = _client("citizen1@demo.odr")
    assert _patch(client, {"id_number": MAN}).json()["profile"]["sex"] == "M"
    assert _patch(client, {"id_number": WOMAN}).json()["profile"]["sex"] == "F"


def test_the_audit_trail_never_holds_the_id_number(demo):
    client = _client("citizen1@demo.odr")
    factories.file_dispute()  # citizen1's party row follows the profile too
    _patch(client, {"id_number": MAN, "ethnicity": "回族"})
    events = AuditEvent.objects.filter(action__in=["profile.update", "party.update"])
    assert {e.action for e in events} == {"profile.update", "party.update"}
    for event in events:
        dumped = json.dumps([event.before, event.after], ensure_ascii=False)
        assert MAN not in dumped
        assert event.after["id_number_set"] is True


def test_a_profile_change_reaches_the_party_rows_of_open_cases_without_an_agreement(demo):
    dispute = factories.dispute_in_mediation()
    client = _client("citizen2@demo.odr")
    response = _patch(
        client,
        {
            "real_name": "李四娘",
            "id_number": WOMAN,
            "ethnicity": "畲族",
            "occupation": "教师",
            "address": "浙江省安吉县孝丰镇横溪坞村8号",
        },
    )
    assert response.status_code == 200
    party = Party.objects.get(dispute=dispute, role="respondent")
    assert (party.name, party.id_number, party.sex, party.ethnicity, party.occupation) == (
        "李四娘",
        WOMAN,
        "F",
        "畲族",
        "教师",
    )
    assert party.birth_date.isoformat() == "1992-07-20"
    assert party.address == "浙江省安吉县孝丰镇横溪坞村8号"
    event = AuditEvent.objects.get(action="party.update", dispute=dispute)
    assert event.after["from_profile"] is True
    # The case page now names her so, to those with the right.
    page = _client("mediator@demo.odr").get(f"/disputes/{dispute.pk}/").content.decode()
    assert "李四娘，女，1992年7月20日出生，畲族，教师" in page


def test_a_draft_agreement_not_yet_opened_still_takes_the_change(demo):
    agreement = factories.agreement_draft()
    _patch(_client("citizen1@demo.odr"), {"occupation": "竹编艺人"})
    party = Party.objects.get(dispute=agreement.dispute, role="applicant")
    assert party.occupation == "竹编艺人"


def test_an_agreement_opened_for_signing_keeps_what_it_froze(demo):
    agreement = factories.agreement_signing()
    dispute = agreement.dispute
    party = Party.objects.get(dispute=dispute, role="respondent")
    frozen = list(type(agreement).objects.get(pk=agreement.pk).parties)
    before = (party.name, party.id_number, party.occupation)
    response = _patch(_client("citizen2@demo.odr"), {"real_name": "李四改", "id_number": WOMAN})
    assert response.status_code == 200
    party.refresh_from_db()
    assert (party.name, party.id_number, party.occupation) == before
    assert type(agreement).objects.get(pk=agreement.pk).parties == frozen
    assert not AuditEvent.objects.filter(action="party.update", dispute=dispute).exists()
    # The profile itself changed.
    assert Profile.objects.get(user__email="citizen2@demo.odr").real_name == "李四改"


def test_a_closed_case_is_left_as_it_was(demo):
    dispute = factories.file_dispute()
    services.dispute_withdraw(dispute=dispute, actor=demo_user("citizen1@demo.odr"), reason="")
    _patch(_client("citizen1@demo.odr"), {"occupation": "退休"})
    assert Party.objects.get(dispute=dispute, role="applicant").occupation != "退休"


# --- the profile page -----------------------------------------------------------------


def test_the_profile_page_edits_the_same_particulars_in_plain_words(demo):
    client = _client("citizen1@demo.odr")
    page = client.get("/profile/").content.decode()
    for field in ("real_name", "phone", "id_number", "sex", "ethnicity", "occupation", "address"):
        assert f'name="{field}"' in page, field
    response = client.post(
        "/profile/",
        {
            "real_name": "张三",
            "phone": "13800000001",
            "id_number": MAN,
            "sex": "",
            "ethnicity": "汉族",
            "occupation": "农民",
            "address": "浙江省安吉县天荒坪镇余村18号",
            "language": "zh-hans",
        },
    )
    assert response.status_code == 302
    profile = Profile.objects.get(user__email="citizen1@demo.odr")
    assert (profile.sex, profile.occupation, profile.address) == (
        "M",
        "农民",
        "浙江省安吉县天荒坪镇余村18号",
    )
    page = client.get("/profile/").content.decode()
    assert "1970-03-15" in page  # the birth date read from the ID number


def test_the_profile_page_shows_a_contradicting_sex_next_to_the_field(demo):
    client = _client("citizen1@demo.odr")
    response = client.post(
        "/profile/",
        {"real_name": "张三", "id_number": MAN, "sex": "F", "language": "zh-hans"},
    )
    assert response.status_code == 400
    assert response.context["form"].errors["sex"]
    assert Profile.objects.get(user__email="citizen1@demo.odr").id_number != MAN


def test_a_respondent_who_agrees_to_mediate_brings_their_profile_to_the_case(
    demo, django_capture_on_commit_callbacks
):
    dispute = factories.file_dispute()
    respondent = dispute.parties.get(role="respondent")
    assert respondent.id_number == ""
    profile = demo_user("citizen2@demo.odr").profile
    with django_capture_on_commit_callbacks(execute=True):
        services.invitation_accept(
            token=respondent.invitation.token,
            user=demo_user("citizen2@demo.odr"),
            consent_online=True,
        )
    respondent.refresh_from_db()
    assert (respondent.id_number, respondent.sex, respondent.ethnicity, respondent.address) == (
        profile.id_number,
        profile.sex,
        profile.ethnicity,
        profile.address,
    )
    # The invitation's answer carried them (odr.services.invitations), recorded with it.
    assert AuditEvent.objects.filter(action="dispute.respond_accept", dispute=dispute).exists()


# --- the demo data (CONTRACT §1) --------------------------------------------------------


def test_seed_demo_makes_every_account_of_the_contract_and_the_courts_idempotently(demo):
    from odr.identity import sex_from_id
    from odr.idnumber import is_valid_id_number
    from odr.models import Membership, Organisation

    factories.seed_demo()  # a second run creates nothing twice
    roles = {
        "mediator@demo.odr": ("mediator", "安吉县社会矛盾纠纷调处化解中心"),
        "coordinator@demo.odr": ("coordinator", "安吉县社会矛盾纠纷调处化解中心"),
        "reception@demo.odr": ("reception", "安吉县社会矛盾纠纷调处化解中心"),
        "gridworker@demo.odr": ("grid_worker", "余村人民调解委员会"),
        "clerk@demo.odr": ("clerk", "安吉县人民法院"),
        "judge@demo.odr": ("judge", "安吉县人民法院"),
        "president@demo.odr": ("president", "安吉县人民法院"),
    }
    for email, (role, org) in roles.items():
        memberships = Membership.objects.filter(user__email=email)
        assert [(m.role, m.organisation.name) for m in memberships] == [(role, org)], email
        assert demo_user(email).check_password(factories.PASSWORD)
    assert demo_user("admin@demo.odr").is_superuser
    centre = Organisation.objects.get(kind=Organisation.Kind.COUNTY_CENTRE)
    assert centre.committee_name == "安吉县人民调解委员会"
    assert centre.issuer_name == "安吉县人民调解委员会"
    intermediate = Organisation.objects.get(kind=Organisation.Kind.INTERMEDIATE_COURT)
    assert intermediate.name == "湖州市中级人民法院" and intermediate.region.level == "city"
    assert intermediate.is_court and not intermediate.is_basic_court
    assert Organisation.objects.filter(name="湖州市中级人民法院").count() == 1
    for email in ("citizen1@demo.odr", "citizen2@demo.odr"):
        profile = demo_user(email).profile
        assert is_valid_id_number(profile.id_number)
        assert profile.sex == sex_from_id(profile.id_number)
        assert profile.ethnicity == "汉族"
        assert profile.occupation and profile.address.startswith("浙江省安吉县")
