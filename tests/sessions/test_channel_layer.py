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


@pytest.fixture
def other_process():
    """A second layer object: a second Daphne process's layer (its own subscriber
    connection and its own channel names)."""
    return RedisPubSubChannelLayer(hosts=[{"address": REDIS_URL}])


async def test_publishes_that_queue_together_go_in_one_round_trip_in_order(
    pubsub_layer, other_process, monkeypatch
):
    pipelines, publishes = await _pipelines_and_publishes(monkeypatch)
    # The receivers are another process's: what is sent to them goes through Redis.
    receiver = await other_process.new_channel()
    other = await other_process.new_channel()
    await other_process.group_add("room-7", other)
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
    got = [(await asyncio.wait_for(other_process.receive(receiver), 5))["n"] for _ in range(61)]
    assert got == [-1, *range(60)]
    assert (await asyncio.wait_for(other_process.receive(other), 5))["n"] == "all"
    await pubsub_layer.flush()
    await other_process.flush()


async def test_a_cancelled_sender_does_not_take_the_others_messages_down(
    pubsub_layer, other_process
):
    receiver = await other_process.new_channel()
    first = asyncio.ensure_future(pubsub_layer.send(receiver, {"type": "room.send", "n": 0}))
    rest = [
        asyncio.ensure_future(pubsub_layer.send(receiver, {"type": "room.send", "n": n}))
        for n in range(1, 5)
    ]
    await asyncio.sleep(0)
    first.cancel()
    await asyncio.gather(*rest)
    got = [(await asyncio.wait_for(other_process.receive(receiver), 5))["n"] for _ in range(4)]
    assert got[-4:] == [1, 2, 3, 4] or got == [0, 1, 2, 3]
    await pubsub_layer.flush()
    await other_process.flush()


async def test_a_failed_publish_reaches_every_caller_of_its_batch(
    pubsub_layer, other_process, monkeypatch
):
    receiver = await other_process.new_channel()

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
    assert (await asyncio.wait_for(other_process.receive(receiver), 5))["n"] == "after"
    await pubsub_layer.flush()
    await other_process.flush()


def _count_subscribes(monkeypatch) -> list[tuple[str, tuple[str, ...]]]:
    calls: list[tuple[str, tuple[str, ...]]] = []
    for name in ("subscribe", "psubscribe"):
        original = getattr(aioredis.client.PubSub, name)

        async def counted(self, *channels, _name=name, _original=original, **kwargs):
            calls.append((_name, channels))
            return await _original(self, *channels, **kwargs)

        monkeypatch.setattr(aioredis.client.PubSub, name, counted)
    return calls


async def test_a_process_s_connections_share_one_subscription_and_rooms_subscribe_together(
    pubsub_layer, other_process, monkeypatch
):
    calls = _count_subscribes(monkeypatch)
    # 40 connections open at once (each its own channel): ONE pattern subscription for
    # the process, made by the first; then they join their rooms' groups: one SUBSCRIBE
    # for the four groups (at most a few), and a group subscribed already costs nothing.
    channels = await asyncio.gather(*(pubsub_layer.new_channel() for _ in range(40)))
    assert [name for name, _ in calls] == ["psubscribe"]
    await asyncio.gather(
        *(pubsub_layer.group_add(f"room-{n % 4}", c) for n, c in enumerate(channels))
    )
    assert sum(len(c) for name, c in calls if name == "subscribe") == 4 and len(calls) <= 4
    before = len(calls)
    late = await pubsub_layer.new_channel()
    await pubsub_layer.group_add("room-3", late)
    assert len(calls) == before
    # Subscribed means confirmed: another process's messages sent right after are heard.
    await other_process.group_send("room-1", {"type": "room.send", "n": 1})
    for channel in channels[1::4]:
        assert (await asyncio.wait_for(pubsub_layer.receive(channel), 5))["n"] == 1
    await other_process.send(channels[0], {"type": "room.send", "n": "direct"})
    assert (await asyncio.wait_for(pubsub_layer.receive(channels[0]), 5))["n"] == "direct"
    # The room's last member leaves (unsubscribed), a newcomer joins it again: it hears
    # the room (subscribed again, not taken for subscribed still).
    for channel in channels[2::4]:
        await pubsub_layer.group_discard("room-2", channel)
    again = await pubsub_layer.new_channel()
    await pubsub_layer.group_add("room-2", again)
    await other_process.group_send("room-2", {"type": "room.send", "n": 2})
    assert (await asyncio.wait_for(pubsub_layer.receive(again), 5))["n"] == 2
    # A connection that closed (its receive cancelled) gets nothing more; the others do.
    gone = asyncio.ensure_future(pubsub_layer.receive(channels[3]))
    await asyncio.sleep(0)
    gone.cancel()
    await other_process.group_send("room-3", {"type": "room.send", "n": 3})
    assert (await asyncio.wait_for(pubsub_layer.receive(late), 5))["n"] == 3
    assert channels[3] not in pubsub_layer._get_layer().channels
    await pubsub_layer.flush()
    await other_process.flush()


async def test_a_subscribe_returns_once_redis_has_it(pubsub_layer, other_process, monkeypatch):
    # A slow link: what the subscriber connection sends reaches Redis 50 ms later (in
    # order). A group joined is heard at once all the same.
    original = aioredis.client.PubSub.execute_command
    tails: dict[int, asyncio.Future] = {}

    async def slow(self, *args):
        before = tails.get(id(self))

        async def later():
            if before is not None:
                await before
            await asyncio.sleep(0.05)
            await original(self, *args)

        tails[id(self)] = asyncio.ensure_future(later())

    monkeypatch.setattr(aioredis.client.PubSub, "execute_command", slow)
    channel = await pubsub_layer.new_channel()
    await pubsub_layer.group_add("room-4", channel)
    await other_process.group_send("room-4", {"type": "room.send", "n": 4})
    await other_process.send(channel, {"type": "room.send", "n": 5})
    assert (await asyncio.wait_for(pubsub_layer.receive(channel), 5))["n"] == 4
    assert (await asyncio.wait_for(pubsub_layer.receive(channel), 5))["n"] == 5
    await pubsub_layer.flush()
    await other_process.flush()


async def test_sends_between_one_process_s_connections_skip_redis_and_keep_their_order(
    pubsub_layer, other_process, monkeypatch
):
    from sessions import broadcast

    pipelines, publishes = await _pipelines_and_publishes(monkeypatch)
    monkeypatch.setattr(broadcast, "get_channel_layer", lambda: pubsub_layer)
    # The process reads its messages from Redis late (a busy event loop): what it sends
    # in process must still wait for them.
    original_parse = aioredis.client.PubSub.parse_response

    async def late(self, *args, **kwargs):
        response = await original_parse(self, *args, **kwargs)
        await asyncio.sleep(0.05)
        return response

    monkeypatch.setattr(aioredis.client.PubSub, "parse_response", late)
    a, b = await pubsub_layer.new_channel(), await pubsub_layer.new_channel()
    for channel in (a, b):
        await pubsub_layer.group_add("room-5", channel)
    # A relayed signal between two peers of this process: no round trip through Redis.
    await pubsub_layer.send(b, {"type": "room.signal", "n": 0})
    await pubsub_layer.send(b, {"type": "room.signal", "n": 1})
    assert pipelines == [] and publishes == []
    assert [(await pubsub_layer.receive(b))["n"] for _ in range(2)] == [0, 1]
    # A room change's messages go through Redis (the room's other peers may be on other
    # processes); a signal sent once they are out arrives after them, never before.
    for n in range(5):
        await broadcast.deliver(
            [
                broadcast.Delivery(message={"type": "peer-joined", "n": f"joined-{n}"}, channel=b),
                broadcast.Delivery(message={"type": "chat", "n": f"room-{n}"}, group="room-5"),
            ]
        )
        await pubsub_layer.send(b, {"type": "room.signal", "n": f"signal-{n}"})
    # So does a signal sent after another process's message to this one was heard.
    await other_process.send(b, {"type": "room.send", "n": "from-afar"})
    await pubsub_layer.send(b, {"type": "room.signal", "n": "after-afar"})

    def n_of(event: dict) -> object:
        return event["n"] if "n" in event else event["message"]["n"]

    heard = [n_of(await asyncio.wait_for(pubsub_layer.receive(b), 5)) for _ in range(17)]
    assert heard == [
        *(x for n in range(5) for x in (f"joined-{n}", f"room-{n}", f"signal-{n}")),
        "from-afar",
        "after-afar",
    ]
    heard_a = [n_of(await asyncio.wait_for(pubsub_layer.receive(a), 5)) for _ in range(5)]
    assert heard_a == [f"room-{n}" for n in range(5)]
    await pubsub_layer.flush()
    await other_process.flush()


async def test_a_room_change_s_messages_go_in_one_round_trip_in_commit_order(
    pubsub_layer, monkeypatch
):
    from sessions import broadcast

    pipelines, publishes = await _pipelines_and_publishes(monkeypatch)
    monkeypatch.setattr(broadcast, "get_channel_layer", lambda: pubsub_layer)
    peers = [await pubsub_layer.new_channel() for _ in range(3)]
    for channel in peers:
        await pubsub_layer.group_add("room-9", channel)
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
