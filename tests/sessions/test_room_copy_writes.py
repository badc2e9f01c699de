"""The rooms' copies (sessions.mirror) written by the process's deliverer from the event
loop (issue 13): on Redis without a worker thread, the copies a batch of joins writes in
one round trip, readable by Django's cache as before; elsewhere through `in_cache`."""

from __future__ import annotations

import redis
from django.core.cache.backends.redis import RedisCache
from redis import asyncio as aioredis

from sessions import broadcast, mirror
from sessions.selectors import RoomSnapshot

LOCATION = "redis://127.0.0.1:6379/13"


def _on_redis(settings) -> redis.Redis:
    client = redis.Redis.from_url(LOCATION, socket_connect_timeout=3)
    client.flushdb()
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": LOCATION}
    }
    return client


def _copy(session_id: int, recording: bool | None) -> broadcast.CacheWrite:
    snapshot = RoomSnapshot(session_id=session_id, status="live", caucus=frozenset())
    return broadcast.CacheWrite(
        lambda: mirror.remember(snapshot, recording=recording),
        write_on_loop=lambda: mirror.remember_on_loop(snapshot, recording=recording),
    )


async def test_the_deliverer_writes_a_batch_s_room_copies_in_one_round_trip(settings, monkeypatch):
    client = _on_redis(settings)
    try:
        sent: list[int] = []
        original = aioredis.client.Pipeline.execute

        async def execute(self, *args, **kwargs):
            sent.append(len(self.command_stack))
            return await original(self, *args, **kwargs)

        def no_thread(*args, **kwargs):
            raise AssertionError("a worker thread wrote a copy")

        monkeypatch.setattr(aioredis.client.Pipeline, "execute", execute)
        monkeypatch.setattr(mirror, "sync_to_async", no_thread)
        await broadcast.deliver([_copy(n, n == 3 or None) for n in range(1, 6)], on_loop=True)
        # Five rooms' copies and one recording flag: one round trip, six SETs.
        assert sent == [6]
        monkeypatch.undo()
        for n in range(1, 6):
            found = mirror.read(n)
            assert found.snapshot.session_id == n and found.recording is (n == 3)
        other_process = RedisCache(LOCATION, {})
        assert other_process.get(mirror.KEY.format(2)).status == "live"
        assert 0 < client.ttl(f":1:{mirror.KEY.format(4)}") <= mirror.TIMEOUT
    finally:
        client.flushdb()


async def test_elsewhere_the_copies_are_written_through_in_cache(settings, monkeypatch):
    """`deliver` from a short-lived loop (`async_to_sync` of a page or the API) keeps
    the worker thread: a client made on that loop would outlive it."""
    client = _on_redis(settings)
    try:

        async def refused(*args, **kwargs):
            raise AssertionError("written from a short-lived loop")

        monkeypatch.setattr(mirror, "remember_on_loop", refused)
        await broadcast.deliver([_copy(7, None)])
        assert mirror.read(7).snapshot.session_id == 7
    finally:
        client.flushdb()


async def test_in_process_memory_the_copies_are_written_in_place_without_tasks(monkeypatch):
    """The embedded default's store does no I/O: a batch's copies are written one after
    the other where the deliverer is, not a task each."""
    import asyncio

    def no_task(*args, **kwargs):
        raise AssertionError("a task or a thread for a write to process memory")

    monkeypatch.setattr(asyncio, "gather", no_task)
    monkeypatch.setattr(mirror, "sync_to_async", no_task)
    await broadcast.deliver([_copy(n, None) for n in (11, 12)], on_loop=True)
    assert [mirror.read(n).snapshot.session_id for n in (11, 12)] == [11, 12]
