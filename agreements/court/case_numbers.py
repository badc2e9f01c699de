"""The court's own case number, typed by the clerk who dockets an application (CONTRACT §3,
DESIGN.md §3): `（2026）浙0523民特1号` — the year in full-width brackets, the court's code
(the province's abbreviation and the court's digits), 民特 for special procedures, the
number without padding, 号.

The platform no longer draws the number: the court's own system gives it, and what is
checked here is its form, so that a ruling never prints a number the court would not
recognise. Half-width brackets typed on an ordinary keyboard are normalised; anything else
is refused with the form expected."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.utils.translation import gettext as _

from odr.errors import Invalid
from odr.models import Organisation
from odr.text import clean_text

KIND = "民特"  # 民事特别程序: judicial confirmation of a mediation agreement
# A court's code: the province's one-character abbreviation, then two digits for an
# intermediate court or four for a basic court (浙, 浙05, 浙0523).
COURT_CODE = r"[\u4e00-\u9fff](?:[0-9]{2}){0,2}"
FORM = re.compile(
    rf"^（(?P<year>[0-9]{{4}})）(?P<court>{COURT_CODE}){KIND}(?P<number>[1-9][0-9]*)号$"
)
_COURT_CODE = re.compile(rf"^{COURT_CODE}$")


@dataclass(frozen=True)
class CaseNumber:
    text: str  # as stored and printed, full-width brackets
    year: int
    court_code: str
    number: int


def court_code_of(court: Organisation) -> str | None:
    """The court's code from its case code (`浙0523民特` → `浙0523`), or None when the court's
    record holds none the form can check against."""
    code = (court.case_code or "").strip()
    code = code.removesuffix(KIND)
    return code if _COURT_CODE.match(code) else None


def example_for(court: Organisation, year: int) -> str:
    return f"（{year}）{court_code_of(court) or '浙0523'}{KIND}1号"


def normalised(raw: str) -> str:
    """The number with half-width brackets typed on an ordinary keyboard made full-width,
    the court's form; nothing else changes (parse checks the rest)."""
    text = clean_text(raw or "")
    # Both brackets half-width: the court's form is full-width.
    if text.startswith("(") and ")" in text and "）" not in text:
        text = "（" + text[1:].replace(")", "）", 1)
    return text


def parse(raw: str, *, court: Organisation, earliest_year: int, year: int) -> CaseNumber:
    """The clerk's number checked for form and normalised; `Invalid` (400,
    invalid_court_case_number) saying what is wrong otherwise. Its year lies between the
    year the application reached the court and this year; its court code is this court's
    when the court's record has one."""
    text = clean_text(raw)
    example = example_for(court, year)

    def refuse(message: str) -> Invalid:
        return Invalid(
            _("%(problem)s The court's number reads like %(example)s.")
            % {"problem": message, "example": example},
            code="invalid_court_case_number",
        )

    if not text:
        raise refuse(_("Type the court's case number."))
    text = normalised(text)
    found = FORM.match(text)
    if found is None:
        if "(" in text or ")" in text:
            raise refuse(_("Use matching full-width brackets （ ）."))
        number = re.search(rf"{KIND}([0-9]+)号$", text)
        if number and number.group(1).startswith("0"):
            raise refuse(_("The number has no leading zeros."))
        raise refuse(_("This is not a case number of the court's form."))
    if found["court"] != (court_code_of(court) or found["court"]):
        raise refuse(
            _("The court code is %(code)s, this court's.") % {"code": court_code_of(court)}
        )
    case_year = int(found["year"])
    if not earliest_year <= case_year <= year:
        raise refuse(
            _("The year is the year the court docketed the application (%(year)d).")
            % {"year": year}
        )
    return CaseNumber(
        text=text, year=case_year, court_code=found["court"], number=int(found["number"])
    )
