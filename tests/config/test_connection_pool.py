"""PostgreSQL connections are pooled (issue 14 §3): one Daphne process on a scratch
database answers 200 requests sent at once (reads of `/api/v1/me` and `/api/v1/regions`
and filings) with no more server connections than the pool's maximum, opens only a
handful of sessions for all of them (a connection is reused, not made per request),
leaves none inside a transaction, and gives the idle ones back down to the pool's minimum.

Needs PostgreSQL on 127.0.0.1 (it runs in CI); when it is unreachable the test FAILS."""

from __future__ import annotations

import http.client
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
POOL_MIN, POOL_MAX = 2, 6
REQUESTS, FILINGS = 200, 20

pytestmark = pytest.mark.scaleout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def daphne(tmp_path) -> Iterator[dict]:
    """A migrated, seeded scratch database and one Daphne process on it with a pool of
    POOL_MIN to POOL_MAX connections that closes idle ones after a second."""
    import psycopg

    try:
        psycopg.connect(ADMIN, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at 127.0.0.1:5432 (user postgres): {exc}")
    name = f"odr_pool_{secrets.token_hex(4)}"
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE_URL", "ODR_", "REDIS_URL", "PYTEST_"))
    }
    env.update(
        DJANGO_DEBUG="1",
        ODR_TESTING="0",
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{name}",
        ODR_DATA_DIR=str(tmp_path / "data"),
        ODR_EMAIL_DIR=str(tmp_path / "mail"),
        ODR_TASKS_IMMEDIATE="1",
        ODR_LOG_LEVEL="WARNING",
        ODR_DB_POOL_MIN=str(POOL_MIN),
        ODR_DB_POOL_MAX=str(POOL_MAX),
        ODR_DB_POOL_MAX_IDLE="1",
        ODR_DB_POOL_TIMEOUT="30",
    )
    proc = None
    try:
        for command in (["migrate", "-v0"], ["seed_demo"]):
            done = subprocess.run(
                [sys.executable, "manage.py", *command],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert done.returncode == 0, done.stderr[-3000:]
        port = _free_port()
        log_path = tmp_path / "daphne.log"
        with open(log_path, "w") as log:
            proc = subprocess.Popen(
                [
                    str(Path(sys.executable).with_name("daphne")),
                    # Twisted's listen backlog of 50 would reset part of a burst of 200
                    # connections before Daphne sees them.
                    "-e",
                    f"tcp:port={port}:interface=127.0.0.1:backlog=1024",
                    "config.asgi:application",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log_path.read_text()[-3000:]
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert time.monotonic() < deadline, log_path.read_text()[-3000:]
                time.sleep(0.1)
        yield {"port": port, "database": name, "log": log_path}
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _request(port: int, method: str, path: str, body: dict | None = None, token: str = ""):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["X-Session-Token"] = token
    try:
        conn.request(method, path, json.dumps(body) if body is not None else None, headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


class Watcher:
    """Samples the database's server processes (all but its own) every few milliseconds
    from a connection of its own."""

    def __init__(self, database: str) -> None:
        import psycopg

        self.database = database
        self.conn = psycopg.connect(ADMIN, autocommit=True)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def backends(self) -> list[tuple[int, str]]:
        return self.conn.execute(
            "SELECT pid, state FROM pg_stat_activity WHERE datname = %s "
            "AND backend_type = 'client backend' AND pid <> pg_backend_pid()",
            [self.database],
        ).fetchall()

    def sessions(self) -> int:
        """Sessions ever opened on the database (PostgreSQL 14+): one per connection."""
        self.conn.execute("SELECT pg_stat_clear_snapshot()")
        return self.conn.execute(
            "SELECT sessions FROM pg_stat_database WHERE datname = %s", [self.database]
        ).fetchone()[0]

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, len(self.backends()))
            time.sleep(0.005)

    def __enter__(self) -> Watcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def test_two_hundred_concurrent_requests_share_a_few_pooled_connections(daphne):
    port = daphne["port"]
    status, body = _request(
        port,
        "POST",
        "/_allauth/app/v1/auth/login",
        {"email": "citizen1@demo.odr", "password": "odr-demo-2026"},
    )
    assert status == 200, body
    token = json.loads(body)["meta"]["session_token"]
    calls = []
    for i in range(REQUESTS):
        if i % (REQUESTS // FILINGS) == 0:
            dispute = {
                "category": "debt",
                "title": f"连接池{i}",
                "description": "并发立案",
                "region": "330523000000",
                "respondent": {"name": "李四", "email": f"pool{i}@example.com"},
            }
            calls.append(("POST", "/api/v1/disputes", dispute, token, 201))
        elif i % 2:
            calls.append(("GET", "/api/v1/me", None, token, 200))
        else:
            calls.append(("GET", "/api/v1/regions?parent=330523000000", None, "", 200))
    barrier = threading.Barrier(REQUESTS)

    def send(call) -> tuple[int, int, bytes]:
        method, path, payload, key, expected = call
        barrier.wait()
        got, content = _request(port, method, path, payload, key)
        return expected, got, content

    with Watcher(daphne["database"]) as watcher:
        opened_before = watcher.sessions()
        with ThreadPoolExecutor(REQUESTS) as pool:
            answers = list(pool.map(send, calls))
        opened = watcher.sessions() - opened_before
    failed = [(e, g, c[:300]) for e, g, c in answers if e != g]
    assert not failed, (failed[:5], daphne["log"].read_text()[-3000:])
    # Never more server connections than the pool allows, at any moment of the burst.
    assert 1 <= watcher.peak <= POOL_MAX
    # The pool's connections served all 200: a few sessions, not one per request (the
    # pool may close an idle one and open another while the burst winds down).
    assert opened <= POOL_MAX + 2, opened
    # None is left inside a transaction, and the idle ones go back down to the minimum.
    deadline = time.monotonic() + 30
    while True:
        backends = watcher.backends()
        assert all(state == "idle" for _pid, state in backends), backends
        if len(backends) <= POOL_MIN or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    assert len(backends) <= POOL_MIN, backends
    watcher.conn.close()
