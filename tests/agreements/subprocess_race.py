"""Runs one of the race scripts (tests/agreements/race_*.py) in its own process, against
a fresh SQLite file database (`data_dir`) or a scratch PostgreSQL database, and returns
the JSON it prints last. A separate process gives the threads real connections of their
own, which the test's wrapping transaction would not."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings


def run_race(module: str, *, tmp_path: Path, data_dir: Path, database_url: str | None) -> dict:
    env = {
        **os.environ,
        "ODR_DATA_DIR": str(data_dir),
        "ODR_PKI_DIR": str(tmp_path / "pki"),
        "ODR_EMAIL_DIR": str(tmp_path / "mail"),
        "ODR_TESTING": "1",
        "DJANGO_DEBUG": "1",
    }
    env.pop("DATABASE_URL", None)
    if database_url:
        env["DATABASE_URL"] = database_url
        # Each racing thread stands for a request of its own process, with its own
        # connection held across the start barrier: a pool smaller than the race (20 by
        # default, ODR_DB_POOL_MAX) would starve the threads waiting at the barrier.
        env["ODR_DB_POOL"] = "0"
    done = subprocess.run(
        [sys.executable, "-m", module],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])
