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
import time
from collections.abc import Callable
from typing import Any

from channels.layers import InMemoryChannelLayer as ChannelsInMemoryChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer as ChannelsRedisPubSubChannelLayer
from channels_redis.pubsub import RedisPubSubLoopLayer, RedisSingleShardConnection
from channels_redis.utils import _wrap_close, decode_hosts
from redis import asyncio as aioredis

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


class _PublishingShard(RedisSingleShardConnection):
    """One Redis server's connection of the pub/sub layer, its publishes sent together.

    channels-redis 4.3 publishes under the shard's one lock, one round trip each: every
    `send` and `group_send` of the process (each relayed `signal`, each room change's
    deliveries) and every subscribe (each connection's channel, its room's group) waited
    for the reply of the publish before it (issue 13: set-up p50 6.5x and relay p99 5x
    the bare relay's on pub/sub). Here publishes go in batches (`RedisBatches`), in the
    order they were asked for; each caller still returns only once Redis has its
    message (what it sends after that is published after it). Subscribes keep the lock,
    which publishes no longer take, and go in batches too (`subscribe`)."""

    def __init__(self, host: dict, channel_layer: object) -> None:
        super().__init__(host, channel_layer)
        self._publishes = RedisBatches(self._client)
        self._to_subscribe: list[tuple[str, asyncio.Future]] = []
        self._subscriber: asyncio.Task | None = None

    def _client(self) -> aioredis.Redis:
        self._ensure_redis()
        return self._redis

    async def publish(self, channel: str, message: bytes) -> None:
        await self._publishes.run(("publish", (channel, message), {}))

    async def subscribe(self, channel: str) -> None:
        """Subscribed, with every channel asked for while the lock was taken: ONE
        SUBSCRIBE command for all of them (a burst of joins subscribes each connection's
        channel and each room's group; one at a time, each waited a turn of the loop for
        the lock)."""
        loop = asyncio.get_running_loop()
        subscribed: asyncio.Future = loop.create_future()
        self._to_subscribe.append((channel, subscribed))
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
                    try:
                        if new:
                            self._ensure_redis()
                            self._ensure_receiver()
                            await self._pubsub.subscribe(*new)
                            self._subscribed_to.update(new)
                    except Exception as exc:  # noqa: BLE001 - each caller gets the error
                        failed: BaseException | None = exc
                    else:
                        failed = None
                for _channel, subscribed in batch:
                    if subscribed.done():
                        continue
                    if failed is not None:
                        subscribed.set_exception(failed)
                    else:
                        subscribed.set_result(None)
        finally:
            self._subscriber = None

    async def flush(self) -> None:
        await super().flush()
        self._publishes.cancel_waiting()
        waiting, self._to_subscribe = self._to_subscribe, []
        for _channel, subscribed in waiting:
            if not subscribed.done():
                subscribed.cancel()


class _PublishingLoopLayer(RedisPubSubLoopLayer):
    def __init__(self, hosts: list | None = None, **kwargs: object) -> None:
        super().__init__(hosts, **kwargs)
        self._shards = [_PublishingShard(host, self) for host in decode_hosts(hosts)]


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
