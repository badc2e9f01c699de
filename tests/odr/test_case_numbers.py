"""Case numbers are unique per organisation and year even when filings race (issue 2 §4):
threads file at once against a real file database, in a process of their own."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from odr.models import CaseCounter
from tests import factories
from tests.odr.api_support import run_race_script
from tests.postgres import scratch_database

SCRIPT = Path(__file__).with_name("concurrent_filing.py")
THREADS, PER_THREAD = 8, 3


def run_filings(env_extra: dict[str, str], tmp_path: Path) -> dict:
    return run_race_script(
        SCRIPT,
        tmp_path,
        {"FILING_THREADS": str(THREADS), "FILING_PER_THREAD": str(PER_THREAD), **env_extra},
    )


def assert_one_winner_per_race(outcome: dict) -> None:
    races = outcome["races"]
    # Four answers to one invitation: one accepted, three told it was already used.
    assert races["answers"] == {"ok": 1, "invitation_used": 3}
    assert races["respond_events"] == 1
    # Two accepts and two rejects at once: one wins, the rest see its status.
    assert races["intake"] == {"ok": 1, "invalid_status": 3}
    assert races["intake_events"] == 1
    # Answers racing fresh links: only answers and clear refusals, never a deadlock.
    assert set(races["resend"]) <= {"ok", "invitation_used", "invalid_status", "not_found"}
    assert sum(races["resend"].values()) == 4


def assert_distinct_and_contiguous(outcome: dict) -> None:
    assert outcome["errors"] == []
    assert outcome["audit_problems"] == []
    numbers = outcome["numbers"]
    assert len(numbers) == THREADS * PER_THREAD
    assert len(set(numbers)) == len(numbers)
    serials = sorted(int(re.search(r"第(\d+)号", n).group(1)) for n in numbers)
    assert serials == list(range(1, THREADS * PER_THREAD + 1))
    # One organisation, one year: a single series.
    assert len({re.match(r"\((\d{4})\)安吉矛调第", n).group(1) for n in numbers}) == 1


def test_racing_filings_on_a_sqlite_file_get_distinct_contiguous_numbers(tmp_path):
    outcome = run_filings({}, tmp_path)
    assert outcome["vendor"] == "sqlite"
    assert outcome["journal_mode"] == "wal"
    assert (tmp_path / "data" / "db.sqlite3").exists()
    assert_distinct_and_contiguous(outcome)
    assert_one_winner_per_race(outcome)


@pytest.mark.scaleout
def test_racing_filings_on_postgresql_get_distinct_contiguous_numbers(tmp_path):
    with scratch_database("odr_race") as url:
        outcome = run_filings({"DATABASE_URL": url}, tmp_path)
    assert outcome["vendor"] == "postgresql"
    assert_distinct_and_contiguous(outcome)
    assert_one_winner_per_race(outcome)


@pytest.mark.django_db
def test_numbers_count_per_organisation_and_restart_each_year(demo):
    import datetime as dt

    import time_machine

    with time_machine.travel(dt.datetime(2026, 12, 31, 12, tzinfo=dt.UTC), tick=False):
        a = factories.file_dispute()
        b = factories.file_dispute(region_code="330523101201", category="neighbour")
        c = factories.file_dispute()
    with time_machine.travel(dt.datetime(2027, 1, 2, 12, tzinfo=dt.UTC), tick=False):
        d = factories.file_dispute()
    assert a.case_number == "(2026)安吉矛调第0001号"
    assert b.case_number == "(2026)余村调第0001号"
    assert c.case_number == "(2026)安吉矛调第0002号"
    assert d.case_number == "(2027)安吉矛调第0001号"
    assert CaseCounter.objects.count() == 3
