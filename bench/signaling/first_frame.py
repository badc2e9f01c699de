"""Join-to-first-frame for aiortc peers on one Daphne process.

For each room: the mediator is in; a party asks for a ticket, connects, waits in the lobby,
is admitted, calls the mediator (the newcomer calls) and decodes the mediator's first
video frame. Printed: the whole join-to-first-frame time and its parts, over all rooms.

    .venv/bin/python bench/signaling/first_frame.py --rooms 10 --parallel 2
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DJANGO_DEBUG", "1")
os.environ.setdefault("ODR_LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from tests.sessions.support.liveserver import LiveServer  # noqa: E402
from tests.sessions.support.scripted_peer import ScriptedPeer  # noqa: E402

PASSWORD = os.environ.get("ODR_DEMO_PASSWORD", "odr-demo-2026")


async def one_room(base_url: str, session_id: int) -> dict[str, float]:
    mediator = ScriptedPeer(
        base_url=base_url, email="mediator@demo.odr", password=PASSWORD, session_id=session_id
    )
    party = ScriptedPeer(
        base_url=base_url, email="citizen1@demo.odr", password=PASSWORD, session_id=session_id
    )
    try:
        await mediator.login()
        await party.login()
        await mediator.connect()
        t0 = time.monotonic()
        await party.connect()  # ticket, WebSocket, welcome (lobby)
        t_welcome = time.monotonic()
        knock = await mediator.wait_for("knock")
        await mediator.send({"type": "admit", "peer_id": knock["peer"]["peer_id"]})
        await party.wait_for("admitted")
        t_admitted = time.monotonic()
        await party.wait_frames(mediator.peer_id, 1, within=60)
        await mediator.wait_frames(party.peer_id, 1, within=60)
        link_p = party.links[mediator.peer_id]
        link_m = mediator.links[party.peer_id]
        return {
            "connect_ms": (t_welcome - t0) * 1000,
            "admit_ms": (t_admitted - t_welcome) * 1000,
            "media_ms": (link_p.first_frame_at - t_admitted) * 1000,
            "first_frame_ms": (link_p.first_frame_at - t0) * 1000,
            "mediator_first_frame_ms": (link_m.first_frame_at - t0) * 1000,
        }
    finally:
        await party.close()
        await mediator.close()


def summary(name: str, values: list[float]) -> str:
    values = sorted(values)
    p90 = values[min(len(values) - 1, round(0.9 * (len(values) - 1)))]
    return (
        f"{name:<26} median {statistics.median(values):8.1f} ms   p90 {p90:8.1f} ms   "
        f"min {values[0]:8.1f} ms   max {values[-1]:8.1f} ms"
    )


async def run(base_url: str, ids: list[int], parallel: int) -> list[dict[str, float]]:
    gate = asyncio.Semaphore(parallel)

    async def guarded(sid: int) -> dict[str, float]:
        async with gate:
            return await one_room(base_url, sid)

    return await asyncio.gather(*(guarded(sid) for sid in ids))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=int, default=10)
    parser.add_argument("--parallel", type=int, default=1, help="rooms joining at once")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="odr-first-frame-") as tmp:
        server = LiveServer(Path(tmp))
        print("preparing a database and starting Daphne…", file=sys.stderr)
        server.prepare()
        ids = server.create_sessions([{} for _ in range(args.rooms + 1)])
        server.start()
        try:
            asyncio.run(run(server.base_url, ids[:1], 1))  # warm-up (imports, first codec)
            started = time.monotonic()
            results = asyncio.run(run(server.base_url, ids[1:], args.parallel))
            wall = time.monotonic() - started
        finally:
            server.stop()
    print(
        f"join-to-first-frame, aiortc peers, {args.rooms} rooms, {args.parallel} at once "
        f"(one Daphne process, SQLite, in-memory channel layer), {wall:.1f} s in all"
    )
    for key, label in [
        ("connect_ms", "ticket + socket + welcome"),
        ("admit_ms", "lobby until admitted"),
        ("media_ms", "admitted to first frame"),
        ("first_frame_ms", "join to first frame"),
        ("mediator_first_frame_ms", "join to mediator's frame"),
    ]:
        print(summary(label, [r[key] for r in results]))


if __name__ == "__main__":
    main()
