"""Who is connected to a room, across Daphne processes: heartbeats with an expiry
(issue 13; DESIGN.md §1: nothing may assume one process).

A participant row says `connected` from its join to its leave; a process that dies
never runs the leave. So every process keeps, for each room connection it holds, the time
until which it is alive in the room store (sessions.mirror: Redis with REDIS_URL, shared
by every process, one sorted set; process memory otherwise), written for all of them at
once every heartbeat/6 seconds and lasting heartbeat/2 seconds. The
same task in every process sweeps: a participant marked connected whose connection's key
expired is left through `services.room_leave` (audited, and the others hear `peer-left`),
so nobody stays marked connected for more than `ODR_ROOM_HEARTBEAT_SECONDS` after their
process died (at most heartbeat/2 + two beats for a connection that had a beat: every
beat looks at the connections whose time ran out; at most a heartbeat for one whose
process died before its first beat: every heartbeat/2 the sweep reads every connected
participant, sparing a connection younger than heartbeat/2). A process keeps only the
names of its own open connections to refresh their keys (what it holds, not room state)."""

from __future__ import annotations

import asyncio
import logging
import math
import time
import weakref
from datetime import datetime, timedelta
from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone

from sessions import mirror, selectors, services
from sessions.broadcast import call_delivering

log = logging.getLogger(__name__)
# With Redis: ONE sorted set for every process, each connection's channel scored with the
# time (Unix seconds) its last beat lasts until. In process memory: a key per channel.
KEY = "odr:room-alive"
PROCESS_KEY = "odr:room-alive:{}"


# The whole sweep every this many beats (one expiry), the lapsed connections' at the others.
FULL_SWEEP_EVERY = 3


def beat_seconds() -> float:
    return settings.ODR_ROOM_HEARTBEAT_SECONDS / 6


def expiry_seconds() -> float:
    return settings.ODR_ROOM_HEARTBEAT_SECONDS / 2


def _shared() -> tuple[Any, str] | None:
    """The shared store's redis-py client and the set's key; None in process memory
    (the embedded default: one process, sessions.mirror's store)."""
    target = mirror.store()
    if mirror.in_process():
        return None
    return target._cache.get_client(write=True), target.make_and_validate_key(KEY)


def mark_alive(channels: list[str]) -> None:
    """These connections live for another expiry. On Redis one ZADD for all of them
    (and the entries of connections no beat kept alive, dropped), where it was a SET
    with an expiry per connection through Django's cache: at 999 connections a beat
    held the interpreter long enough to stall the event loop every beat (issue 13:
    bench/signaling's relay p99 on pub/sub 57 ms, 8 ms without beats)."""
    if not channels:
        return
    found = _shared()
    if found is None:
        mirror.store().set_many(
            {PROCESS_KEY.format(c): 1 for c in channels}, timeout=expiry_seconds()
        )
        return
    client, key = found
    now = time.time()
    with client.pipeline(transaction=False) as pipe:
        pipe.zadd(key, dict.fromkeys(channels, now + expiry_seconds()))
        pipe.zremrangebyscore(key, "-inf", now - expiry_seconds())
        # Gone with the last process that beats.
        pipe.expire(key, max(1, math.ceil(settings.ODR_ROOM_HEARTBEAT_SECONDS)))
        pipe.execute()


def alive(channels: list[str]) -> set[str]:
    if not channels:
        return set()
    found = _shared()
    if found is None:
        got = mirror.store().get_many([PROCESS_KEY.format(c) for c in channels])
        return {c for c in channels if PROCESS_KEY.format(c) in got}
    client, key = found
    now = time.time()
    scores = client.zmscore(key, channels)
    return {
        c for c, until in zip(channels, scores, strict=True) if until is not None and until > now
    }


def mark_gone(channel: str) -> None:
    found = _shared()
    if found is None:
        mirror.store().delete(PROCESS_KEY.format(channel))
        return
    client, key = found
    client.zrem(key, channel)


def lapsed() -> list[str]:
    """The connections whose last beat ran out (on Redis; none in process memory, one
    process, which holds every connection there is)."""
    found = _shared()
    if found is None:
        return []
    client, key = found
    return [c.decode() for c in client.zrangebyscore(key, "-inf", time.time())]


def sweep(
    *, now: datetime | None = None, channels: list[str] | None = None
) -> list[selectors.ConnectedPeer]:
    """The participants marked connected whose connection no process holds any more.
    A connection younger than the expiry is spared: its process writes its key at its
    next beat (nothing is written on the way in, so a burst of joins costs no cache
    round trip each). `channels`: only those connections (`lapsed`)."""
    now = now or timezone.now()
    connected = selectors.connected_peers(
        joined_before=now - timedelta(seconds=expiry_seconds()), channels=channels
    )
    live = alive([p.channel_name for p in connected])
    return [p for p in connected if p.channel_name not in live]


class Heartbeat:
    """One per event loop (a Daphne process has one): the open connections it holds.

    The beat and the sweep are two tasks: the sweep waits for the database thread, which
    a burst of joins keeps busy for many seconds, and the beat must not wait behind it
    (its keys would expire and another process would take live connections for gone)."""

    def __init__(self) -> None:
        self.channels: set[str] = set()
        self.started = time.monotonic()
        loop = asyncio.get_running_loop()
        self.tasks = (loop.create_task(self.beating()), loop.create_task(self.sweeping()))

    async def beating(self) -> None:
        while True:
            await asyncio.sleep(beat_seconds())
            try:
                # The cache is not the database: its calls stay off the database thread.
                await sync_to_async(mark_alive, thread_sensitive=False)(sorted(self.channels))
            except Exception as exc:  # noqa: BLE001 - a failed beat is retried at the next
                log.warning("room heartbeat failed: %s", exc)

    async def sweeping(self) -> None:
        # A process that just started holds keys younger than the others' expiry: it
        # sweeps once it has seen a full expiry pass.
        await asyncio.sleep(expiry_seconds())
        beats = 0
        while True:
            try:
                # Every connected participant once an expiry (a connection whose process
                # died before its first beat has no entry to run out), else only those
                # whose beats ran out: the whole sweep reads every connected row in the
                # database thread, and at 999 connections it stalled the event loop
                # (issue 13: relay p99 on pub/sub 57 ms, 8 ms without it).
                await self.sweep(full=beats % FULL_SWEEP_EVERY == 0)
            except Exception as exc:  # noqa: BLE001 - a failed sweep is retried at the next
                log.warning("room presence sweep failed: %s", exc)
            beats += 1
            await asyncio.sleep(beat_seconds())

    async def sweep(self, *, full: bool = True) -> None:
        channels = None
        if not full:
            found = await sync_to_async(lapsed, thread_sensitive=False)()
            channels = [c for c in found if c not in self.channels]
            if not channels:
                return
        for gone in await database_sync_to_async(sweep)(channels=channels):
            # Never one of ours: this process knows its own connections are open.
            if gone.channel_name in self.channels:
                continue
            # Worth a warning: a process died, or a live process's beat came too late.
            log.warning("room %s: peer %s's connection is gone", gone.session_id, gone.peer_id)
            await call_delivering(
                services.room_leave,
                session_id=gone.session_id,
                peer_id=gone.peer_id,
                channel_name=gone.channel_name,
            )


_heartbeats: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Heartbeat] = (
    weakref.WeakKeyDictionary()
)


def _heartbeat() -> Heartbeat:
    loop = asyncio.get_running_loop()
    beat = _heartbeats.get(loop)
    if beat is None:
        beat = _heartbeats[loop] = Heartbeat()
    return beat


def hold(channel: str) -> None:
    """This process holds the connection; its key is written at the next beat."""
    _heartbeat().channels.add(channel)


def release(channel: str) -> None:
    """This process no longer holds the connection (its leave ran, or it was refused);
    its key expires by itself."""
    _heartbeat().channels.discard(channel)
