"""A ticket's join spends its ticket and reads the room's copy in ONE trip to the store,
from the event loop (issue 13): on Redis one pipelined round trip, shared with the joins
that arrive at the same time, and no worker thread; in process memory, directly."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis
from django.core.cache.backends.redis import RedisCache
from redis import asyncio as aioredis

from sessions import mirror, services
from sessions.selectors import RoomSnapshot

LOCATION = "redis://127.0.0.1:6379/13"


def claims(session_id: int, nonce: str) -> services.TicketClaims:
    return services.TicketClaims(
        session_id=session_id,
        user_id=1,
        peer_id=f"p-{nonce}",
        role="applicant",
        name="A",
        expires=time.time() + 300,
        nonce=nonce,
        mfa_held=False,
        totp_on=False,
    )


@pytest.fixture
def on_redis(settings):
    client = redis.Redis.from_url(LOCATION, socket_connect_timeout=3)
    client.flushdb()
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": LOCATION}
    }
    yield client
    client.flushdb()


async def test_on_redis_joins_arriving_together_spend_and_read_in_one_round_trip(
    on_redis, monkeypatch
):
    snapshot = RoomSnapshot(session_id=41, status="live", caucus=frozenset())
    # Written as the services write it after a change's commit: Django's Redis cache.
    monkeypatch.undo()
    mirror.remember(snapshot, recording=True)
    mirror.remember(RoomSnapshot(session_id=42, status="scheduled", caucus=frozenset()))
    mirror.remember_closed(43)
    sent = []
    original = aioredis.client.Pipeline.execute

    async def execute(self, *args, **kwargs):
        sent.append(len(self.command_stack))
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(aioredis.client.Pipeline, "execute", execute)
    monkeypatch.setattr(RedisCache, "add", None)
    monkeypatch.setattr(RedisCache, "get_many", None)

    answers = await asyncio.gather(
        *(services.ticket_spend_and_read(claims(41 + n % 3, f"n{n}")) for n in range(30))
    )
    # 30 joins, two commands each (SET NX EX, MGET): at most three round trips.
    assert sum(sent) == 60 and len(sent) <= 3
    for n, (spent, found) in enumerate(answers):
        assert spent is True
        if n % 3 == 0:
            assert (found.snapshot, found.recording, found.closed) == (snapshot, True, False)
        elif n % 3 == 1:
            assert found.snapshot.status == "scheduled" and not found.recording
        else:
            assert (found.snapshot, found.closed) == (None, True)
    # Spent once: a second try, here or through another process's cache, is refused
    # and reads nothing.
    spent, found = await services.ticket_spend_and_read(claims(41, "n0"))
    assert (spent, found) == (False, mirror.NOTHING)
    monkeypatch.undo()
    assert RedisCache(LOCATION, {}).add(services.access.USED_KEY.format("n3"), 1) is False
    assert RedisCache(LOCATION, {}).add(services.access.USED_KEY.format("fresh"), 1) is True
    [ttl] = {on_redis.ttl(k) for k in on_redis.keys("*ticket-used:n3")}
    assert 300 < ttl <= 361


async def test_a_ticket_spent_through_django_s_cache_is_refused_on_the_event_loop(on_redis):
    assert services.ticket_spend(claims(7, "once")) is True
    spent, found = await services.ticket_spend_and_read(claims(7, "once"))
    assert (spent, found) == (False, mirror.NOTHING)


async def test_in_process_memory_the_ticket_is_spent_without_a_thread_or_redis(monkeypatch):
    def no_thread(*args, **kwargs):
        raise AssertionError("no thread, no Redis on the embedded default")

    monkeypatch.setattr(mirror, "sync_to_async", no_thread)
    monkeypatch.setattr(aioredis.client.Pipeline, "execute", no_thread)
    snapshot = RoomSnapshot(session_id=5, status="live", caucus=frozenset())
    mirror.remember(snapshot)
    assert await services.ticket_spend_and_read(claims(5, "a")) == (
        True,
        mirror.Mirrored(snapshot=snapshot, recording=False, closed=False),
    )
    assert await services.ticket_spend_and_read(claims(5, "a")) == (False, mirror.NOTHING)
