"""Filing throughput (issue 14 §4): `POST /api/v1/disputes` from 1, 4 and 8 clients at
once in this one process, beside `GET /api/v1/me` at the same concurrency, and the
queries one filing costs. Imported by bench.http after Django is set up.

Every filing is by a citizen of its own (a real name and a resident ID number of their
own, logged in before the clock starts), from a village (the deepest routing walk), a
debt case routed to the county centre: all of them draw from one case-number counter,
the worst case for the counter's lock. (One citizen filing them all made every filing a
possible duplicate of every earlier one in the same village, odr.services.duplicates:
the n-th filing wrote n-1 links and audit events under the counter's lock, which is a
storm no county sees, not throughput.) The e-mail to the respondent is enqueued in the
task queue after commit (a row in the database queue, as in production: no worker
runs)."""

from __future__ import annotations

import itertools
import json
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, connections
from django.test import Client
from django.test.utils import CaptureQueriesContext

from bench.http.cpu import cpu_seconds

FILER = "citizen1@demo.odr"  # the `GET /api/v1/me` yardstick's user
REGION = "330523100201"  # 横溪坞村: village → township → county → city → province
_serial = itertools.count()
_filers = itertools.count(1)


def _dispute() -> str:
    n = next(_serial)
    return json.dumps(
        {
            "category": "debt",
            "title": f"借款纠纷{n}",
            "description": "2025年3月借给对方一万元，至今未还。",
            "region": REGION,
            "claim_amount": "10000.00",
            "respondent": {"name": "李四", "email": f"bench-respondent-{n}@example.com"},
        }
    )


_handler: list = []  # the one request handler every client of the bench goes through


def _new_client() -> Client:
    """A test client that shares one handler (its middleware chain loaded once, as a
    server loads it once per process) with every other client of the bench: each
    filing's client of its own otherwise loaded the chain again, some 0.3 ms a filing
    that no server spends."""
    client = Client(HTTP_HOST="localhost")
    if _handler:
        client.handler = _handler[0]
    else:
        _handler.append(client.handler)
    return client


def _client() -> Client:
    from django.contrib.auth import get_user_model

    client = _new_client()
    client.force_login(get_user_model().objects.get(email=FILER))
    return client


def _id_number(n: int) -> str:
    from odr.idnumber import id_check_char

    first17 = f"330523{1960 + n % 40}{1 + n % 12:02d}{1 + n % 28:02d}{n % 1000:03d}"
    return first17 + id_check_char(first17)


def _filer_client() -> Client:
    """A client logged in as a new citizen with a real name, ID number and phone of
    their own (made outside the measured time)."""
    from django.contrib.auth import get_user_model

    from odr.models import Profile

    n = next(_filers)
    user = get_user_model().objects.create_user(
        username=f"bench-filer-{n}@example.com", email=f"bench-filer-{n}@example.com"
    )
    Profile.objects.update_or_create(
        user=user,
        defaults={"real_name": f"申请人{n}", "id_number": _id_number(n), "phone": f"139{n:08d}"},
    )
    client = _new_client()
    client.force_login(user)
    return client


def _file(client: Client) -> None:
    response = client.post("/api/v1/disputes", _dispute(), content_type="application/json")
    assert response.status_code == 201, response.content[:500]


def _me(client: Client) -> None:
    response = client.get("/api/v1/me")
    assert response.status_code == 200, response.content[:500]


@dataclass
class Run:
    per_second: float
    p50: float
    p95: float
    cpu_ms: float  # this process's CPU (all threads) per call
    db_cpu_ms: float  # the database server processes' CPU per call (same machine)
    lock_share: float  # of the database's busy backends sampled, the share waiting on a lock
    counter_share: float = 0.0  # ... waiting in the case-number counter's statement
    head_share: float = 0.0  # ... waiting in the audit chain head's statement


class LockSampler:
    """Samples, from a connection of its own, the database's server processes that are
    busy with a statement: how often they wait on a row lock (the case-number counter,
    the audit chain's head) rather than work or wait for the disk, and on which: the
    statement that waits names the counter's or the head's table."""

    def __init__(self) -> None:
        self.busy = self.locked = self.counter = self.head = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        from django.db import connections as conns

        with conns["default"].cursor() as cursor:
            while not self._stop.is_set():
                cursor.execute(
                    "SELECT count(*), count(*) FILTER (WHERE wait_event_type = 'Lock'), "
                    "count(*) FILTER (WHERE wait_event_type = 'Lock' "
                    "AND query LIKE '%%odr_casecounter%%'), "
                    # A filing's event goes in one message after its invitations and
                    # task rows, whose text may push the head's name past what
                    # pg_stat_activity keeps of a query (track_activity_query_size).
                    "count(*) FILTER (WHERE wait_event_type = 'Lock' "
                    "AND (query LIKE '%%odr_audithead%%' "
                    "OR query LIKE 'INSERT INTO \"odr_invitation\"%%')) "
                    "FROM pg_stat_activity WHERE datname = current_database() "
                    "AND state = 'active' AND pid <> pg_backend_pid()"
                )
                busy, locked, counter, head = cursor.fetchone()
                self.busy += busy
                self.locked += locked
                self.counter += counter
                self.head += head
                time.sleep(0.005)
        conns["default"].close()

    def __enter__(self) -> LockSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def share(self) -> float:
        return self.locked / self.busy if self.busy else 0.0

    def share_of(self, waiting: int) -> float:
        return waiting / self.busy if self.busy else 0.0


def _server_cpu() -> float:
    """CPU seconds used so far by the PostgreSQL processes serving this database."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        return cpu_seconds([row[0] for row in cursor.fetchall()])


def _run(call, workers: int, per_client: int, *, own_filers: bool = False) -> Run:
    """`per_client` calls from each of `workers` clients started together: calls per
    second of wall time, and each call's p50/p95 in ms. `own_filers`: each call as a
    citizen of its own (each worker's citizens logged in before the clock starts)."""
    times: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(workers + 1)

    def work(_index: int) -> None:
        try:
            client = _filer_client() if own_filers else _client()
            call(client)  # warm: the session, the pooled connection
            clients = (
                [_filer_client() for _ in range(per_client)]
                if own_filers
                else [client] * per_client
            )
        except BaseException:
            barrier.abort()  # the others, and the clock, do not wait for this one
            raise
        barrier.wait()
        mine = []
        for each in clients:
            started = time.perf_counter()
            call(each)
            mine.append((time.perf_counter() - started) * 1000)
        with lock:
            times.extend(mine)
        connections.close_all()

    with ThreadPoolExecutor(workers) as pool:
        futures = [pool.submit(work, i) for i in range(workers)]
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            for future in futures:
                future.result()  # raises the worker's error
            raise
        # The warm-up calls made the pool's connections: all of them are counted.
        db_started = _server_cpu()
        with LockSampler() as sampler:
            started, cpu_started = time.perf_counter(), time.process_time()
            for future in futures:
                future.result()
            wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        db_cpu = _server_cpu() - db_started
    times.sort()
    n = len(times)
    return Run(
        n / wall,
        statistics.median(times),
        times[int(n * 0.95) - 1],
        cpu * 1000 / n,
        db_cpu * 1000 / n,
        sampler.share,
        sampler.share_of(sampler.counter),
        sampler.share_of(sampler.head),
    )


def queries_per_filing() -> tuple[int, list[str]]:
    _file(_filer_client())  # the first request of the process pays for what none repeats
    client = _filer_client()
    with CaptureQueriesContext(connection) as captured:
        _file(client)
    return len(captured), [q["sql"] for q in captured.captured_queries]


def report(per_client: int, concurrency: tuple[int, ...] = (1, 4, 8)) -> None:
    from django_tasks_db.models import DBTaskResult

    from odr.models import Dispute

    n_queries, sqls = queries_per_filing()
    before = Dispute.objects.count()
    # Query logging off, as in production (the lists above are measured with it on).
    debug, settings.DEBUG = settings.DEBUG, False
    try:
        rows = []
        for workers in concurrency:
            filing = _run(_file, workers, per_client, own_filers=True)
            me = _run(_me, workers, per_client)
            rows.append((workers, filing, me))
    finally:
        settings.DEBUG = debug
    filed = Dispute.objects.count() - before
    print(f"\nFiling, in process, {per_client} filings per client ({filed:,} filed)")
    print(f"{n_queries} queries per filing (the request, the filing, the answer):")
    for i, sql in enumerate(sqls, 1):
        print(f"  {i:2d}. {sql[:110]}")
    print(
        "| clients | filings/s | filing p50 / p95 | CPU per filing: Python / PostgreSQL "
        "| waiting on a lock (counter / head) | `GET /api/v1/me`/s | me p50 / p95 | CPU per me "
        "| filing p50 ÷ me p50 |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for workers, filing, me in rows:
        print(
            f"| {workers} | {filing.per_second:.1f} | {filing.p50:.1f} / {filing.p95:.1f} ms "
            f"| {filing.cpu_ms:.1f} / {filing.db_cpu_ms:.1f} ms | {filing.lock_share:.0%} "
            f"({filing.counter_share:.0%} / {filing.head_share:.0%}) "
            f"| {me.per_second:.1f} | {me.p50:.1f} / {me.p95:.1f} ms "
            f"| {me.cpu_ms:.1f} / {me.db_cpu_ms:.1f} ms | {filing.p50 / me.p50:.1f}× |"
        )
    queued = DBTaskResult.objects.count()
    print(f"{queued:,} e-mails waiting in the task queue (enqueued after commit)")
    print(
        "waiting on a lock: the share of the database's busy server processes, sampled every"
        " 5 ms, that waited on a row lock; in brackets those waiting in the case-number"
        " counter's statement and in the audit chain head's"
    )
