"""Signaling benchmark: N participants in N/3 rooms (a mediator and two parties each) on
ONE Daphne process, on the in-memory channel layer and on Redis pub/sub, beside a bare
relay of the same protocol written with `websockets` alone (bench/signaling/bare.py), in
the same run with the same client.

Printed per server (the bare relay again right before each platform layer, the yardstick
of that layer's ratios):
- connection set-up: from opening the socket (with a ticket) to `welcome`, p50/p99, the
  wall time to bring every room up (connect all, mediators admit both parties), and how
  many joins failed (a handshake dropped or refused);
- relay latency of `signal` messages, p50/p99 (sender and receiver are this process, so
  one clock measures it): `--signals` messages per room, paced to `--rate` per second;
- memory per connection: the server process's RSS after everyone joined minus before,
  divided by N;
- for the platform, the ratios to the bare relay (goals: set-up p50 and relay p99 at most
  3x, memory per connection at most 1.5x).

By default every join starts at once (nine in the morning); `--concurrency 16` admits
16 joins at a time instead (people arriving one by one).

    .venv/bin/python -m bench.signaling                 # quick: N=150
    .venv/bin/python -m bench.signaling -n 300
    .venv/bin/python -m bench.signaling -n 999 --layers bare,memory,pubsub

Redis is REDIS_URL's server (default redis://127.0.0.1:6379), database 15, flushed
before and after. Each run gets a fresh database in a temporary folder: the default
configuration's SQLite (WAL), as `./dev serve` runs it, with Daphne started as
`./dev serve` starts it (`daphne_command`).
Join-to-first-frame for aiortc peers: bench/signaling/first_frame.py.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROLES = ("mediator", "applicant", "respondent")
PAD = "a=candidate:1 1 udp 2122260223 192.0.2.1 54321 typ host generation 0 " * 6

SEED = """
import json, hashlib, secrets, os
from datetime import timedelta
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone
from odr.models import Dispute, Organisation, Party, Profile, Region
from sessions.models import MediationSession, RoomParticipant, RoomTicket
from sessions.services.access import ticket_sign

rooms = int(os.environ["BENCH_ROOMS"])
call_command("seed_demo", stdout=open(os.devnull, "w"))
User = get_user_model()
org = Organisation.objects.get(kind=Organisation.Kind.COUNTY_CENTRE)
region = Region.objects.get(code="330523000000")
# Bulk rows, no password hashing: the benchmark is about the room, not about accounts.
users = User.objects.bulk_create(
    [User(username=f"bench{i}@bench.odr", email=f"bench{i}@bench.odr", password="!")
     for i in range(rooms * 3)]
)
Profile.objects.bulk_create([Profile(user=u, real_name=f"Bench {u.pk}") for u in users])
disputes = Dispute.objects.bulk_create(
    [Dispute(case_number=f"(2026)bench-{r}", status=Dispute.Status.IN_MEDIATION,
             category="debt", title="bench", description="bench", region=region,
             organisation=org, mediator=users[3 * r], filed_by=users[3 * r + 1])
     for r in range(rooms)]
)
parties = []
for r, d in enumerate(disputes):
    for k, role in ((1, "applicant"), (2, "respondent")):
        parties.append(Party(dispute=d, role=role, user=users[3 * r + k], name=role, accepted=True))
Party.objects.bulk_create(parties)
now = timezone.now()
sessions = MediationSession.objects.bulk_create(
    [MediationSession(dispute=d, created_by=d.mediator, status="scheduled",
                      scheduled_at=now + timedelta(hours=1)) for d in disputes]
)
# Signed tickets as ticket_issue makes them (issue 13), for places made in bulk.
places = RoomParticipant.objects.bulk_create(
    [RoomParticipant(session=s, user=users[3 * r + k], role=who,
                     state="room" if who == "mediator" else "lobby")
     for r, s in enumerate(sessions)
     for k, who in enumerate(("mediator", "applicant", "respondent"))]
)
out, tickets = [], []
for r, s in enumerate(sessions):
    room = {"session": s.pk, "tickets": {}}
    for k, who in enumerate(("mediator", "applicant", "respondent")):
        token = ticket_sign(session_id=s.pk, participant=places[3 * r + k],
                            name=f"Bench {users[3 * r + k].pk}",
                            expires_at=now + timedelta(hours=2), mfa=(False, False))
        digest = hashlib.sha256(token.encode()).hexdigest()
        tickets.append(RoomTicket(session=s, user=users[3 * r + k], token_hash=digest,
                                  expires_at=now + timedelta(hours=2)))
        room["tickets"][who] = token
    out.append(room)
RoomTicket.objects.bulk_create(tickets)
with open(os.environ["BENCH_OUT"], "w") as f:
    json.dump(out, f)
"""


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Client:
    role: str
    ws: object = None
    peer_id: str = ""
    welcome: asyncio.Future | None = None
    admitted: asyncio.Future | None = None
    latencies: list[float] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)

    async def reader(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            async for raw in self.ws:
                message = json.loads(raw)
                kind = message["type"]
                if kind == "signal":
                    self.latencies.append(time.perf_counter() - message["data"]["t"])
                elif kind == "welcome":
                    self.peer_id = message["peer_id"]
                    self.welcome.set_result(message)
                elif kind == "admitted":
                    self.admitted.set_result(message)
                elif kind == "error":
                    self.errors.append(message)
        except ConnectionClosed:
            pass


@dataclass
class Server:
    layer: str
    work: Path
    spec: list[dict]
    port: int
    process: subprocess.Popen
    redis_db: object = None


def daphne_command(port: int) -> list[str]:
    """Daphne as `./dev serve` and `./dev prod` start it: the listen backlog raised from
    Twisted's 50, so that a burst of simultaneous joins queues in the kernel instead of
    being refused (the kernel caps it at net.core.somaxconn)."""
    daphne = str(Path(sys.executable).with_name("daphne"))
    return [daphne, "-e", f"tcp:port={port}:interface=127.0.0.1:backlog=4096",
            "config.asgi:application"]  # fmt: skip


def _wait_listening(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(log.read_text()[-2000:]) from None
            time.sleep(0.1)


def start_bare(n: int) -> Server:
    """The bare relay with N/3 rooms' tickets (no database: it only checks them)."""
    rooms = max(1, n // 3)
    work = Path(tempfile.mkdtemp(prefix="bench-signaling-bare-"))
    spec = [
        {"session": r + 1, "tickets": {who: secrets.token_urlsafe(32) for who in ROLES}}
        for r in range(rooms)
    ]
    (work / "rooms.json").write_text(json.dumps(spec))
    port = free_port()
    with open(work / "daphne.log", "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.signaling.bare", "--port", str(port),
             "--spec", str(work / "rooms.json")],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    _wait_listening(port, process, work / "daphne.log")
    return Server("bare", work, spec, port, process)


def start_server(layer: str, n: int, redis_url: str) -> Server:
    """A fresh SQLite database with N/3 rooms and their tickets, and one Daphne process."""
    if layer == "bare":
        return start_bare(n)
    rooms = max(1, n // 3)
    work = Path(tempfile.mkdtemp(prefix=f"bench-signaling-{layer}-"))
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("REDIS_URL", "DATABASE_URL", "PYTEST_CURRENT_TEST", "ODR_CHANNEL_LAYER")
    }
    env.update(
        DJANGO_DEBUG="1",
        ODR_TESTING="0",
        DJANGO_SETTINGS_MODULE="config.settings",
        ODR_DATA_DIR=str(work / "data"),
        ODR_EMAIL_DIR=str(work / "mail"),
        ODR_LOG_LEVEL="WARNING",
        BENCH_ROOMS=str(rooms),
        BENCH_OUT=str(work / "rooms.json"),
    )
    redis_db = None
    if layer in ("redis", "pubsub"):
        import redis

        env["REDIS_URL"] = f"{redis_url.rstrip('/')}/15"
        redis_db = redis.Redis.from_url(env["REDIS_URL"])
        redis_db.flushdb()
    # `redis` measures the tuned core layer; `pubsub` the pub/sub layer (the default).
    env["ODR_CHANNEL_LAYER"] = "pubsub" if layer == "pubsub" else "core"
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([*manage, "shell", "-v0", "-c", SEED], cwd=ROOT, env=env, check=True)
    spec = json.loads((work / "rooms.json").read_text())
    port = free_port()
    with open(work / "daphne.log", "w") as log:
        process = subprocess.Popen(
            daphne_command(port), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    _wait_listening(port, process, work / "daphne.log")
    return Server(layer, work, spec, port, process, redis_db)


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
    if server.redis_db is not None:
        server.redis_db.flushdb()
    shutil.rmtree(server.work, ignore_errors=True)


async def measure(server: Server, signals: int, rate: float, concurrency: int) -> dict:
    """`signals`: per room; `concurrency` 0: every join at once."""
    from websockets.asyncio.client import connect

    spec = list(server.spec)
    clients: list[Client] = []
    base = f"ws://127.0.0.1:{server.port}/ws/sessions"
    # Warm up (imports, first queries) on an unused room, so RSS "before" is steady.
    warm = spec.pop()
    ws = await connect(f"{base}/{warm['session']}/?ticket={warm['tickets']['mediator']}")
    await ws.recv()
    await ws.close()
    await asyncio.sleep(1)
    rss_before = rss_kib(server.process.pid)

    setup_times: list[float] = []
    failures: list[str] = []
    gate = asyncio.Semaphore(concurrency) if concurrency > 0 else contextlib.nullcontext()
    loop = asyncio.get_running_loop()
    readers: list[asyncio.Task] = []

    async def join(session_id: int, ticket: str, role: str) -> Client:
        client = Client(role=role, welcome=loop.create_future(), admitted=loop.create_future())
        async with gate:
            started = time.perf_counter()
            client.ws = await connect(
                f"{base}/{session_id}/?ticket={ticket}",
                ping_interval=None,
                open_timeout=120,
                max_queue=None,
            )
            readers.append(asyncio.create_task(client.reader()))
            await asyncio.wait_for(client.welcome, 120)
            setup_times.append(time.perf_counter() - started)
        clients.append(client)
        return client

    async def bring_up(room: dict) -> tuple[Client, Client, Client] | None:
        t = room["tickets"]
        joined = await asyncio.gather(
            *(join(room["session"], t[who], who) for who in ROLES), return_exceptions=True
        )
        bad = [j for j in joined if isinstance(j, BaseException)]
        if bad:
            failures.extend(f"{type(e).__name__}: {e}" for e in bad)
            return None
        mediator, applicant, respondent = joined
        for party in (applicant, respondent):
            await mediator.ws.send(json.dumps({"type": "admit", "peer_id": party.peer_id}))
            await asyncio.wait_for(party.admitted, 120)
        return mediator, applicant, respondent

    started = time.perf_counter()
    trios = [t for t in await asyncio.gather(*(bring_up(room) for room in spec)) if t]
    setup_wall = time.perf_counter() - started
    await asyncio.sleep(1)
    rss_after = rss_kib(server.process.pid)

    # Relay: each room sends `signals` messages round its three peers (m->x, x->y, y->m),
    # paced so the whole server sees about `rate` messages per second (trickle ICE).
    routes = [[(x, m), (y, x), (m, y)] for m, x, y in trios]
    interval = len(trios) / rate if trios else 0

    async def send_room(pairs: list[tuple[Client, Client]], offset: float) -> None:
        await asyncio.sleep(offset)
        for k in range(signals):
            sender, target = pairs[k % 3]
            data = {"t": time.perf_counter(), "candidate": {"candidate": PAD}}
            await sender.ws.send(json.dumps({"type": "signal", "to": target.peer_id, "data": data}))
            await asyncio.sleep(interval)

    started = time.perf_counter()
    await asyncio.gather(
        *(send_room(pairs, i * interval / len(routes)) for i, pairs in enumerate(routes))
    )
    expected = len(routes) * signals
    while sum(len(c.latencies) for c in clients) < expected:
        if time.perf_counter() - started > 300:
            break
        await asyncio.sleep(0.05)
    relay_wall = time.perf_counter() - started
    latencies = [x for c in clients for x in c.latencies]
    errors = [e for c in clients for e in c.errors]
    for c in clients:
        await c.ws.close()
    await asyncio.gather(*readers, return_exceptions=True)
    participants = len(clients)
    return {
        "layer": server.layer,
        "participants": participants,
        "attempted": len(spec) * 3,
        "failed_joins": len(failures),
        "failure_sample": failures[:3],
        "rooms": len(trios),
        "setup_p50_ms": percentile(setup_times, 50) * 1000,
        "setup_p99_ms": percentile(setup_times, 99) * 1000,
        "setup_wall_s": setup_wall,
        "relay_p50_ms": percentile(latencies, 50) * 1000,
        "relay_p99_ms": percentile(latencies, 99) * 1000,
        "relayed": len(latencies),
        "expected": expected,
        "relay_rate": len(latencies) / relay_wall,
        "errors": len(errors),
        "rss_before_mib": rss_before / 1024,
        "rss_after_mib": rss_after / 1024,
        "kib_per_connection": (rss_after - rss_before) / max(1, participants),
    }


RATIOS = (
    # (key, goal) of the issue: the platform at most this many times the bare relay.
    ("setup_p50_ms", 3.0),
    ("relay_p99_ms", 3.0),
    ("kib_per_connection", 1.5),
)


def ratios(result: dict, bare: dict) -> dict[str, float]:
    return {key: (result[key] / bare[key] if bare[key] > 0 else float("inf")) for key, _ in RATIOS}


def report(result: dict, bare: dict | None = None) -> str:
    r = result
    text = (
        f"[{r['layer']}] {r['participants']}/{r['attempted']} participants joined "
        f"({r['failed_joins']} failed) in {r['rooms']} rooms\n"
        f"  connection set-up (socket to welcome): p50 {r['setup_p50_ms']:.1f} ms, "
        f"p99 {r['setup_p99_ms']:.1f} ms; all rooms up and admitted in {r['setup_wall_s']:.1f} s\n"
        f"  signal relay latency: p50 {r['relay_p50_ms']:.1f} ms, p99 {r['relay_p99_ms']:.1f} ms "
        f"({r['relayed']}/{r['expected']} relayed, {r['relay_rate']:.0f} msg/s, "
        f"{r['errors']} errors)\n"
        f"  memory: RSS {r['rss_before_mib']:.1f} -> {r['rss_after_mib']:.1f} MiB, "
        f"{r['kib_per_connection']:.1f} KiB per connection"
    )
    if r["failure_sample"]:
        text += "\n  failures, e.g.: " + "; ".join(r["failure_sample"])
    if bare is not None and r is not bare:
        got = ratios(r, bare)
        text += "\n  against the bare relay: " + ", ".join(
            f"{key} {got[key]:.1f}x (goal <= {goal:g}x{'' if got[key] <= goal else ', MISSED'})"
            for key, goal in RATIOS
        )
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--participants", type=int, default=150)
    parser.add_argument("--full", action="store_true", help="999 participants")
    parser.add_argument(
        "--layers",
        default="bare,memory,pubsub",
        help="bare (the yardstick), memory, pubsub (Redis pub/sub), redis (core layer)",
    )
    parser.add_argument("--signals", type=int, default=20, help="signals each room sends")
    parser.add_argument("--rate", type=float, default=300.0, help="signals per second, in all")
    parser.add_argument(
        "--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379")
    )
    parser.add_argument(
        "--concurrency", type=int, default=0, help="joins in flight at once (0: all at once)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON lines as well")
    args = parser.parse_args(argv)
    n = 999 if args.full else args.participants
    layers = [x.strip() for x in args.layers.split(",") if x.strip()]
    for layer in layers:
        if layer not in ("bare", "memory", "redis", "pubsub"):
            parser.error(f"unknown layer {layer}")
    # The yardstick runs right before each platform layer, so each ratio compares two
    # runs a minute apart: on a shared machine the load moves over minutes, and a
    # yardstick taken once at the start moved the later layers' ratios by 2-5x.
    platform = [x for x in layers if x != "bare"]
    if "bare" in layers:
        layers = [y for x in platform for y in ("bare", x)] if platform else ["bare"]
    bare = None
    for layer in layers:
        # +3: one room is used to warm the server up before measuring.
        server = start_server(layer, n + 3, args.redis_url)
        try:
            result = asyncio.run(measure(server, args.signals, args.rate, args.concurrency))
        except Exception:
            print((server.work / "daphne.log").read_text()[-4000:], file=sys.stderr)
            raise
        finally:
            stop_server(server)
        if layer == "bare":
            bare = result
        print(report(result, bare), flush=True)
        if args.json:
            print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
