"""Filing through one Daphne process (issue 14 §4): a scratch PostgreSQL database,
migrated and seeded, one Daphne on loopback, then `POST /api/v1/disputes` from 1, 4 and 8
keep-alive clients (from a village, to the county centre) beside `GET /api/v1/me` (the
demo citizen, with a session token) at the same concurrency. Each filing is by a citizen
of their own, with a session token made before the clock starts: one citizen filing them
all made each filing a possible duplicate of every earlier one (odr.services.duplicates:
the n-th wrote n-1 links and audit events). No task worker runs: the invitation e-mails
wait in the database queue.

    .venv/bin/python -m bench.http.daphne_filing [--clients 1,4,8] [--filings 50]
        [--no-pool] [--database-url postgres://postgres@127.0.0.1:5432/postgres]
        [--db-prefix odr_bench_daphne] [--switch-interval 0.001] [--processes 1] [--debug]

`--processes 2` starts two Daphne processes on two ports and gives the clients to them in
turn (as nginx would): each process has its own interpreter lock, and what they share is
the database, the organisation's case-number counter and the audit chain's head.

Daphne runs as production does, `DEBUG` off (`--debug`: on, as the runs before filing16
did, every query recorded). Each row prints the CPU per request of the Daphne processes
and of the database's server processes (from /proc), and the filings per second as a
share of `GET /api/v1/me`'s in the same run.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psycopg

from bench.http.cpu import cpu_seconds

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="1,4,8")
    parser.add_argument("--filings", type=int, default=50, help="requests per client")
    parser.add_argument("--no-pool", action="store_true", help="ODR_DB_POOL=0")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--db-prefix", default="odr_bench_daphne", help="scratch database name")
    parser.add_argument("--processes", type=int, default=1, help="Daphne processes, one port each")
    parser.add_argument(
        "--debug",
        action="store_true",
        help="run Daphne with DJANGO_DEBUG=1 (every query recorded, as the runs before "
        "filing16 did); by default it runs as production does, DEBUG off",
    )
    parser.add_argument(
        "--switch-interval",
        type=float,
        default=None,
        help="sys.setswitchinterval for the Daphne process, in seconds (Python's default "
        "is 0.005: a thread back from the database may wait that long for the interpreter)",
    )
    return parser.parse_args()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Run by `manage.py shell` before Daphne starts: citizens with a real name, an ID number
# and a phone of their own, each with a session (its key is allauth's session token).
FILERS = """
import json
from importlib import import_module
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth import get_user_model
from odr.idnumber import id_check_char
from odr.models import Profile
store = import_module(settings.SESSION_ENGINE).SessionStore
tokens = []
for n in range(1, COUNT + 1):
    user = get_user_model().objects.create_user(
        username=f"bench-filer-{n}@example.com", email=f"bench-filer-{n}@example.com"
    )
    first17 = f"330523{1960 + n % 40}{1 + n % 12:02d}{1 + n % 28:02d}{n % 1000:03d}"
    Profile.objects.update_or_create(user=user, defaults={
        "real_name": f"申请人{n}", "id_number": first17 + id_check_char(first17),
        "phone": f"139{n:08d}"})
    session = store()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    tokens.append(session.session_key)
print(json.dumps(tokens))
"""


class Server:
    def __init__(self, ports: list[int], token: str, filers: list[str]) -> None:
        self.ports, self.token = ports, token
        self.pids: list[int] = []  # the Daphne processes: their CPU per request
        self.database = ""  # its server processes' CPU per request
        self._serial = itertools.count()
        self._filers = iter(filers)

    def dispute(self) -> str:
        n = next(self._serial)
        return json.dumps(
            {
                "category": "debt",
                "title": f"借款纠纷{n}",
                "description": "2025年3月借给对方一万元，至今未还。",
                "region": "330523100201",
                "respondent": {"name": "李四", "email": f"bench-daphne-{n}@example.com"},
            }
        )

    def _database_pids(self) -> list[int]:
        with psycopg.connect(self.database, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()"
            ).fetchall()
        return [row[0] for row in rows]

    def run(
        self, workers: int, per_client: int, filing: bool
    ) -> tuple[float, float, float, float, float]:
        """Requests per second of wall time, p50 and p95 in ms, and the CPU per request
        (ms) of the Daphne processes and of the database's server processes."""
        times: list[float] = []
        lock = threading.Lock()
        barrier = threading.Barrier(workers + 1)
        headers = {"Content-Type": "application/json", "X-Session-Token": self.token}

        def one(conn: http.client.HTTPConnection) -> None:
            if filing:
                with lock:
                    filer = next(self._filers)
                filed = {**headers, "X-Session-Token": filer}
                conn.request("POST", "/api/v1/disputes", self.dispute(), filed)
            else:
                conn.request("GET", "/api/v1/me", None, headers)
            response = conn.getresponse()
            content = response.read()
            assert response.status in (200, 201), (response.status, content[:300])

        def work(index: int) -> None:
            port = self.ports[index % len(self.ports)]  # the clients in turn, as nginx would
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            try:
                one(conn)  # warm: the connection
            except BaseException:
                barrier.abort()
                raise
            barrier.wait()
            mine = []
            for _ in range(per_client):
                started = time.perf_counter()
                one(conn)
                mine.append((time.perf_counter() - started) * 1000)
            with lock:
                times.extend(mine)
            conn.close()

        threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
        for thread in threads:
            thread.start()
        # The warm-up requests opened the pooled connections: all of them are counted.
        barrier.wait()
        database = self._database_pids()
        cpu_started, db_started = cpu_seconds(self.pids), cpu_seconds(database)
        started = time.perf_counter()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started
        cpu, db_cpu = cpu_seconds(self.pids) - cpu_started, cpu_seconds(database) - db_started
        times.sort()
        n = len(times)
        assert n == workers * per_client, "a client failed"
        return (
            n / wall,
            statistics.median(times),
            times[int(n * 0.95) - 1],
            cpu * 1000 / n,
            db_cpu * 1000 / n,
        )


def main() -> None:
    args = _parse()
    server_url, _, _admin_db = args.database_url.rpartition("/")
    admin = args.database_url.replace("postgres://", "postgresql://", 1)
    name = f"{args.db_prefix}_{uuid.uuid4().hex[:8]}"
    tmp = Path(tempfile.mkdtemp(prefix="odr-bench-daphne-"))
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "ODR_", "DATABASE_URL", "REDIS_URL"))
    }
    env.update(
        DJANGO_DEBUG="1",
        # One key for the sessions made below and the server that reads them.
        DJANGO_SECRET_KEY=uuid.uuid4().hex * 2,
        ODR_TESTING="0",
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=f"{server_url}/{name}",
        ODR_DATA_DIR=str(tmp / "data"),
        ODR_EMAIL_DIR=str(tmp / "mail"),
        ODR_LOG_LEVEL="WARNING",
        ODR_DB_POOL="0" if args.no_pool else "1",
    )
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    daphnes: list[subprocess.Popen] = []
    try:
        clients = [int(c) for c in args.clients.split(",")]
        count = sum(clients) * (args.filings + 1)  # the warm-up call files one more
        filers_script = FILERS.replace("COUNT", str(count))
        for command in (["migrate", "-v0"], ["seed_demo"], ["shell", "-c", filers_script]):
            made = subprocess.run(
                [sys.executable, "manage.py", *command],
                cwd=ROOT,
                env=env,
                check=True,
                capture_output=True,
            )
        ports = [_free_port() for _ in range(args.processes)]
        served = dict(env)
        if not args.debug:
            # As production runs it (deploy/run.py): DEBUG off, so no query is recorded;
            # plain HTTP on loopback, as behind the load balancer.
            served.pop("DJANGO_DEBUG")
            served.update(
                DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
                DJANGO_SECURE_SSL_REDIRECT="0",
                ODR_SITE_URL="http://127.0.0.1",
            )
        for port in ports:
            log = open(tmp / f"daphne-{port}.log", "w")  # noqa: SIM115 - the process's
            interval = (
                []
                if args.switch_interval is None
                else [
                    sys.executable,
                    "-c",
                    f"import sys; sys.setswitchinterval({args.switch_interval}); "
                    "from daphne.cli import CommandLineInterface as C; C.entrypoint()",
                ]
            )
            daphne = subprocess.Popen(
                [
                    *(interval or [str(BIN / "daphne")]),
                    "-e",
                    f"tcp:port={port}:interface=127.0.0.1:backlog=1024",
                    "config.asgi:application",
                ],
                cwd=ROOT,
                env=served,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            daphnes.append(daphne)
        for port in ports:
            for _ in range(600):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    time.sleep(0.1)
        conn = http.client.HTTPConnection("127.0.0.1", ports[0], timeout=60)
        conn.request(
            "POST",
            "/_allauth/app/v1/auth/login",
            json.dumps({"email": "citizen1@demo.odr", "password": "odr-demo-2026"}),
            {"Content-Type": "application/json"},
        )
        token = json.loads(conn.getresponse().read())["meta"]["session_token"]
        server = Server(ports, token, json.loads(made.stdout.strip().splitlines()[-1]))
        server.pids = [daphne.pid for daphne in daphnes]
        server.database = f"{admin.rpartition('/')[0]}/{name}"
        pool = "no pool" if args.no_pool else "pooled connections"
        switch = (
            f", switch interval {args.switch_interval * 1000:g} ms" if args.switch_interval else ""
        )
        through = "one Daphne process" if len(ports) == 1 else f"{len(ports)} Daphne processes"
        mode = "DEBUG on" if args.debug else "DEBUG off"
        print(
            f"Filing through {through}, {mode}, {pool}{switch}, {args.filings} requests per client"
        )
        print(
            "| clients | filings/s | filing p50 / p95 | CPU per filing: Daphne / PostgreSQL "
            "| `GET /api/v1/me`/s | me p50 / p95 | CPU per me | filings/s ÷ me/s |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for workers in clients:
            f_rate, f50, f95, f_cpu, f_db = server.run(workers, args.filings, filing=True)
            m_rate, m50, m95, m_cpu, m_db = server.run(workers, args.filings, filing=False)
            print(
                f"| {workers} | {f_rate:.1f} | {f50:.1f} / {f95:.1f} ms "
                f"| {f_cpu:.1f} / {f_db:.1f} ms | {m_rate:.1f} | {m50:.1f} / {m95:.1f} ms "
                f"| {m_cpu:.1f} / {m_db:.1f} ms | {f_rate / m_rate:.2f} |",
                flush=True,
            )
    finally:
        for daphne in daphnes:
            daphne.terminate()
        for daphne in daphnes:
            daphne.wait(timeout=10)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
