"""The signing form's limit on password guesses holds under concurrency (issue 11, M3).

The probe sent 15 wrong passwords at once and got 15 × `wrong_password`; after the
lockout, 1 + 40 at once were 41 guesses in one window: the count was read, the password
checked, then the count raised. Now each try is counted in one conditional UPDATE before
its password is checked, so at most five are ever checked per window. These tests run the
burst for real: threads with their own connections on a file database (the platform's
default) and on PostgreSQL (tests/agreements/race_reauth.py)."""

from __future__ import annotations

import shutil
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.utils import timezone

from agreements import services
from agreements.models import SigningAttempts
from odr.errors import DomainError
from tests import factories
from tests.agreements.subprocess_race import run_race
from tests.postgres import scratch_database

LIMIT = services.REAUTH_MAX_FAILURES


def _bursts(tmp_path: Path, data_dir: Path, database_url: str | None) -> dict:
    return run_race(
        "tests.agreements.race_reauth",
        tmp_path=tmp_path,
        data_dir=data_dir,
        database_url=database_url,
    )


def _assert_at_most_five_checked_per_window(result: dict) -> None:
    first, locked, next_window = result["first"], result["locked"], result["next_window"]
    # Fifteen at once: five checked (each wrong), ten refused unchecked.
    assert first["checked"] == LIMIT, first
    assert first["answers"] == {"wrong_password": LIMIT, "too_many_attempts": 15 - LIMIT}
    # Forty-one at once while locked out: none checked.
    assert locked["checked"] == 0, locked
    assert locked["answers"] == {"too_many_attempts": 41}
    # The next window has its own five, however many come at once.
    assert next_window["checked"] == LIMIT, next_window
    assert next_window["answers"] == {"wrong_password": LIMIT, "too_many_attempts": 41 - LIMIT}


def test_fifteen_wrong_passwords_at_once_are_five_checks_on_the_file_database(tmp_path):
    # The database file in memory-backed /dev/shm when there is one: migrating a fresh
    # file database on a real disk costs seconds of fsync.
    shm = Path("/dev/shm")
    data_dir = Path(tempfile.mkdtemp(dir=shm if shm.is_dir() else tmp_path))
    try:
        result = _bursts(tmp_path, data_dir, None)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    assert result["vendor"] == "sqlite"
    _assert_at_most_five_checked_per_window(result)


@pytest.mark.scaleout
def test_fifteen_wrong_passwords_at_once_are_five_checks_on_postgresql(tmp_path):
    """The same bursts on PostgreSQL, where concurrent UPDATEs of one row wait for each
    other and re-read it. Needs PostgreSQL on 127.0.0.1 (it runs in CI); unreachable, the
    test fails, not skips."""
    with scratch_database("odr_reauth_race") as url:
        result = _bursts(tmp_path, tmp_path / "data", url)
    assert result["vendor"] == "postgresql"
    _assert_at_most_five_checked_per_window(result)


# --- one after another ---------------------------------------------------------------------


def _guess(user, password: str = "guess") -> str:
    try:
        services.reauthenticate(user=user, password=password)
    except DomainError as exc:
        return exc.code
    return "accepted"


@pytest.mark.django_db
def test_the_lockout_ends_when_its_window_has_passed(demo):
    user = factories.demo_user("citizen1@demo.odr")
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert [_guess(user) for _ in range(LIMIT)] == ["wrong_password"] * LIMIT
        assert _guess(user, factories.PASSWORD) == "too_many_attempts"
    later = start + timedelta(seconds=services.REAUTH_LOCKOUT_SECONDS - 1)
    with time_machine.travel(later, tick=False):
        assert _guess(user, factories.PASSWORD) == "too_many_attempts"
    after = start + timedelta(seconds=services.REAUTH_LOCKOUT_SECONDS + 1)
    with time_machine.travel(after, tick=False):
        assert _guess(user, factories.PASSWORD) == "accepted"
    assert not SigningAttempts.objects.filter(user=user).exists()


@pytest.mark.django_db
def test_a_missing_password_is_not_counted_as_a_guess(demo):
    user = factories.demo_user("citizen1@demo.odr")
    assert [_guess(user, "") for _ in range(LIMIT + 2)] == ["password_required"] * (LIMIT + 2)
    assert _guess(user, factories.PASSWORD) == "accepted"


@pytest.mark.django_db
def test_each_signer_has_a_count_of_their_own(demo):
    first = factories.demo_user("citizen1@demo.odr")
    other = factories.demo_user("citizen2@demo.odr")
    for _ in range(LIMIT):
        _guess(first)
    assert _guess(first, factories.PASSWORD) == "too_many_attempts"
    assert _guess(other, factories.PASSWORD) == "accepted"
