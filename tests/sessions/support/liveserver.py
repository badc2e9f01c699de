"""A real Daphne server on a free port with its own SQLite file, for the end-to-end room
tests (aiortc peers, headless Chromium) and for bench/signaling/first_frame.py.

The server runs as a subprocess (the consumer, the echo peer and the recorder all run on
its event loop, as in production); its database is a file migrated and seeded for it, and
the caller inspects it afterwards with `sql()`."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
_template_db: Path | None = None  # a migrated, seeded database to copy (per process)

# Runs inside the server's environment: a case in mediation (citizen1 against citizen2,
# the demo mediator) with one session open now, per requested session.
_CREATE_SESSIONS = """
import json, os
from datetime import timedelta
from django.utils import timezone
from sessions.models import MediationSession
from tests import factories
specs = json.loads(os.environ["ODR_SESSION_SPECS"])
ids = []
for spec in specs:
    dispute = factories.dispute_in_mediation()
    session = MediationSession.objects.create(
        dispute=dispute, created_by=dispute.mediator, status=MediationSession.Status.SCHEDULED,
        scheduled_at=timezone.now() + timedelta(minutes=5),
        recording_requested=spec.get("recording", False),
    )
    ids.append(session.pk)
print("IDS=" + json.dumps(ids))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    def __init__(self, workdir: Path, *, extra_env: dict[str, str] | None = None) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        # The platform's own SQLite set-up (WAL, immediate transactions, a busy timeout)
        # in a data folder of its own.
        self.db = self.workdir / "data" / "db.sqlite3"
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self.log = self.workdir / "daphne.log"
        self.env = {
            **os.environ,
            "DJANGO_DEBUG": "1",
            "ODR_TESTING": "0",
            "ODR_DATA_DIR": str(self.workdir / "data"),
            "ODR_EMAIL_DIR": str(self.workdir / "mail"),
            "ODR_TASKS_IMMEDIATE": "1",
            "ODR_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            **(extra_env or {}),
        }
        # The server must not inherit pytest's settings switches.
        for name in (
            "PYTEST_CURRENT_TEST",
            "DJANGO_ALLOW_ASYNC_UNSAFE",
            "REDIS_URL",
            "DATABASE_URL",
        ):
            self.env.pop(name, None)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _manage(self, *args: str, env: dict[str, str] | None = None) -> str:
        out = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env={**self.env, **(env or {})},
            check=True,
            capture_output=True,
            text=True,
            timeout=300,
        )
        return out.stdout

    def prepare(self) -> None:
        """Migrate and seed once per process (it takes a while), then copy the file."""
        global _template_db
        if _template_db is None or not _template_db.exists():
            self._manage("migrate", "--noinput", "-v", "0")
            self._manage("seed_demo")
            _template_db = self.workdir / "template.sqlite3"
            self._checkpoint()
            shutil.copyfile(self.db, _template_db)
        else:
            self.db.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(_template_db, self.db)

    def _checkpoint(self) -> None:
        """Fold the WAL into the main file, so that copying the file copies everything."""
        with sqlite3.connect(self.db, timeout=20) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def create_sessions(self, specs: list[dict]) -> list[int]:
        out = self._manage(
            "shell", "-c", _CREATE_SESSIONS, env={"ODR_SESSION_SPECS": json.dumps(specs)}
        )
        line = next(x for x in out.splitlines() if x.startswith("IDS="))
        return json.loads(line[4:])

    def start(self) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(self.port),
                "config.asgi:application",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"Daphne exited: {self.log.read_text()[-2000:]}")
            try:
                urllib.request.urlopen(f"{self.base_url}/api/v1/categories", timeout=2)
                return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)
        raise RuntimeError("Daphne did not answer within 60 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        with sqlite3.connect(self.db, timeout=20) as conn:
            return conn.execute(query, params).fetchall()

    def server_log(self) -> str:
        return self.log.read_text() if self.log.exists() else ""
