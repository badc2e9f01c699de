"""The platform's channel layers. The embedded default's (one process, no Redis):
channels' in-memory layer, cleaning expired messages and group memberships at most once
a second. With Redis: channels-redis' pub/sub layer, its publishes pipelined
(`RedisPubSubChannelLayer`, below).

channels 4.3's `InMemoryChannelLayer` runs `_clean_expired` at every `receive` and
every `group_send`, and it walks every channel's queue and every group's members each
time: with N connections every relayed `signal` cost O(N), and a morning's burst of
joins O(N²) (issue 13: about 5% of the Daphne process's samples in a py-spy profile of a
300 burst, more at 999). Expiry is a safety net for a dead consumer's queue (messages
older than `expiry`, 60 s, and memberships older than `group_expiry`, a day): a second
late changes nothing."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from channels.layers import InMemoryChannelLayer as ChannelsInMemoryChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer as ChannelsRedisPubSubChannelLayer
from channels_redis.pubsub import RedisPubSubLoopLayer, RedisSingleShardConnection
from channels_redis.utils import _wrap_close, decode_hosts
from redis import asyncio as aioredis

logger = logging.getLogger(__name__)

# One command for `RedisBatches`: redis-py's method name, its arguments, its keywords.
Command = tuple[str, tuple, dict]


class InMemoryChannelLayer(ChannelsInMemoryChannelLayer):
    # Seconds between two cleanings.
    clean_every: float = 1.0

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._cleaned_at = float("-inf")

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._cleaned_at < self.clean_every:
            return
        self._cleaned_at = now
        super()._clean_expired()


class RedisBatches:
    """Redis commands asked for by the tasks of one event loop, sent together: every
    request that queues while one batch is in flight goes in the next, ONE pipeline and
    one round trip, in the order they were asked for (a connection's commands run in
    order in Redis). Each request gets its own replies, or the batch's error. `client`
    gives the redis.asyncio client to use (made when first needed).

    The pub/sub layer's publishes go through one (`_PublishingShard`), and so do a
    ticket join's spend and read of the room's copy (sessions.mirror). One round trip
    per batch instead of one per command: during a morning's burst a reply waits for the
    event loop, which the handshakes keep busy, so a command at a time meant a command
    per turn of the loop (issue 13)."""

    def __init__(self, client: Callable[[], aioredis.Redis]) -> None:
        self.client = client
        self._waiting: list[tuple[list[Command], asyncio.Future]] = []
        self._sender: asyncio.Task | None = None

    async def run(self, *commands: Command) -> list[Any]:
        """The replies to `commands` (each `(name, args, kwargs)` of redis-py's client),
        sent with whatever else queued with them. A cancelled caller's commands are still
        sent (they may be in flight already)."""
        loop = asyncio.get_running_loop()
        replies: asyncio.Future = loop.create_future()
        self._waiting.append((list(commands), replies))
        if self._sender is None:
            # A task of its own, not the caller's: a cancelled caller must not take the
            # others' commands in its batch down with it.
            self._sender = loop.create_task(self._send_batches())
        return await replies

    async def _send_batches(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                try:
                    async with self.client().pipeline(transaction=False) as pipe:
                        for commands, _replies in batch:
                            for name, args, kwargs in commands:
                                getattr(pipe, name)(*args, **kwargs)
                        got = await pipe.execute(raise_on_error=False)
                except Exception as exc:  # noqa: BLE001 - each caller gets the error
                    for _commands, replies in batch:
                        if not replies.done():
                            replies.set_exception(exc)
                    continue
                at = 0
                for commands, replies in batch:
                    mine, at = got[at : at + len(commands)], at + len(commands)
                    failed = next((r for r in mine if isinstance(r, Exception)), None)
                    if replies.done():
                        continue
                    if failed is not None:
                        replies.set_exception(failed)
                    else:
                        replies.set_result(mine)
        finally:
            self._sender = None

    def cancel_waiting(self) -> None:
        waiting, self._waiting = self._waiting, []
        for _commands, replies in waiting:
            if not replies.done():
                replies.cancel()


# How long a PING on the subscriber connection may take to come back before its waiters
# go on without it (its answer is lost when redis-py reconnects under the read).
PING_TIMEOUT = 5.0


async def _answered(ping: asyncio.Future) -> None:
    await asyncio.wait_for(asyncio.shield(ping), PING_TIMEOUT)


class _PublishingShard(RedisSingleShardConnection):
    """One Redis server's connection of the pub/sub layer, its publishes sent together.

    channels-redis 4.3 publishes under the shard's one lock, one round trip each: every
    `send` and `group_send` of the process (each relayed `signal`, each room change's
    deliveries) and every subscribe (each connection's channel, its room's group) waited
    for the reply of the publish before it (issue 13: set-up p50 6.5x and relay p99 5x
    the bare relay's on pub/sub). Here publishes go in batches (`RedisBatches`), in the
    order they were asked for; each caller still returns only once Redis has its
    message (what it sends after that is published after it). Subscribes keep the lock,
    which publishes no longer take, and go in batches too (`subscribe`); a subscribe
    returns once Redis has confirmed it (a message published after it is heard), and a
    channel subscribed already costs nothing (a room's second and third member).

    The receiver reads the subscriber connection itself (`_do_receiving`): channels-
    redis' read one message per `get_message` call with a 0.1 s timeout each, through
    redis-py's retry, timing and handler machinery. `barrier` returns once everything
    Redis had for this process when it was called has been read and queued (a PING on
    the subscriber connection: its answer comes after them)."""

    def __init__(self, host: dict, channel_layer: object) -> None:
        super().__init__(host, channel_layer)
        self._publishes = RedisBatches(self._client)
        self._to_subscribe: list[tuple[str, asyncio.Future]] = []
        self._subscriber: asyncio.Task | None = None
        # Channels whose UNSUBSCRIBE is in flight (how many callers each).
        self._leaving: dict[str, int] = {}
        # The PINGs sent and not answered yet (token -> its waiters' future), and the
        # next one, not sent yet, that callers may still wait on.
        self._pings: dict[bytes, asyncio.Future] = {}
        self._next_ping: asyncio.Future | None = None
        self._ping_count = 0
        self._ping_tasks: set[asyncio.Task] = set()
        # Set once something is subscribed (the receiver waits for it).
        self._listening = asyncio.Event()

    def _client(self) -> aioredis.Redis:
        self._ensure_redis()
        return self._redis

    async def publish(self, channel: str, message: bytes) -> None:
        self.channel_layer.heard_or_said()
        await self._publishes.run(("publish", (channel, message), {}))

    async def subscribe(self, channel: str, *, pattern: bool = False) -> None:
        """Subscribed (confirmed by Redis), with every channel asked for while the lock
        was taken: ONE SUBSCRIBE command for all of them (a burst of joins subscribes
        each room's group; one at a time, each waited a turn of the loop for the lock).
        A channel subscribed already returns at once. `pattern`: a PSUBSCRIBE instead
        (the process's own channels, `_PublishingLoopLayer.new_channel`)."""
        name = f"pattern:{channel}" if pattern else channel
        if name in self._subscribed_to and name not in self._leaving:
            return
        loop = asyncio.get_running_loop()
        subscribed: asyncio.Future = loop.create_future()
        self._to_subscribe.append((name, subscribed))
        if self._subscriber is None:
            self._subscriber = loop.create_task(self._subscribe_batches())
        await subscribed

    async def _subscribe_batches(self) -> None:
        try:
            while self._to_subscribe:
                async with self._lock:
                    # Taken under the lock: an unsubscribe before it has finished, and
                    # whatever queued while it ran is in this batch.
                    batch, self._to_subscribe = self._to_subscribe, []
                    new = list(dict.fromkeys(c for c, _ in batch if c not in self._subscribed_to))
                    channels = [c for c in new if not c.startswith("pattern:")]
                    patterns = [c.removeprefix("pattern:") for c in new if c.startswith("pattern:")]
                    confirmed: asyncio.Future | None = None
                    try:
                        if new:
                            self._ensure_redis()
                            self._ensure_receiver()
                            if channels:
                                await self._pubsub.subscribe(*channels)
                            if patterns:
                                await self._pubsub.psubscribe(*patterns)
                            self._listening.set()
                            self._subscribed_to.update(new)
                            # Confirmed: Redis answers the PING after the SUBSCRIBE.
                            confirmed = self._ping()
                    except Exception as exc:  # noqa: BLE001 - each caller gets the error
                        failed: BaseException | None = exc
                    else:
                        failed = None
                if confirmed is not None and failed is None:
                    try:
                        await _answered(confirmed)
                    except TimeoutError:
                        # Sent, as channels-redis' subscribe returns; not confirmed.
                        logger.warning("Redis did not confirm a subscribe in time")
                    except Exception as exc:  # noqa: BLE001 - each caller gets the error
                        failed = exc
                for _channel, subscribed in batch:
                    if subscribed.done():
                        continue
                    if failed is not None:
                        subscribed.set_exception(failed)
                    else:
                        subscribed.set_result(None)
        finally:
            self._subscriber = None

    async def unsubscribe(self, channel: str) -> None:
        self._leaving[channel] = self._leaving.get(channel, 0) + 1
        try:
            await super().unsubscribe(channel)
        finally:
            left = self._leaving.pop(channel) - 1
            if left:
                self._leaving[channel] = left

    async def barrier(self) -> None:
        """Returns once every message Redis had for this process's subscriber when this
        was called has been read and queued (nothing to wait for when nothing is
        subscribed)."""
        if self._pubsub is None or not self._subscribed_to:
            return
        await _answered(self._ping())

    def _ping(self) -> asyncio.Future:
        """The future of the next PING on the subscriber connection (sent from a task of
        its own: every caller until it is written shares it)."""
        if self._next_ping is None:
            loop = asyncio.get_running_loop()
            self._next_ping = loop.create_future()
            task = loop.create_task(self._send_ping(self._next_ping))
            self._ping_tasks.add(task)
            task.add_done_callback(self._ping_tasks.discard)
        return self._next_ping

    async def _send_ping(self, answered: asyncio.Future) -> None:
        self._ping_count += 1
        token = b"odr-barrier-%d" % self._ping_count
        self._pings[token] = answered
        # Callers from now on need a PING written after their call.
        self._next_ping = None
        try:
            self._ensure_redis()
            self._ensure_receiver()
            await self._pubsub.ping(token)
        except Exception as exc:  # noqa: BLE001 - the waiters get the error
            self._pings.pop(token, None)
            if not answered.done():
                answered.set_exception(exc)

    async def _do_receiving(self) -> None:
        while True:
            try:
                if not (self._pubsub and self._pubsub.subscribed):
                    self._listening.clear()
                    await self._listening.wait()
                    continue
                response = await self._pubsub.parse_response(block=True)
                self._take(response)
                if response and response[0] not in (b"message", b"pmessage", b"pong"):
                    # (Un)subscribe confirmations: redis-py's bookkeeping of what it
                    # subscribes again after a reconnection.
                    await self._pubsub.handle_message(response, ignore_subscribe_messages=True)
            except (TimeoutError, asyncio.CancelledError, GeneratorExit):
                raise
            except BaseException:
                logger.exception("Unexpected exception in receive task")
                self._answer_pings(ConnectionError("the subscriber connection failed"))
                await asyncio.sleep(1)

    def _take(self, response: Any) -> None:
        if isinstance(response, bytes):
            # A PING's answer when nothing is subscribed any more.
            response = [b"pong", response]
        if not response:
            return
        kind = response[0]
        if kind == b"message":
            name, data = response[1], response[2]
        elif kind == b"pmessage":
            name, data = response[2], response[3]
        elif kind == b"pong":
            answered = self._pings.pop(response[1], None)
            if answered is not None and not answered.done():
                answered.set_result(None)
            return
        else:
            return
        layer = self.channel_layer
        layer.heard_or_said()
        name = name.decode()
        queue = layer.channels.get(name)
        if queue is not None:
            queue.put_nowait(data)
            return
        for channel_name in layer.groups.get(name, ()):
            queue = layer.channels.get(channel_name)
            if queue is not None:
                queue.put_nowait(data)

    def _answer_pings(self, exc: BaseException) -> None:
        pings, self._pings = self._pings, {}
        for answered in pings.values():
            if not answered.done():
                answered.set_exception(exc)

    async def flush(self) -> None:
        await super().flush()
        self._publishes.cancel_waiting()
        waiting, self._to_subscribe = self._to_subscribe, []
        for _channel, subscribed in waiting:
            if not subscribed.done():
                subscribed.cancel()
        pings, self._pings = self._pings, {}
        for answered in pings.values():
            if not answered.done():
                answered.cancel()
        self._listening = asyncio.Event()


class _PublishingLoopLayer(RedisPubSubLoopLayer):
    """channels-redis' layer of one event loop, with this process's own channels on ONE
    subscription and delivered in process when sent from it.

    channels-redis subscribes each new channel (each room connection) on its own, and
    every connection waited for that SUBSCRIBE before its handshake was answered. Here
    every channel this layer makes is named with the layer's random id
    (`asgi.specific.<id>!<random>`, the same shape as channels' core layer's), and one
    PSUBSCRIBE of `asgi*.<id>!*`, made once, delivers them all: `new_channel` costs no
    Redis command. A `send` to one of these channels from this process (a relayed
    signal between two peers on this process) is queued here without the round trip
    through Redis, after every message Redis had for this process before it
    (`_PublishingShard.barrier`, when anything went through Redis since the last), so
    nothing overtakes what it followed: a newcomer's offer never arrives before the
    `peer-joined` that announced it."""

    def __init__(self, hosts: list | None = None, **kwargs: object) -> None:
        super().__init__(hosts, **kwargs)
        self._shards = [_PublishingShard(host, self) for host in decode_hosts(hosts)]
        self._id = uuid.uuid4().hex
        # Anything published or received through Redis since the last barrier.
        self._traffic = True
        # In-process sends waiting for a barrier, in order, and the task that waits.
        self._held: list[tuple[str, bytes, asyncio.Future]] = []
        self._releaser: asyncio.Task | None = None

    def heard_or_said(self) -> None:
        self._traffic = True

    def _own(self, channel: str) -> bool:
        return f".{self._id}!" in channel

    async def new_channel(self, prefix: str = "specific.") -> str:
        channel = f"{self.prefix}{prefix}{self._id}!{uuid.uuid4().hex}"
        self.channels[channel] = asyncio.Queue()
        pattern = f"{self.prefix}*.{self._id}!*"
        for shard in self._shards:
            # At once (no task, no turn of the loop) once the pattern is subscribed.
            await shard.subscribe(pattern, pattern=True)
        return channel

    async def receive(self, channel: str) -> Any:
        if not self._own(channel):
            return await super().receive(channel)
        queue = self.channels.get(channel)
        if queue is None:
            queue = self.channels[channel] = asyncio.Queue()
        try:
            message = await queue.get()
        except (TimeoutError, asyncio.CancelledError, GeneratorExit):
            # The consumer is gone (channels cancels its receive): its queue with it;
            # the process's pattern stays.
            self.channels.pop(channel, None)
            raise
        return self.channel_layer.deserialize(message)

    async def send(self, channel: str, message: dict) -> None:
        queue = self.channels.get(channel)
        if queue is None or not self._own(channel):
            await super().send(channel, message)
            return
        data = self.channel_layer.serialize(message)
        if not self._traffic and not self._held:
            queue.put_nowait(data)
            return
        loop = asyncio.get_running_loop()
        done: asyncio.Future = loop.create_future()
        self._held.append((channel, data, done))
        if self._releaser is None:
            self._releaser = loop.create_task(self._release_held())
        await done

    async def _release_held(self) -> None:
        """The held sends, in order, each batch after a barrier asked for after it."""
        try:
            while self._held:
                batch, self._held = self._held, []
                self._traffic = False
                try:
                    await asyncio.gather(*(shard.barrier() for shard in self._shards))
                except Exception as exc:  # noqa: BLE001 - delivered all the same
                    # The order behind Redis' messages is not known: deliver rather
                    # than drop (a signal that crossed a change is dropped on arrival).
                    logger.warning("in-process sends released without a barrier: %s", exc)
                for channel, data, done in batch:
                    queue = self.channels.get(channel)
                    if queue is not None:
                        queue.put_nowait(data)
                    if not done.done():
                        done.set_result(None)
        finally:
            self._releaser = None

    async def flush(self) -> None:
        held, self._held = self._held, []
        for _channel, _data, done in held:
            if not done.done():
                done.cancel()
        self._traffic = True
        await super().flush()


class RedisPubSubChannelLayer(ChannelsRedisPubSubChannelLayer):
    """channels-redis' pub/sub layer (the platform's default with Redis), its publishes
    and subscribes batched (`_PublishingShard`), and `send_in_order` for a room change's
    deliveries; everything else is channels-redis'."""

    async def send_in_order(self, messages: list[tuple[str, str, dict]]) -> None:
        """Each `(channel, group, message)` sent to its channel, or to its group when
        `group` is set, in this order, in one request (the same round trip as whatever
        else queued with it): a room change's messages, which `sessions.broadcast` sent
        one round trip after the other. Returns once Redis has them all."""
        layer = self._get_layer()
        layer.heard_or_said()
        by_shard: dict[int, list[Command]] = {}
        for channel, group, message in messages:
            name = layer._get_group_channel_name(group) if group else channel
            shard = layer._get_shard(name)
            by_shard.setdefault(id(shard), []).append(
                ("publish", (name, self.serialize(message)), {})
            )
        shards = {id(shard): shard for shard in layer._shards}
        await asyncio.gather(
            *(shards[key]._publishes.run(*commands) for key, commands in by_shard.items())
        )

    def _get_layer(self) -> RedisPubSubLoopLayer:
        loop = asyncio.get_running_loop()
        try:
            return self._layers[loop]
        except KeyError:
            layer = _PublishingLoopLayer(*self._args, **self._kwargs, channel_layer=self)
            self._layers[loop] = layer
            _wrap_close(self, loop)
            return layer
