"""The platform's channel layers (sessions.layers, issue 13): the embedded default's,
channels' in-memory layer with its O(connections) cleaning of expired messages run at
most once a second instead of at every receive and group send; with Redis, channels-redis'
pub/sub layer with its publishes pipelined instead of one round trip each under a lock."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest
import redis
from channels.layers import InMemoryChannelLayer as ChannelsInMemoryChannelLayer
from channels.layers import get_channel_layer
from django.conf import settings
from redis import asyncio as aioredis

from sessions.layers import InMemoryChannelLayer, RedisPubSubChannelLayer


def test_the_platform_runs_this_layer_without_redis():
    assert type(get_channel_layer()) is InMemoryChannelLayer


async def test_a_burst_of_messages_cleans_once_and_expired_messages_still_go(monkeypatch):
    cleanings: list[int] = []
    original = ChannelsInMemoryChannelLayer._clean_expired

    def counted(self) -> None:
        cleanings.append(1)
        original(self)

    monkeypatch.setattr(ChannelsInMemoryChannelLayer, "_clean_expired", counted)
    layer = InMemoryChannelLayer(expiry=60)
    channels = [await layer.new_channel() for _ in range(50)]
    for channel in channels:
        await layer.group_add("room-1", channel)
    for n in range(20):
        await layer.group_send("room-1", {"type": "room.send", "n": n})
    for channel in channels:
        for n in range(20):
            assert (await layer.receive(channel))["n"] == n
    # 20 group sends and 1000 receives: one walk over every channel, not 1020.
    assert len(cleanings) == 1
    # A message past its expiry is still dropped, at the next cleaning (a second later
    # at most), before a fresh one behind it is received.
    layer.expiry = -1
    await layer.send(channels[0], {"type": "room.send", "n": "stale"})
    layer.expiry = 60
    await layer.send(channels[0], {"type": "room.send", "n": "fresh"})
    assert len(cleanings) == 1
    layer._cleaned_at -= layer.clean_every
    assert (await layer.receive(channels[0]))["n"] == "fresh"
    assert len(cleanings) == 2


# --- Redis pub/sub (the platform's layer with REDIS_URL) ---------------------------------

REDIS_URL = "redis://127.0.0.1:6379/13"


@pytest.fixture
def pubsub_layer():
    redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    return RedisPubSubChannelLayer(hosts=[{"address": REDIS_URL}])


async def _pipelines_and_publishes(monkeypatch) -> tuple[list[int], list[int]]:
    pipelines: list[int] = []
    publishes: list[int] = []
    original_execute = aioredis.client.Pipeline.execute
    original_publish = aioredis.Redis.publish

    async def execute(self, *args, **kwargs):
        pipelines.append(len(self.command_stack))
        return await original_execute(self, *args, **kwargs)

    def publish(self, *args, **kwargs):
        # A pipeline queues its commands through the same method: only a publish of its
        # own (one round trip) counts.
        if not isinstance(self, aioredis.client.Pipeline):
            publishes.append(1)
        return original_publish(self, *args, **kwargs)

    monkeypatch.setattr(aioredis.client.Pipeline, "execute", execute)
    monkeypatch.setattr(aioredis.Redis, "publish", publish)
    return pipelines, publishes


def test_with_redis_the_platform_runs_the_pipelined_pubsub_layer():
    env = {k: v for k, v in os.environ.items() if k not in ("ODR_CHANNEL_LAYER",)}
    env.update(REDIS_URL=REDIS_URL, DJANGO_SETTINGS_MODULE="config.settings", DJANGO_DEBUG="1")
    shown = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); "
         "from channels.layers import get_channel_layer; "
         "layer = get_channel_layer(); print(type(layer).__module__, type(layer).__name__)"],
        env=env, capture_output=True, text=True, check=True, cwd=settings.BASE_DIR,
    )  # fmt: skip
    assert shown.stdout.split() == ["sessions.layers", "RedisPubSubChannelLayer"]


async def test_publishes_that_queue_together_go_in_one_round_trip_in_order(
    pubsub_layer, monkeypatch
):
    pipelines, publishes = await _pipelines_and_publishes(monkeypatch)
    receiver = await pubsub_layer.new_channel()
    other = await pubsub_layer.new_channel()
    await pubsub_layer.group_add("room-7", other)
    await asyncio.sleep(0.2)  # the subscribes reach Redis
    # One message alone goes at once, as a batch of one.
    await pubsub_layer.send(receiver, {"type": "room.send", "n": -1})
    assert pipelines == [1]
    # 60 sends and a group send asked for at once (a burst of relayed signals and a room
    # change's deliveries): two batches at most, each ONE round trip, and every caller
    # returns only once Redis has its message.
    await asyncio.gather(
        *(pubsub_layer.send(receiver, {"type": "room.send", "n": n}) for n in range(60)),
        pubsub_layer.group_send("room-7", {"type": "room.send", "n": "all"}),
    )
    assert sum(pipelines) == 62 and len(pipelines) <= 3
    assert publishes == []
    got = [(await asyncio.wait_for(pubsub_layer.receive(receiver), 5))["n"] for _ in range(61)]
    assert got == [-1, *range(60)]
    assert (await asyncio.wait_for(pubsub_layer.receive(other), 5))["n"] == "all"
    await pubsub_layer.flush()


async def test_a_cancelled_sender_does_not_take_the_others_messages_down(pubsub_layer):
    receiver = await pubsub_layer.new_channel()
    await asyncio.sleep(0.2)
    first = asyncio.ensure_future(pubsub_layer.send(receiver, {"type": "room.send", "n": 0}))
    rest = [
        asyncio.ensure_future(pubsub_layer.send(receiver, {"type": "room.send", "n": n}))
        for n in range(1, 5)
    ]
    await asyncio.sleep(0)
    first.cancel()
    await asyncio.gather(*rest)
    got = [(await asyncio.wait_for(pubsub_layer.receive(receiver), 5))["n"] for _ in range(4)]
    assert got[-4:] == [1, 2, 3, 4] or got == [0, 1, 2, 3]
    await pubsub_layer.flush()


async def test_a_failed_publish_reaches_every_caller_of_its_batch(pubsub_layer, monkeypatch):
    receiver = await pubsub_layer.new_channel()

    async def refused(self, *args, **kwargs):
        raise redis.ConnectionError("Redis went away")

    monkeypatch.setattr(aioredis.client.Pipeline, "execute", refused)
    results = await asyncio.gather(
        *(pubsub_layer.send(receiver, {"type": "room.send", "n": n}) for n in range(3)),
        return_exceptions=True,
    )
    assert [type(r) for r in results] == [redis.ConnectionError] * 3
    monkeypatch.undo()
    await pubsub_layer.send(receiver, {"type": "room.send", "n": "after"})
    assert (await asyncio.wait_for(pubsub_layer.receive(receiver), 5))["n"] == "after"
    await pubsub_layer.flush()


async def test_connections_arriving_together_subscribe_in_one_command(pubsub_layer, monkeypatch):
    calls: list[tuple[str, ...]] = []
    original = aioredis.client.PubSub.subscribe

    async def subscribe(self, *channels, **kwargs):
        calls.append(channels)
        return await original(self, *channels, **kwargs)

    monkeypatch.setattr(aioredis.client.PubSub, "subscribe", subscribe)
    # 40 connections open at once (each its own channel), then join their rooms' groups.
    channels = await asyncio.gather(*(pubsub_layer.new_channel() for _ in range(40)))
    await asyncio.gather(
        *(pubsub_layer.group_add(f"room-{n % 4}", c) for n, c in enumerate(channels))
    )
    assert sum(len(c) for c in calls) == 44 and len(calls) <= 4
    await asyncio.sleep(0.2)
    await pubsub_layer.group_send("room-1", {"type": "room.send", "n": 1})
    for channel in channels[1::4]:
        assert (await asyncio.wait_for(pubsub_layer.receive(channel), 5))["n"] == 1
    # The room's last member leaves (unsubscribed), a newcomer joins it again: it hears
    # the room (subscribed again, not taken for subscribed still).
    for channel in channels[2::4]:
        await pubsub_layer.group_discard("room-2", channel)
    again = await pubsub_layer.new_channel()
    await pubsub_layer.group_add("room-2", again)
    await asyncio.sleep(0.2)
    await pubsub_layer.group_send("room-2", {"type": "room.send", "n": 2})
    assert (await asyncio.wait_for(pubsub_layer.receive(again), 5))["n"] == 2
    await pubsub_layer.flush()


async def test_a_room_change_s_messages_go_in_one_round_trip_in_commit_order(
    pubsub_layer, monkeypatch
):
    from sessions import broadcast

    pipelines, publishes = await _pipelines_and_publishes(monkeypatch)
    monkeypatch.setattr(broadcast, "get_channel_layer", lambda: pubsub_layer)
    peers = [await pubsub_layer.new_channel() for _ in range(3)]
    for channel in peers:
        await pubsub_layer.group_add("room-9", channel)
    await asyncio.sleep(0.2)
    written: list[int] = []
    await broadcast.deliver(
        [
            broadcast.Delivery(message={"type": "knock", "n": 0}, channel=peers[0]),
            broadcast.Delivery(message={"type": "peer-joined", "n": 1}, group="room-9"),
            broadcast.Delivery(message={"type": "lobby", "n": 2}, channel=peers[0], reach={}),
            broadcast.CacheWrite(lambda: written.append(len(pipelines))),
            broadcast.Delivery(message={"type": "peer-left", "n": 3}, group="room-9"),
            broadcast.Delivery(message={"type": "ended", "n": 4}, channel=peers[1], close=4002),
        ]
    )
    # Two runs of messages around the room copy's write: two round trips, not five, and
    # the copy written after the first run was out.
    assert pipelines == [3, 2] and publishes == [] and written == [1]
    heard = [[] for _ in peers]
    for k, channel in enumerate(peers):
        while True:
            try:
                event = await asyncio.wait_for(pubsub_layer.receive(channel), 0.5)
            except TimeoutError:
                break
            heard[k].append(event["message"]["n"])
    assert heard == [[0, 1, 2, 3], [1, 3, 4], [1, 3]]
    await pubsub_layer.flush()
