"""Lists and statistics at a province's caseload (issue 14): p50/p95 and queries per
request, in process (Django's test client: the view, the ORM and the database, without
the network or the ASGI server), at 1 and at 8 concurrent clients.

A scratch PostgreSQL database (dropped afterwards unless --keep) gets the demo data and
`--disputes` more cases by bulk inserts, all at the county centre: 2,000 of them the demo
mediator's, filed by the demo citizen, and `--requests` judicial confirmation requests
before the demo court. `GET /api/v1/me` is measured in the same run as the yardstick (the
cost of any authenticated request on this machine).

    .venv/bin/python -m bench.http [--disputes 100000] [--requests 2000] [--rounds 40]
        [--database-url postgres://postgres@127.0.0.1:5432/postgres] [--keep]
        [--reuse NAME] [--topology] [--filing] [--filing-only] [--filings 100]
        [--only TEXT]

`--keep` keeps the seeded database and prints its name; `--reuse NAME` measures it again
without seeding (before and after a change, on the same rows). `--topology` measures
through `./dev prod` (deploy/run.py: nginx, two Daphne processes, Redis) over HTTP on a
free port instead of in process; the queries per request are then not counted. Each row
prints, at 8 clients, its p95 as a multiple of `/api/v1/me`'s (the goal: at most 2x).

`--filing` adds filing throughput (bench/http/filing.py): `POST /api/v1/disputes` from
1, 4 and 8 clients, `--filings` each, beside `GET /api/v1/me`; `--filing-only` skips
the lists.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--disputes", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=40, help="requests per list and client")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument(
        "--reuse", metavar="NAME", help="measure a database kept by --keep (migrated, not seeded)"
    )
    parser.add_argument(
        "--topology",
        action="store_true",
        help="through ./dev prod (nginx, 2 Daphne, Redis) over HTTP, not in process",
    )
    parser.add_argument("--filing", action="store_true", help="measure filing throughput too")
    parser.add_argument("--filing-only", action="store_true", help="filing, not the lists")
    parser.add_argument("--filings", type=int, default=100, help="filings per client")
    parser.add_argument(
        "--only",
        metavar="TEXT",
        help="only the rows whose label contains one of TEXT,TEXT… (and GET /api/v1/me)",
    )
    return parser.parse_args()


ARGS = _parse()
_server, _, _admin_db = ARGS.database_url.rpartition("/")
DB_NAME = ARGS.reuse or f"odr_bench_http_{uuid.uuid4().hex[:8]}"
_tmp = tempfile.mkdtemp(prefix="odr-bench-http-")
os.environ.update(
    {
        "DATABASE_URL": f"{_server}/{DB_NAME}",
        "ODR_DATA_DIR": _tmp,
        "ODR_EMAIL_DIR": str(Path(_tmp) / "mail"),
        "ODR_LOG_LEVEL": "WARNING",
        "DJANGO_DEBUG": "1",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
)
os.environ.pop("REDIS_URL", None)

import psycopg  # noqa: E402

ADMIN_URL = ARGS.database_url.replace("postgres://", "postgresql://", 1)
if not ARGS.reuse:
    with psycopg.connect(ADMIN_URL, autocommit=True) as _conn:
        _conn.execute(f'CREATE DATABASE "{DB_NAME}"')

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, connections, reset_queries  # noqa: E402
from django.test import Client  # noqa: E402

# A request that counts the figures itself (no snapshot yet, or the worker stopped) is not
# helped by the cache either: the worst case.
settings.ODR_STATS_CACHE_SECONDS = 0
COUNTED_NOW = "counted now"


def seed(n: int, n_requests: int) -> None:
    from django.contrib.auth import get_user_model

    from agreements.models import Agreement, ConfirmationRequest
    from odr.categories import Category
    from odr.models import Dispute, Organisation, Party, Region

    call_command("migrate", verbosity=0)
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    users = get_user_model().objects
    citizen, mediator = users.get(email="citizen1@demo.odr"), users.get(email="mediator@demo.odr")
    filer = users.create_user(username="bench@example.com", email="bench@example.com")
    centre = Organisation.objects.get(kind=Organisation.Kind.COUNTY_CENTRE)
    court = Organisation.objects.get(kind=Organisation.Kind.COURT)
    regions = list(Region.objects.filter(code__startswith="330523").values_list("pk", flat=True))
    rng = random.Random(14)
    statuses = list(Dispute.Status.values)
    start = dt.datetime(2023, 1, 1, tzinfo=dt.UTC)
    made = 0
    t0 = time.perf_counter()
    while made < n:
        size = min(5000, n - made)
        rows = []
        for i in range(made, made + size):
            mine = i % (n // 2000 or 1) == 0
            status = rng.choice(statuses)
            filed = start + dt.timedelta(seconds=i * 900 + rng.randint(0, 600))
            closed = (
                filed + dt.timedelta(seconds=rng.randint(3600, 60 * 86400))
                if status in ("settled", "failed")
                else None
            )
            rows.append(
                Dispute(
                    case_number=f"（2026）批第{i + 1}号",
                    status=status,
                    category=rng.choice(list(Category.values)),
                    title=f"批量{i}",
                    description="批量数据",
                    region_id=rng.choice(regions),
                    organisation=centre,
                    mediator=mediator if mine else None,
                    filed_by=citizen if mine else filer,
                    created_at=filed,
                    closed_at=closed,
                )
            )
        disputes = Dispute.objects.bulk_create(rows)
        parties = []
        for d in disputes:
            user = citizen if d.filed_by_id == citizen.pk else None
            parties.append(Party(dispute=d, role="applicant", user=user, name="张三"))
            parties.append(Party(dispute=d, role="respondent", name="李四"))
        Party.objects.bulk_create(parties)
        made += size
    settled = list(Dispute.objects.filter(status="settled").order_by("pk")[:n_requests])
    agreements = Agreement.objects.bulk_create(
        Agreement(dispute=d, status="signed", created_by=mediator) for d in settled
    )
    ConfirmationRequest.objects.bulk_create(
        ConfirmationRequest(
            agreement=a,
            court=court,
            status="pending",
            submitted_at=a.dispute.created_at,
            accept_deadline=a.dispute.created_at + dt.timedelta(days=3),
        )
        for a in agreements
    )
    # As a database looks once autovacuum has been by (it is off on the test machine):
    # the planner's statistics, and the visibility map that lets a count read an index
    # alone instead of every row it names.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    took = time.perf_counter() - t0
    print(f"seeded {n:,} disputes, {len(agreements):,} requests in {took:.0f} s")


def client_for(email: str | None) -> Client:
    from django.contrib.auth import get_user_model

    client = Client(HTTP_HOST="localhost")
    if email:
        client.force_login(get_user_model().objects.get(email=email))
    return client


def measure(
    email: str | None, url: str, rounds: int, workers: int
) -> tuple[float, float, int, float]:
    """p50 and p95 in ms over `rounds` requests per client, queries per request, and the
    median CPU time of the request's own thread in ms (in process only: the view, the
    ORM, the templates, the JSON, not PostgreSQL's side), which a loaded machine disturbs
    far less than the wall-clock times."""
    times: list[float] = []
    cpu: list[float] = []
    lock = threading.Lock()
    queries = [0]

    def run(_worker: int) -> None:
        if TOPOLOGY is not None:
            get = TOPOLOGY.client(email)
            get(url)  # warm: the connection, each Daphne's first request
            for _ in range(rounds):
                started = time.perf_counter()
                status = get(url)
                took = (time.perf_counter() - started) * 1000
                assert status == 200, (url, status)
                with lock:
                    times.append(took)
            connections.close_all()
            return
        client = client_for(email)
        client.get(url)  # warm: the session, the connection
        for _ in range(rounds):
            reset_queries()
            started, started_cpu = time.perf_counter(), time.thread_time()
            response = client.get(url)
            took = (time.perf_counter() - started) * 1000
            took_cpu = (time.thread_time() - started_cpu) * 1000
            assert response.status_code == 200, (url, response.status_code)
            with lock:
                times.append(took)
                cpu.append(took_cpu)
                queries[0] = len(connection.queries)
        connections.close_all()

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(run, range(workers)))
    times.sort()
    p95 = times[int(len(times) * 0.95) - 1]
    return statistics.median(times), p95, queries[0], statistics.median(cpu) if cpu else 0.0


class Topology:
    """`./dev prod` (deploy/run.py) on a free port against the bench's database: nginx in
    front of two Daphne processes, Redis for the channel layer and the cache, the task
    worker. Requests go over HTTP with keep-alive, signed in by a session the bench makes
    in the database (the same secret key), so the pages and the API answer as to a
    browser. Statistics are read from the snapshots the bench counted before starting
    (and the topology's reminders loop counts again), as in production."""

    def __init__(self) -> None:
        import socket
        import subprocess

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        state = Path(_tmp) / "prod"
        self.log = Path(_tmp) / "prod.log"
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DJANGO_", "ODR_")) and k not in ("REDIS_URL",)
        }
        env |= {
            "DATABASE_URL": os.environ["DATABASE_URL"],
            "DJANGO_SECRET_KEY": settings.SECRET_KEY,
            "ODR_REQUIRE_STAFF_MFA": "0",
            "ODR_DATA_DIR": str(Path(_tmp) / "prod-data"),
            "ODR_EMAIL_DIR": str(Path(_tmp) / "prod-mail"),
            "ODR_LOG_LEVEL": "WARNING",
        }
        command = [sys.executable, "deploy/run.py", "--dev-secrets", "--no-turn"]
        command += ["--state", str(state), "--listen", f"127.0.0.1:{self.port}"]
        self.proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=self.log.open("w"), stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 180
        while "ready:" not in self.log.read_text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"./dev prod did not come up:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.3)

    def stop(self) -> None:
        import signal

        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except Exception:  # noqa: BLE001
                self.proc.kill()

    def client(self, email: str | None):
        import http.client
        from urllib.parse import quote

        cookie = ""
        if email:
            cookie = client_for(email).cookies[settings.SESSION_COOKIE_NAME].value
        connection_ = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)

        def get(url: str) -> int:
            headers = {"Cookie": f"{settings.SESSION_COOKIE_NAME}={cookie}"} if cookie else {}
            connection_.request("GET", quote(url, safe="/?&=:%"), headers=headers)
            response = connection_.getresponse()
            response.read()
            return response.status

        return get


TOPOLOGY: Topology | None = None


def deep_cursor(email: str, depth: int) -> str:
    """The cursor that starts the page after the `depth`-th case the user sees."""
    client = client_for(email)
    body = client.get("/api/v1/disputes?limit=200").json()
    seen = len(body["items"])
    while body["next"] and seen < depth:
        body = client.get(f"/api/v1/disputes?limit=200&cursor={body['next']}").json()
        seen += len(body["items"])
    return body["next"] or ""


def main() -> None:
    from odr.models import Dispute

    settings.DEBUG = True  # connection.queries is recorded
    if ARGS.reuse:
        call_command("migrate", verbosity=0)
        ARGS.disputes = Dispute.objects.filter(title__startswith="批量").count()
    else:
        seed(ARGS.disputes, ARGS.requests)
    if ARGS.filing_only:
        from bench.http import filing

        filing.report(ARGS.filings)
        return
    # As the ASGI entry point does once the application is loaded (config/asgi.py): the
    # heap of the loaded application is left out of the collector's full collections.
    from config.asgi import freeze_startup_heap

    freeze_startup_heap()
    mediator, coordinator = "mediator@demo.odr", "coordinator@demo.odr"
    deep_mediator = deep_cursor(mediator, 1800)
    # The coordinator's deep page: resume from a case 90% down the list.
    from odr.pagination import encode_cursor

    deep = Dispute.objects.order_by("-created_at", "-pk")[int(ARGS.disputes * 0.9)]
    deep_coordinator = encode_cursor([deep.created_at, deep.pk])
    cases = [
        ("GET /api/v1/me (mediator)", mediator, "/api/v1/me"),
        ("GET /api/v1/disputes (mediator)", mediator, "/api/v1/disputes"),
        ("… ?status=in_mediation", mediator, "/api/v1/disputes?status=in_mediation"),
        ("… page after 1,800 (mediator)", mediator, f"/api/v1/disputes?cursor={deep_mediator}"),
        ("GET /api/v1/disputes (coordinator)", coordinator, "/api/v1/disputes"),
        (
            "… page 90% down (coordinator)",
            coordinator,
            f"/api/v1/disputes?cursor={deep_coordinator}",
        ),
        ("GET /api/v1/court/requests (clerk)", "clerk@demo.odr", "/api/v1/court/requests"),
        # The filters and the search (issue 14): a township with its villages, a category,
        # a case number, a party's name, a range of filing days.
        (
            "… ?region=township&category=debt (coordinator)",
            coordinator,
            "/api/v1/disputes?region=330523101000&category=debt",
        ),
        ("… ?q=case number (coordinator)", coordinator, "/api/v1/disputes?q=（2026）批第777号"),
        ("… ?q=party name (mediator)", mediator, "/api/v1/disputes?q=李"),
        (
            "… ?filed_from=&filed_to= (coordinator)",
            coordinator,
            "/api/v1/disputes?filed_from=2024-03-01&filed_to=2024-03-31",
        ),
        ("/disputes/ (mediator)", mediator, "/disputes/"),
        (
            "/disputes/?region=&category= (coordinator)",
            coordinator,
            "/disputes/?region=330523101000&category=debt",
        ),
        ("/intake/ (coordinator)", coordinator, "/intake/"),
        ("/court/ (clerk)", "clerk@demo.odr", "/court/"),
        # Statistics (issue 14, point 2): as served, from the worker's snapshot (one
        # row), and as counted by a request that finds none (the cost before).
        ("GET /api/v1/stats (snapshot)", None, "/api/v1/stats"),
        ("GET /stats/ (snapshot)", None, "/stats/"),
        ("/dashboard/ (coordinator, snapshot)", coordinator, "/dashboard/"),
        (f"GET /api/v1/stats ({COUNTED_NOW})", None, "/api/v1/stats"),
        (f"GET /stats/ ({COUNTED_NOW})", None, "/stats/"),
        (f"/dashboard/ (coordinator, {COUNTED_NOW})", coordinator, "/dashboard/"),
    ]
    if ARGS.only:
        wanted = ARGS.only.split(",")
        cases = [c for c in cases if c is cases[0] or any(w in c[0] for w in wanted)]
    from odr import stats

    started = time.perf_counter()
    stats.refresh_figures(now=dt.datetime.now(dt.UTC))
    took = (time.perf_counter() - started) * 1000
    from odr.models import FigureSnapshot

    snapshots = FigureSnapshot.objects.count()
    global TOPOLOGY
    where = "in process"
    if ARGS.topology:
        TOPOLOGY = Topology()
        where = "through ./dev prod (nginx, 2 Daphne; statistics from the snapshots)"
    if TOPOLOGY is not None:
        cases = [case for case in cases if COUNTED_NOW not in case[0]]
    try:
        print(f"\n{ARGS.disputes:,} disputes on PostgreSQL, {where}, {ARGS.rounds} requests each")
        print(
            f"the worker's count of the figures (odr.stats.refresh_figures): {took:.0f} ms "
            f"for {snapshots} snapshots (the public figures and each dashboard's area)"
        )
        print("| request | 1 client p50 / p95 | 8 clients p50 / p95 | queries | CPU p50 |")
        print("|---|---|---|---|---|")
        me95 = None
        for label, email, url in cases:
            settings.ODR_FIGURES_MAX_AGE = 0 if COUNTED_NOW in label else 10**9
            p50, p95, n_queries, cpu = measure(email, url, ARGS.rounds, 1)
            c50, c95, _, _ = measure(email, url, max(ARGS.rounds // 4, 5), 8)
            me95 = c95 if me95 is None else me95
            # The goals (issue 14): p95 alone <= 50 ms, at 8 clients <= 2x /api/v1/me's.
            ratio = f" ({c95 / me95:.1f}x /me)" if me95 else ""
            shown = (n_queries, f"{cpu:.1f} ms") if TOPOLOGY is None else ("—", "—")
            print(
                f"| {label} | {p50:.1f} / {p95:.1f} ms | {c50:.1f} / {c95:.1f} ms{ratio} "
                f"| {shown[0]} | {shown[1]} |",
                flush=True,
            )
    finally:
        if TOPOLOGY is not None:
            TOPOLOGY.stop()
    if ARGS.filing:
        from bench.http import filing

        filing.report(ARGS.filings)


if __name__ == "__main__":
    try:
        main()
    finally:
        connections.close_all()
        if not ARGS.keep and not ARGS.reuse:
            with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        else:
            print(f"kept database {DB_NAME}")
