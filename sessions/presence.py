"""Who is connected to a room, across Daphne processes: heartbeats with an expiry
(issue 13; DESIGN.md §1: nothing may assume one process).

A participant row says `connected` from its join to its leave; a process that dies
never runs the leave. So every process keeps a key with an expiry in the cache (Redis
with REDIS_URL, shared by every process) for each room connection it holds, written for
all of them at once every heartbeat/6 seconds and lasting heartbeat/2 seconds. The
same task in every process sweeps: a participant marked connected whose connection's key
expired is left through `services.room_leave` (audited, and the others hear `peer-left`),
so nobody stays marked connected for more than `ODR_ROOM_HEARTBEAT_SECONDS` after their
process died (at most heartbeat/2 + two beats; a connection younger than heartbeat/2 is
not swept before its first beat). A process keeps only the names of its own
open connections to refresh their keys (what it holds, not room state)."""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from datetime import datetime, timedelta

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from sessions import selectors, services
from sessions.broadcast import call_delivering

log = logging.getLogger(__name__)
KEY = "odr:room-alive:{}"


def beat_seconds() -> float:
    return settings.ODR_ROOM_HEARTBEAT_SECONDS / 6


def expiry_seconds() -> float:
    return settings.ODR_ROOM_HEARTBEAT_SECONDS / 2


def mark_alive(channels: list[str]) -> None:
    if channels:
        cache.set_many({KEY.format(c): 1 for c in channels}, timeout=expiry_seconds())


def alive(channels: list[str]) -> set[str]:
    found = cache.get_many([KEY.format(c) for c in channels])
    return {c for c in channels if KEY.format(c) in found}


def mark_gone(channel: str) -> None:
    cache.delete(KEY.format(channel))


def sweep(*, now: datetime | None = None) -> list[selectors.ConnectedPeer]:
    """The participants marked connected whose connection no process holds any more.
    A connection younger than the expiry is spared: its process writes its key at its
    next beat (nothing is written on the way in, so a burst of joins costs no cache
    round trip each)."""
    now = now or timezone.now()
    connected = selectors.connected_peers(joined_before=now - timedelta(seconds=expiry_seconds()))
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
        while True:
            try:
                await self.sweep()
            except Exception as exc:  # noqa: BLE001 - a failed sweep is retried at the next
                log.warning("room presence sweep failed: %s", exc)
            await asyncio.sleep(beat_seconds())

    async def sweep(self) -> None:
        for gone in await database_sync_to_async(sweep)():
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
