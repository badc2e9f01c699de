"""The room as its last committed change left it, kept in the cache for a join's hot path
(issue 13: no database work before `welcome`).

The database stays the room's truth: every change locks the session row, computes the
room after it and writes it here after its commit (`remember`, handed to the event loop
with the change's deliveries, in commit order). A ticket join answers `welcome` from this
copy and the ticket alone, then does its database work; where the database's answer
differs (a change raced the join, the copy expired or was written out of order by
another process) the newcomer is sent the difference (`room.welcome_corrections`).

The cache is Redis with REDIS_URL (shared by every Daphne process, the same server as the
channel layer) and process memory otherwise (the embedded default, one process). Its
calls to Redis stay off the database thread (`in_cache`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.locmem import LocMemCache

from sessions.selectors import RoomSnapshot

KEY = "odr:room:{}"
RECORDING_KEY = "odr:room-recording:{}"
CLOSED_KEY = "odr:room-closed:{}"
# A day of sessions; a copy that expired only costs the next join a correction.
TIMEOUT = timedelta(hours=12).total_seconds()
T = TypeVar("T")


@dataclass(frozen=True)
class Mirrored:
    """What the cache holds of one room: its last snapshot (None when cold), whether a
    recording runs, and whether the room closed (its tickets open nothing)."""

    snapshot: RoomSnapshot | None
    recording: bool
    closed: bool


def remember(snapshot: RoomSnapshot, *, recording: bool | None = None) -> None:
    values: dict[str, object] = {KEY.format(snapshot.session_id): snapshot}
    if recording is not None:
        values[RECORDING_KEY.format(snapshot.session_id)] = recording
    cache.set_many(values, timeout=TIMEOUT)


def remember_closed(session_id: int) -> None:
    """The room closed: tickets issued before it open nothing (the hot path's side of
    `void_tickets`), for as long as such a ticket can live."""
    timeout = settings.ODR_ROOM_TICKET_TTL.total_seconds() + 120
    cache.set(CLOSED_KEY.format(session_id), 1, timeout=timeout)
    cache.delete(KEY.format(session_id))


def read(session_id: int) -> Mirrored:
    keys = [KEY.format(session_id), RECORDING_KEY.format(session_id), CLOSED_KEY.format(session_id)]
    found = cache.get_many(keys)
    snapshot = found.get(keys[0])
    return Mirrored(
        snapshot=snapshot if isinstance(snapshot, RoomSnapshot) else None,
        recording=bool(found.get(keys[1], False)),
        closed=keys[2] in found,
    )


async def in_cache(fn: Callable[..., T], *args: object, **kwargs: object) -> T:
    """Runs a cache call from the event loop: process memory directly (no I/O), Redis in
    a worker thread that is not the database's (thread_sensitive=False)."""
    if isinstance(caches["default"], LocMemCache):
        return fn(*args, **kwargs)
    return await sync_to_async(fn, thread_sensitive=False)(*args, **kwargs)
