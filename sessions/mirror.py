"""The room as its last committed change left it, kept in the cache for a join's hot path
(issue 13: no database work before `welcome`).

The database stays the room's truth: every change locks the session row, computes the
room after it and writes it here after its commit (`remember`, handed to the event loop
with the change's deliveries, in commit order). A ticket join answers `welcome` from this
copy and the ticket alone, then does its database work; where the database's answer
differs (a change raced the join, the copy expired or was written out of order by
another process) the newcomer is sent the difference (`room.welcome_corrections`).

The store is Redis with REDIS_URL (Django's cache: shared by every Daphne process, the
same server as the channel layer) and process memory otherwise (the embedded default,
one process: `ProcessStore`). Its calls to Redis stay off the database thread
(`in_cache`); the hot ones run on the event loop without a thread, batched into one
round trip with the others of the moment (`add_and_read` for a ticket's join,
`remember_on_loop` for the deliverer). The marks of spent tickets live in the same store
(services.access)."""

from __future__ import annotations

import asyncio
import functools
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisSerializer
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string
from redis import asyncio as aioredis

from sessions.layers import RedisBatches
from sessions.selectors import RoomSnapshot

KEY = "odr:room:{}"
RECORDING_KEY = "odr:room-recording:{}"
CLOSED_KEY = "odr:room-closed:{}"
# A day of sessions; a copy that expired only costs the next join a correction.
TIMEOUT = timedelta(hours=12).total_seconds()
T = TypeVar("T")


class ProcessStore:
    """The embedded default's store (one process, no Redis): a dict with expiries. Not
    Django's LocMemCache, which culls a third of its entries once it holds 300: a burst
    of joins would evict the marks of spent tickets and the rooms' copies."""

    def __init__(self) -> None:
        self.data: dict[str, tuple[float, object]] = {}
        self.lock = threading.Lock()
        self.writes = 0

    def _prune(self, now: float) -> None:
        # Now and then, not at every write: expired entries only take room.
        self.writes += 1
        if self.writes % 1000 == 0:
            self.data = {k: v for k, v in self.data.items() if v[0] > now}

    def add(self, key: str, value: object, timeout: float) -> bool:
        now = time.monotonic()
        with self.lock:
            found = self.data.get(key)
            if found is not None and found[0] > now:
                return False
            self.data[key] = (now + timeout, value)
            self._prune(now)
            return True

    def set_many(self, values: dict[str, object], timeout: float) -> None:
        now = time.monotonic()
        with self.lock:
            for key, value in values.items():
                self.data[key] = (now + timeout, value)
            self._prune(now)

    def get_many(self, keys: list[str]) -> dict[str, object]:
        now = time.monotonic()
        with self.lock:
            return {k: v[1] for k in keys if (v := self.data.get(k)) is not None and v[0] > now}

    def delete(self, key: str) -> None:
        with self.lock:
            self.data.pop(key, None)

    def clear(self) -> None:
        with self.lock:
            self.data.clear()


_process = ProcessStore()
_shared: BaseCache | None = None


def store() -> ProcessStore | BaseCache:
    """Redis (Django's cache) when the cache is shared by every process; process memory
    on the embedded default (LocMemCache configured: one process).

    One backend object for the whole process, not `caches["default"]`: Django keeps its
    cache objects per context (asgiref's Local), and each room connection is a task of
    its own, so every connection that reached the cache made and kept its own Redis
    client, connection pool and socket (issue 13: most of the pub/sub layer's memory per
    connection above the in-memory layer's, and a Redis connection per participant).
    Django's Redis client is a redis-py connection pool, safe to share across threads."""
    global _shared
    if _in_process(settings.CACHES["default"]["BACKEND"]):
        return _process
    if _shared is None:
        _shared = caches.create_connection("default")
    return _shared


def in_process() -> bool:
    """The store is this process's memory (the embedded default): its calls do no I/O."""
    return store() is _process


@functools.cache
def _in_process(backend: str) -> bool:
    return issubclass(import_string(backend), LocMemCache)


@receiver(setting_changed)
def _cache_changed(*, setting: str, **kwargs: object) -> None:
    global _shared
    if setting == "CACHES":
        _shared = None
        _batches.clear()


def forget_all() -> None:
    """Tests: every room copy and spent ticket of this process, gone."""
    _process.clear()


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
    store().set_many(values, timeout=TIMEOUT)


async def remember_on_loop(snapshot: RoomSnapshot, *, recording: bool | None = None) -> None:
    """`remember` from the event loop (the process's deliverer, issue 13): process
    memory directly; Redis without a worker thread, in one round trip with the other
    copies written at the same time (`RedisBatches`), as Django's cache writes them."""
    target = store()
    if target is _process:
        remember(snapshot, recording=recording)
        return
    values: dict[str, object] = {KEY.format(snapshot.session_id): snapshot}
    if recording is not None:
        values[RECORDING_KEY.format(snapshot.session_id)] = recording
    await _batches_for(target).run(
        *(
            ("set", (target.make_and_validate_key(k), _serializer.dumps(v)), {"ex": int(TIMEOUT)})
            for k, v in values.items()
        )
    )


def remember_closed(session_id: int) -> None:
    """The room closed: tickets issued before it open nothing (the hot path's side of
    `void_tickets`), for as long as such a ticket can live."""
    timeout = settings.ODR_ROOM_TICKET_TTL.total_seconds() + 120
    target = store()
    target.set_many({CLOSED_KEY.format(session_id): 1}, timeout=timeout)
    target.delete(KEY.format(session_id))


def forget(session_id: int) -> None:
    """The room's copy, gone (as after an eviction or a restarted Redis)."""
    store().delete(KEY.format(session_id))


def _keys(session_id: int) -> list[str]:
    return [KEY.format(session_id), RECORDING_KEY.format(session_id), CLOSED_KEY.format(session_id)]


def _mirrored(keys: list[str], found: dict[str, object]) -> Mirrored:
    snapshot = found.get(keys[0])
    return Mirrored(
        snapshot=snapshot if isinstance(snapshot, RoomSnapshot) else None,
        recording=bool(found.get(keys[1], False)),
        closed=keys[2] in found,
    )


NOTHING = Mirrored(snapshot=None, recording=False, closed=False)


def read(session_id: int) -> Mirrored:
    keys = _keys(session_id)
    return _mirrored(keys, store().get_many(keys))


async def add_and_read(key: str, *, ttl: int, session_id: int) -> tuple[bool, Mirrored]:
    """A ticket's join's one trip to the store (issue 13): `key` added unless present
    (the ticket spent: True for the first caller only), and the room's copy read
    (NOTHING when the key was there). From the event loop, no thread: process memory
    directly; Redis in ONE round trip (SET NX EX and MGET in a pipeline, with whatever
    other joins asked for at the same time: `RedisBatches`), the keys and values as
    Django's Redis cache writes and reads them (`remember` writes through it)."""
    target = store()
    keys = _keys(session_id)
    if target is _process:
        if not target.add(key, 1, ttl):
            return False, NOTHING
        return True, _mirrored(keys, target.get_many(keys))
    made = [target.make_and_validate_key(k) for k in (key, *keys)]
    added, values = await _batches_for(target).run(
        ("set", (made[0], _serializer.dumps(1)), {"nx": True, "ex": ttl}),
        ("mget", (made[1:],), {}),
    )
    if not added:
        return False, NOTHING
    found = {k: _serializer.loads(v) for k, v in zip(keys, values, strict=True) if v is not None}
    return True, _mirrored(keys, found)


# Django's Redis cache's own (de)serializer, as it is configured here (no OPTIONS).
_serializer = RedisSerializer()
_batches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, RedisBatches] = (
    weakref.WeakKeyDictionary()
)


def _batches_for(target: BaseCache) -> RedisBatches:
    """The event loop's client of the cache's Redis server, its commands batched."""
    loop = asyncio.get_running_loop()
    batches = _batches.get(loop)
    if batches is None:
        location = target._servers[0]
        client = aioredis.Redis.from_url(location)
        batches = _batches[loop] = RedisBatches(lambda: client)
    return batches


async def in_cache(fn: Callable[..., T], *args: object, **kwargs: object) -> T:
    """Runs a store call from the event loop: process memory directly (no I/O), Redis in
    a worker thread that is not the database's (thread_sensitive=False)."""
    if in_process():
        return fn(*args, **kwargs)
    return await sync_to_async(fn, thread_sensitive=False)(*args, **kwargs)
