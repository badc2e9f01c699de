"""The audit chain on PostgreSQL (issue 14, point 4): one statement locks the head, numbers
and hashes the event in the database and appends it, so the head, which every audited
write of the platform shares, is held for that statement and the commit only; an event
that ends its transaction carries the commit in the same message. The chain stays the one
`event_digest` defines: the database's hash is Python's for awkward payloads, and many
writers at once (one event, a batch, an event carrying its commit) leave a whole,
gap-free, ordered chain. Threads against a real database, in a process of their own
(tests/odr/audit_chain_postgres.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.odr.api_support import run_race_script
from tests.postgres import scratch_database

THREADS, PER_THREAD = 8, 12

pytestmark = pytest.mark.scaleout


@pytest.fixture(scope="module")
def outcome(tmp_path_factory) -> dict:
    with scratch_database("odr_audit14_chain") as url:
        return run_race_script(
            Path(__file__).with_name("audit_chain_postgres.py"),
            tmp_path_factory.mktemp("chain"),
            {
                "DATABASE_URL": url,
                "AUDIT_THREADS": str(THREADS),
                "AUDIT_PER_THREAD": str(PER_THREAD),
            },
        )


def test_the_databases_hash_is_the_one_python_verifies(outcome):
    assert outcome["vendor"] == "postgresql"
    assert (
        outcome["awkward"]
        == [{"returned_is_stored": True, "hash_is_pythons": True, "after_kept": True}] * 3
    )


def test_the_first_event_of_a_fresh_database_carrying_its_commit_makes_the_head(outcome):
    first = outcome["first"]
    assert first["no_head_before"] and first["seq"] == 1 and first["prev_is_genesis"]
    assert first["head"] == [1, first["hash"]]


def test_an_event_that_ends_its_transaction_frees_the_head_with_its_commit(outcome):
    carried = outcome["commit_carried"]
    # Another connection locks the head (NOWAIT) while the caller is still inside its
    # block: the statement committed; the caller's on-commit callbacks still ran, once.
    assert carried == {"head_free_before_exit": [True], "callbacks": ["callback"], "stored": True}


def test_inside_an_enclosing_transaction_the_event_does_not_commit(outcome):
    # Inside another block or a savepoint the head stays locked to the real commit and
    # a rollback takes the event with it.
    assert outcome["nested"] == {"rolled_back": True, "head_held": [True, True]}


def test_a_failing_event_that_would_commit_keeps_nothing_of_its_transaction(outcome):
    assert outcome["failed"] == {"error": "IntegrityError", "kept_nothing": True}


def test_many_writers_at_once_leave_a_whole_ordered_chain(outcome):
    race = outcome["race"]
    assert race["errors"] == []
    assert (
        race["added"]
        == race["written"]
        == sum(2 if (i + j) % 3 == 2 else 1 for i in range(THREADS) for j in range(PER_THREAD))
    )
    assert race["gap_free"] and race["head_at_end"]
    assert outcome["problems"] == []
