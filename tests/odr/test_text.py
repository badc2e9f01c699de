"""The one text cleaner (odr.text): what a title, name or message keeps."""

import pytest

from odr.text import clean_text, has_visible_text


@pytest.mark.parametrize(
    "raw",
    ["\u200b\u200b", "\u202e", "\ufeff \u2066\u2069", "\u200e\u200f\u00ad", " \t\n"],
)
def test_a_title_of_only_invisible_characters_is_empty(raw):
    assert clean_text(raw) == ""
    assert not has_visible_text(raw)


def test_a_right_to_left_override_is_removed_and_the_text_kept_in_order():
    assert clean_text("李四欠款\u202e0005\u202c元") == "李四欠款0005元"


def test_a_single_line_field_folds_line_breaks_and_runs_of_spaces():
    assert clean_text("  借款\r\n未还 \t 纠纷 ") == "借款 未还 纠纷"


def test_a_multiline_field_keeps_its_lines_and_drops_control_characters():
    assert clean_text("第一行\r\n第二行\x07\n\n第四行\x00", multiline=True) == (
        "第一行\n第二行\n\n第四行"
    )


def test_ordinary_chinese_and_english_text_is_unchanged():
    text = "张三 v. 李四：借款人民币10,000.00元（Loan of CNY 10,000）"
    assert clean_text(text) == text
