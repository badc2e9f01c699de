"""Resident ID numbers (GB 11643-1999) and the masks shown to everyone but the owner."""

from __future__ import annotations

import pytest

from odr.idnumber import (
    id_check_char,
    is_valid_id_number,
    mask_id_number,
    mask_name,
    mask_phone,
)


def with_check(first17: str) -> str:
    return first17 + id_check_char(first17)


def test_a_published_sample_number_is_valid():
    # The standard's worked example: 11010519491231002X.
    assert id_check_char("11010519491231002") == "X"
    assert is_valid_id_number("11010519491231002X")
    assert is_valid_id_number("11010519491231002x")  # lower-case x is the same character


def test_a_wrong_check_character_is_refused():
    good = with_check("33052319800101123")
    wrong = good[:17] + ("0" if good[17] != "0" else "1")
    assert is_valid_id_number(good)
    assert not is_valid_id_number(wrong)


@pytest.mark.parametrize(
    "first17",
    ["33052319801301123", "33052319800230123", "33052318000101123", "33052330000101123"],
)
def test_an_impossible_date_of_birth_is_refused_even_with_the_right_check(first17):
    assert not is_valid_id_number(with_check(first17))


@pytest.mark.parametrize("value", ["", "123", "33052319800101123", "3305231980010112345", "A" * 18])
def test_malformed_numbers_are_refused(value):
    assert not is_valid_id_number(value)


def test_id_numbers_are_masked_to_region_and_last_character():
    assert mask_id_number("330523198001011234") == "330523***********4"
    assert mask_id_number("") == ""
    assert mask_id_number("12345") == "*****"


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13812345678", "138****5678"),
        ("05725123456", "057****3456"),
        ("5123456", "***3456"),
        ("88123456", "****3456"),
        ("123", "***"),
        ("", ""),
    ],
)
def test_phones_are_masked_and_always_hide_something(phone, masked):
    assert mask_phone(phone) == masked


def test_names_keep_only_their_first_character():
    assert mask_name("张三丰") == "张**"
    assert mask_name("李") == "*"
    assert mask_name("") == ""
