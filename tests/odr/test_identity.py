"""odr.identity: the GB 32100 credit code, what a resident ID number says (sex, birth
date), and the lines every document prints for a party, masked and not."""

from __future__ import annotations

from datetime import date

import pytest

from odr.identity import (
    AgentIdentity,
    PartyIdentity,
    birth_date_from_id,
    credit_check_char,
    describe,
    is_valid_credit_code,
    missing_particulars,
    sex_from_id,
)
from odr.idnumber import id_check_char


def _id(first17: str) -> str:
    return first17 + id_check_char(first17)


def _code(first17: str) -> str:
    return first17 + credit_check_char(first17)


MAN = _id("33052319800101123")  # 17th digit 3: odd, a man
WOMAN = _id("33052319850505456")  # 17th digit 6: even, a woman


# --- GB 32100-2015 ------------------------------------------------------------------------


def test_a_published_credit_code_checks():
    # A real one (the People's Bank of China's), with its check character.
    assert is_valid_credit_code("11100000000013127D")


def test_a_computed_credit_code_checks_and_lower_case_is_read_as_upper():
    code = _code("91330523MA2B3C4D5")
    assert is_valid_credit_code(code)
    assert is_valid_credit_code(code.lower())
    assert is_valid_credit_code(f"  {code} ")


@pytest.mark.parametrize(
    "value",
    [
        "",
        "91330523MA2B3C4D5",  # 17 characters
        "91330523MA2B3C4D5EX",  # 19
        "91330523MI2B3C4D5E",  # I is not in the code's alphabet
        "91330523MO2B3C4D5E",  # nor O
        "9133052XMA2B3C4D5E",  # the division code must be six digits
    ],
)
def test_a_malformed_credit_code_is_refused(value):
    assert not is_valid_credit_code(value)


def test_a_wrong_check_character_is_refused():
    code = _code("91330523MA2B3C4D5")
    wrong = "0" if code[-1] != "0" else "1"
    assert not is_valid_credit_code(code[:-1] + wrong)


# --- the resident ID number ---------------------------------------------------------------


def test_sex_and_birth_date_follow_from_the_id_number():
    assert sex_from_id(MAN) == "M"
    assert sex_from_id(WOMAN) == "F"
    assert birth_date_from_id(MAN) == date(1980, 1, 1)
    assert birth_date_from_id(WOMAN) == date(1985, 5, 5)


def test_an_x_check_character_is_read_in_either_case():
    first17 = next(
        f"33052319900101{n:03d}"
        for n in range(1000)
        if id_check_char(f"33052319900101{n:03d}") == "X"
    )
    assert sex_from_id(first17 + "X") in ("M", "F")
    assert birth_date_from_id(first17 + "x") == date(1990, 1, 1)


@pytest.mark.parametrize(
    "value",
    ["", "330523198001011", MAN[:-1] + ("0" if MAN[-1] != "0" else "1"), _id("33052319801301123")],
)
def test_an_invalid_id_number_says_nothing(value):
    assert sex_from_id(value) == ""
    assert birth_date_from_id(value) is None


# --- describe -----------------------------------------------------------------------------


def _person(**kw) -> PartyIdentity:
    values = {
        "party_id": 1,
        "role": "applicant",
        "kind": "person",
        "name": "张三",
        "address": "浙江省安吉县天荒坪镇余村18号",
        "phone": "13800000001",
        "id_number": MAN,
        "sex": "M",
        "birth_date": "1980-01-01",
        "ethnicity": "汉族",
        "occupation": "农民",
    }
    return PartyIdentity(**{**values, **kw})


def _company(**kw) -> PartyIdentity:
    values = {
        "party_id": 2,
        "role": "respondent",
        "kind": "organisation",
        "name": "安吉某某竹木制品有限公司",
        "address": "浙江省安吉县递铺街道竹海路8号",
        "credit_code": _code("91330523MA2B3C4D5"),
        "representative": "王五",
        "representative_title": "总经理",
    }
    return PartyIdentity(**{**values, **kw})


def test_a_person_is_described_in_full_as_the_originals_print_them():
    lines = describe(_person())
    assert lines == [
        "申请人：张三，男，1980年1月1日出生，汉族，农民，住浙江省安吉县天荒坪镇余村18号，"
        f"公民身份号码{MAN}，联系电话13800000001。"
    ]


def test_a_person_is_masked_for_public_pages():
    (line,) = describe(_person(), masked=True)
    assert line.startswith("申请人：张*，男，1980年出生，汉族，农民，住浙江省安吉县****，")
    assert MAN not in line and MAN[:6] + "*" * 11 + MAN[-1] in line
    assert "13800000001" not in line and "138****0001" in line
    assert "余村18号" not in line and "1月1日" not in line


def test_an_organisation_names_its_seat_code_and_representative():
    company = _company()
    lines = describe(company)
    assert lines == [
        "被申请人：安吉某某竹木制品有限公司，住所地浙江省安吉县递铺街道竹海路8号，"
        f"统一社会信用代码{company.credit_code}。",
        "法定代表人：王五，总经理。",
    ]
    masked = describe(company, masked=True)
    assert masked[0].startswith("被申请人：安*")
    assert "竹海路8号" not in masked[0]
    assert masked[1] == "法定代表人：王*，总经理。"


def test_agents_follow_their_party_with_their_scope_and_a_label_can_be_given():
    agent = AgentIdentity(name="李律师", scope="special", relation="浙江某某律师事务所律师")
    lines = describe(_person(agents=(agent,)), label="申请人一")
    assert lines[0].startswith("申请人一：张三，")
    assert lines[1] == "委托代理人：李律师，浙江某某律师事务所律师，特别授权。"
    assert describe(_person(agents=(agent,)), masked=True)[1].startswith("委托代理人：李**，")


def test_missing_particulars_name_what_a_court_needs_in_chinese():
    assert missing_particulars(_person()) == []
    assert missing_particulars(_person(ethnicity="", id_number="")) == ["公民身份号码", "民族"]
    assert missing_particulars(_company(credit_code="", representative="")) == [
        "统一社会信用代码",
        "法定代表人或主要负责人",
    ]


def test_the_record_round_trips_through_its_dict():
    identity = _person(agents=(AgentIdentity(name="李律师", scope="general"),))
    data = identity.as_dict()
    assert data["agents"] == [
        {"name": "李律师", "scope": "general", "relation": "", "id_number": "", "phone": ""}
    ]
    assert PartyIdentity.from_dict({**data, "unknown_key": 1}) == identity
