"""The case-number counter on PostgreSQL (issue 14, point 4): a filing draws its number in
a one-statement transaction of its own, so the organisation's counter row is not locked
while the rest of the filing runs; racing filings still get unique numbers, consecutive
per organisation and year; a filing that fails after its draw leaves a gap; the number's
format and its restart each year are as they were. Threads against a real database, in a
process of their own (tests/odr/filing_counter_postgres.py)."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest

from tests.odr.api_support import run_race_script
from tests.postgres import scratch_database

THREADS, PER_THREAD = 6, 4
NUMBER = re.compile(r"^\((\d{4})\)(.+)第(\d{4})号$")


def series(numbers: list[str]) -> dict[tuple[str, str], list[int]]:
    """The serials given, sorted, by (year, organisation's case code)."""
    out: dict[tuple[str, str], list[int]] = defaultdict(list)
    for number in numbers:
        year, code, serial = NUMBER.match(number).groups()
        out[(year, code)].append(int(serial))
    return {key: sorted(serials) for key, serials in out.items()}


@pytest.fixture(scope="module")
def outcome(tmp_path_factory) -> dict:
    with scratch_database("odr_filing14_counter") as url:
        return run_race_script(
            Path(__file__).with_name("filing_counter_postgres.py"),
            tmp_path_factory.mktemp("counter"),
            {
                "DATABASE_URL": url,
                "FILING_THREADS": str(THREADS),
                "FILING_PER_THREAD": str(PER_THREAD),
            },
        )


@pytest.mark.scaleout
def test_racing_filings_to_one_organisation_get_unique_consecutive_numbers(outcome):
    assert outcome["vendor"] == "postgresql"
    assert outcome["one_errors"] == []
    numbers = outcome["one"]
    assert len(set(numbers)) == len(numbers) == THREADS * PER_THREAD
    ((_year, code), serials), *others = series(numbers).items()
    assert others == []
    assert code == "安吉矛调"
    assert serials == list(range(1, THREADS * PER_THREAD + 1))


@pytest.mark.scaleout
def test_racing_filings_to_several_organisations_number_each_its_own_series(outcome):
    assert outcome["several_errors"] == []
    numbers = outcome["several"]
    assert len(set(numbers)) == len(numbers) == THREADS * PER_THREAD
    by_org = {code: serials for (_year, code), serials in series(numbers).items()}
    each = THREADS * PER_THREAD // 3
    # The centre's series goes on from the first race; the others start at 1.
    first = THREADS * PER_THREAD
    assert by_org == {
        "安吉矛调": list(range(first + 1, first + each + 1)),
        "余村调": list(range(1, each + 1)),
        "天荒坪调": list(range(1, each + 1)),
    }
    assert outcome["audit_problems"] == []


@pytest.mark.scaleout
def test_the_counter_row_is_free_while_a_filing_runs(outcome):
    """A filing stopped inside its transaction, its number taken: another connection
    locks the counter's row at once (NOWAIT) and draws the next number without waiting."""
    held = outcome["held"]
    assert "error" not in held, held
    assert held["row_lockable"] is True
    first = THREADS * PER_THREAD + THREADS * PER_THREAD // 3
    assert held["number"].endswith(f"安吉矛调第{first + 1:04d}号")
    assert held["drawn"].endswith(f"安吉矛调第{first + 2:04d}号")
    assert held["draw_seconds"] < 1


@pytest.mark.scaleout
def test_inside_a_callers_transaction_the_counter_stays_with_the_filing(outcome):
    """A grid report or a hotline ticket files inside its own transaction: the number is
    drawn there and the row stays locked to that commit (a rollback gives it back)."""
    held = outcome["held_in"]
    assert "error" not in held, held
    assert held["row_lockable"] == "OperationalError"
    assert held["drawn"] == "OperationalError"  # lock_timeout: it would have waited
    first = THREADS * PER_THREAD + THREADS * PER_THREAD // 3
    # The probe of the held filing above drew a number no case took: a gap.
    assert held["number"].endswith(f"安吉矛调第{first + 3:04d}号")


@pytest.mark.scaleout
def test_a_filing_that_fails_after_its_draw_leaves_a_gap(outcome):
    before, failed, after = outcome["failure"]
    assert failed == "refused"
    assert NUMBER.match(after).group(3) == f"{int(NUMBER.match(before).group(3)) + 2:04d}"


@pytest.mark.scaleout
def test_the_number_keeps_its_format_and_restarts_each_year(outcome):
    assert outcome["next_year"] == ["(2031)安吉矛调第0001号", "(2031)安吉矛调第0002号"]
    for number in outcome["one"] + outcome["several"]:
        assert NUMBER.match(number), number
