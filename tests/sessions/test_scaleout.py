"""Scale-out: two Daphne processes on the Redis channel layer, sharing one PostgreSQL
database, host one room. Peers connected to different processes meet: the knock, the
admission, signals and the caucus all cross the process boundary, and a peer that comes
back through the other process returns to the same place.

Needs PostgreSQL and Redis on 127.0.0.1 (they run in CI); when they are unreachable the
test FAILS (a scale-out test that did not run is not a pass)."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
REDIS = ("127.0.0.1", 6379)
REDIS_DB = 14
HEARTBEAT = 9

pytestmark = pytest.mark.scaleout

_SEED = """
import json, secrets
from datetime import timedelta
from django.core.management import call_command
from django.utils import timezone
from odr.models import Dispute, Organisation, Party
from sessions import services
from tests import factories
call_command("seed_demo", stdout=open("/dev/null", "w"))
# The case is put in mediation directly: this test is about rooms, not intake.
mediator = factories.demo_user("mediator@demo.odr")
applicant = factories.demo_user("citizen1@demo.odr")
respondent = factories.demo_user("citizen2@demo.odr")
dispute = Dispute.objects.create(
    case_number="(2026)scale-out-" + secrets.token_hex(4), category="debt",
    status=Dispute.Status.IN_MEDIATION,
    title="scale-out", description="scale-out", region=factories.county(),
    organisation=Organisation.objects.get(kind=Organisation.Kind.COUNTY_CENTRE),
    mediator=mediator, filed_by=applicant,
)
Party.objects.create(dispute=dispute, role="applicant", user=applicant, name="A", accepted=True)
Party.objects.create(dispute=dispute, role="respondent", user=respondent, name="B", accepted=True)
session = services.session_schedule(
    dispute=dispute, actor=mediator, scheduled_at=timezone.now() + timedelta(minutes=10)
)
tickets = {}
for who, user in [("mediator", mediator), ("applicant", applicant),
                  ("respondent", respondent), ("applicant2", applicant),
                  ("mediator2", mediator), ("respondent2", respondent)]:
    tickets[who] = services.ticket_issue(session=session, user=user)[0]
print("SEED=" + json.dumps({"session": session.pk, "tickets": tickets}))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _require_services() -> None:
    import psycopg
    import redis

    try:
        psycopg.connect(dbname="postgres", connect_timeout=3, **PG).close()
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {PG['host']}:{PG['port']} (user postgres): {exc}. "
            "The scale-out test needs it; start PostgreSQL."
        )
    try:
        redis.Redis(host=REDIS[0], port=REDIS[1], socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        pytest.fail(
            f"Redis is not reachable at {REDIS[0]}:{REDIS[1]}: {exc}. "
            "The scale-out test needs it; start Redis."
        )


@pytest.fixture(scope="module")
def database(tmp_path_factory) -> Iterator[dict[str, str]]:
    """A scratch PostgreSQL database, migrated, for the module; dropped afterwards."""
    import psycopg

    _require_services()
    name = f"odr_scaleout_{secrets.token_hex(4)}"
    tmp = tmp_path_factory.mktemp("scaleout")
    with psycopg.connect(dbname="postgres", autocommit=True, **PG) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTEST_CURRENT_TEST", "DJANGO_ALLOW_ASYNC_UNSAFE", "ODR_CHANNEL_LAYER")
    }
    env.update(
        DJANGO_DEBUG="1",
        ODR_TESTING="0",
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{name}",
        REDIS_URL=f"redis://127.0.0.1:6379/{REDIS_DB}",
        ODR_DATA_DIR=str(tmp / "data"),
        ODR_EMAIL_DIR=str(tmp / "mail"),
        ODR_TASKS_IMMEDIATE="1",
        ODR_LOG_LEVEL="WARNING",
        ODR_ROOM_TICKET_TTL_SECONDS="600",
        # A short heartbeat, so that the test of a killed process sees the sweep.
        ODR_ROOM_HEARTBEAT_SECONDS=str(HEARTBEAT),
    )
    try:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "-v0"],
            cwd=ROOT,
            env=env,
            check=True,
            timeout=240,
        )
        yield env
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **PG) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["core", "pubsub"])
def cluster(request, database, tmp_path) -> Iterator[dict]:
    """A session with tickets in the shared database, and two Daphne processes on the
    Redis layer (channels-redis' core layer, then its pub/sub layer)."""
    import redis

    env = {**database, "ODR_CHANNEL_LAYER": request.param}
    redis_client = redis.Redis(host=REDIS[0], port=REDIS[1], db=REDIS_DB)
    redis_client.flushdb()
    processes: list[subprocess.Popen] = []
    try:
        seeded = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", _SEED],
            cwd=ROOT,
            env=env,
            timeout=120,
            capture_output=True,
            text=True,
        )
        if seeded.returncode != 0:
            pytest.fail(f"seeding the scale-out database failed:\n{seeded.stderr[-3000:]}")
        out = seeded.stdout
        seed = json.loads(next(line[5:] for line in out.splitlines() if line.startswith("SEED=")))
        ports = [_free_port(), _free_port()]
        for port in ports:
            with open(tmp_path / f"daphne-{port}.log", "w") as log:
                processes.append(
                    subprocess.Popen(
                        [
                            str(Path(sys.executable).with_name("daphne")),
                            "-b",
                            "127.0.0.1",
                            "-p",
                            str(port),
                            "config.asgi:application",
                        ],
                        cwd=ROOT,
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
        for port, proc in zip(ports, processes, strict=True):
            _wait_for_port(port, proc, tmp_path / f"daphne-{port}.log")
        yield {"ports": ports, "processes": processes, **seed}
    finally:
        for proc in processes:
            proc.terminate()
        for proc in processes:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        redis_client.flushdb()
        # Shown by pytest when the test failed: what the two processes warned of (a
        # delivery that failed, a connection swept as gone).
        for log in sorted(tmp_path.glob("daphne-*.log")):
            print(f"--- {log.name}\n{log.read_text(errors='replace')[-4000:]}")


def _wait_for_port(port: int, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"Daphne on port {port} exited:\n{log.read_text()[-3000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"Daphne on port {port} did not start:\n{log.read_text()[-3000:]}")


class Peer:
    def __init__(self, ws) -> None:
        self.ws = ws

    async def send(self, message: dict) -> None:
        await self.ws.send(json.dumps(message))

    async def until(self, kind: str) -> dict:
        while True:
            # Generous for a loaded 2-core CI machine: a relayed message normally arrives
            # in milliseconds (bench/signaling); the wait only bounds a lost one.
            message = json.loads(await asyncio.wait_for(self.ws.recv(), timeout=30))
            if message["type"] == kind:
                return message


async def _join(port: int, session_id: int, ticket: str) -> tuple[Peer, dict]:
    from websockets.asyncio.client import connect

    # No Origin header, as any non-browser client: the ticket authenticates.
    ws = await connect(f"ws://127.0.0.1:{port}/ws/sessions/{session_id}/?ticket={ticket}")
    peer = Peer(ws)
    return peer, await peer.until("welcome")


async def test_peers_on_two_daphne_processes_meet_in_one_room(cluster):
    a, b = cluster["ports"]
    sid, tickets = cluster["session"], cluster["tickets"]

    mediator, med_w = await _join(a, sid, tickets["mediator"])
    applicant, app_w = await _join(b, sid, tickets["applicant"])
    assert med_w["state"] == "room" and app_w["state"] == "lobby"
    # The knock crosses from process B to the mediator on process A.
    assert (await mediator.until("knock"))["peer"]["peer_id"] == app_w["peer_id"]
    await mediator.send({"type": "admit", "peer_id": app_w["peer_id"]})
    admitted = await applicant.until("admitted")
    assert [p["peer_id"] for p in admitted["peers"]] == [med_w["peer_id"]]
    assert (await mediator.until("peer-joined"))["peer"]["peer_id"] == app_w["peer_id"]

    # A signal relayed across processes, both ways.
    offer = {"sdp": {"type": "offer", "sdp": "v=0"}}
    await applicant.send({"type": "signal", "to": med_w["peer_id"], "data": offer})
    assert await mediator.until("signal") == {
        "type": "signal",
        "from": app_w["peer_id"],
        "data": offer,
    }
    answer = {"sdp": {"type": "answer", "sdp": "v=0"}}
    await mediator.send({"type": "signal", "to": app_w["peer_id"], "data": answer})
    assert (await applicant.until("signal"))["data"] == answer

    respondent, res_w = await _join(b, sid, tickets["respondent"])
    await mediator.send({"type": "admit", "peer_id": res_w["peer_id"]})
    await respondent.until("admitted")

    # A caucus with the applicant: the partition holds across processes.
    await mediator.send({"type": "caucus", "peer_ids": [app_w["peer_id"]]})
    assert (await respondent.until("caucus"))["peers"] == []
    assert [p["peer_id"] for p in (await applicant.until("caucus"))["peers"]] == [med_w["peer_id"]]
    await respondent.send({"type": "signal", "to": med_w["peer_id"], "data": {}})
    assert (await respondent.until("error"))["code"] == "peer_not_visible"
    await applicant.send({"type": "chat", "text": "只给调解员"})
    assert (await mediator.until("chat"))["text"] == "只给调解员"

    # The applicant's connection drops; it comes back through the OTHER process and is
    # still admitted, still in the caucus, with the same peer id.
    await applicant.ws.close()
    assert (await mediator.until("peer-left"))["peer_id"] == app_w["peer_id"]
    applicant, again = await _join(a, sid, tickets["applicant2"])
    assert again["peer_id"] == app_w["peer_id"] and again["state"] == "room"
    assert again["caucus"] is True
    assert [p["peer_id"] for p in again["peers"]] == [med_w["peer_id"]]

    await mediator.send({"type": "caucus_end"})
    ended_caucus = await respondent.until("caucus")
    assert {p["peer_id"] for p in ended_caucus["peers"]} == {med_w["peer_id"], app_w["peer_id"]}
    # The applicant's own `caucus` event, not the respondent's, tells when its view holds
    # the respondent again: a signal that overtook it would be dropped on arrival.
    back_together = await applicant.until("caucus")
    assert {p["peer_id"] for p in back_together["peers"]} == {med_w["peer_id"], res_w["peer_id"]}
    await respondent.send({"type": "signal", "to": app_w["peer_id"], "data": {"c": 1}})
    assert (await applicant.until("signal"))["from"] == res_w["peer_id"]

    await mediator.send({"type": "end"})
    for peer in (mediator, applicant, respondent):
        await peer.until("ended")
        await peer.ws.close()


# On both layers (the core layer's consumers closed with 1011 after the kill until its
# Redis socket timeout outlasted its BZPOPMIN wait: config/settings.py).
async def test_a_killed_daphne_process_leaves_nobody_connected_and_everyone_comes_back(cluster):
    """Issue 13, point 6: one of two Daphne processes is killed mid-session. The survivor
    sweeps the dead process's connections within a heartbeat (the others hear
    `peer-left`), and each client that reconnects through the survivor is back in its
    place (same peer id, in the room, with the others) within 5 s."""
    a, b = cluster["ports"]
    sid, tickets = cluster["session"], cluster["tickets"]
    mediator, med_w = await _join(a, sid, tickets["mediator"])
    applicant, app_w = await _join(b, sid, tickets["applicant"])
    respondent, res_w = await _join(a, sid, tickets["respondent"])
    for party in (app_w, res_w):
        await mediator.send({"type": "admit", "peer_id": party["peer_id"]})
    await applicant.until("admitted")
    await respondent.until("admitted")

    # Process A dies without running a single leave.
    cluster["processes"][0].kill()
    cluster["processes"][0].wait(timeout=10)
    killed = time.monotonic()

    # The mediator reconnects at once, through B.
    started = time.monotonic()
    mediator, again = await _join(b, sid, tickets["mediator2"])
    assert time.monotonic() - started < 5
    assert again["peer_id"] == med_w["peer_id"] and again["state"] == "room"
    assert app_w["peer_id"] in {p["peer_id"] for p in again["peers"]}

    # The respondent does not come back yet: within a heartbeat B's sweep leaves it, and
    # the others hear it.
    gone = await applicant.until("peer-left")
    while gone["peer_id"] != res_w["peer_id"]:
        gone = await applicant.until("peer-left")
    assert time.monotonic() - killed < HEARTBEAT + 3
    assert (await mediator.until("peer-left"))["peer_id"] == res_w["peer_id"]

    started = time.monotonic()
    respondent, again = await _join(b, sid, tickets["respondent2"])
    assert time.monotonic() - started < 5
    assert again["peer_id"] == res_w["peer_id"] and again["state"] == "room"
    assert {p["peer_id"] for p in again["peers"]} == {med_w["peer_id"], app_w["peer_id"]}
    assert (await mediator.until("peer-joined"))["peer"]["peer_id"] == res_w["peer_id"]
    assert (await applicant.until("peer-joined"))["peer"]["peer_id"] == res_w["peer_id"]

    # Signals flow between all three again.
    await respondent.send({"type": "signal", "to": med_w["peer_id"], "data": {"back": 1}})
    assert (await mediator.until("signal"))["from"] == res_w["peer_id"]
    await mediator.send({"type": "end"})
    for peer in (mediator, applicant, respondent):
        await peer.until("ended")
        await peer.ws.close()
