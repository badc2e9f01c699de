"""Two audited writes of one case at once never deadlock on PostgreSQL (seen through
nginx with two Daphne processes: a room's leave against the mediator's draft). The
audit event's reference to its case is locked before the audit head (odr.audit)."""

from __future__ import annotations

import pytest

from tests.agreements.subprocess_race import run_race
from tests.postgres import scratch_database


@pytest.mark.scaleout
def test_an_audited_write_waits_for_the_case_before_the_head_on_postgresql(tmp_path):
    with scratch_database("odr_audit_race") as url:
        result = run_race(
            "tests.odr.race_audit",
            tmp_path=tmp_path,
            data_dir=tmp_path / "data",
            database_url=url,
        )
    assert result["vendor"] == "postgresql"
    # Both writes commit, one after the other; neither is killed as a deadlock.
    assert result["outcome"] == {"case_first": "ok", "audit_only": "ok"}, result
    assert result["events"] == 2
