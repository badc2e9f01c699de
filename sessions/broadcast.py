"""Messages from the server to the people in a room, through the channel layer.

Every connected client (lobby and room) belongs to the group `room_group(session_id)`;
one peer is reached through the channel name its current connection stored on its
RoomParticipant row. Both work across Daphne processes on the Redis layer. Services
deliver with `deliver_on_commit`, so nobody hears of a change that rolled back."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
import weakref
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

# Close codes of the room socket (4000-4999 are the application's to define).
CLOSE_SUPERSEDED = 4000  # the same person connected again elsewhere
CLOSE_REMOVED = 4001  # the mediator removed this person
CLOSE_ENDED = 4002  # the session ended or was cancelled
CLOSE_UNAUTHENTICATED = 4401  # no login, or a bad, used or expired ticket
CLOSE_FORBIDDEN = 4403  # not a participant of this session (or no such session)
CLOSE_CLOSED = 4409  # the session is not open (not scheduled yet, ended, cancelled)


def room_group(session_id: int) -> str:
    return f"room-{session_id}"


@dataclass(frozen=True)
class Delivery:
    """One message for one connection (`channel`) or a whole room (`group`); with
    `close` set the connection sends the message, then closes with that code."""

    message: dict
    channel: str = ""
    group: str = ""
    close: int | None = None
    # For the receiving consumer only (never sent to the client): whom this peer may
    # signal now, peer id -> channel, after the change this message announces.
    reach: dict[str, str] | None = None

    def event(self) -> dict:
        if self.close is not None:
            return {"type": "room.close", "message": self.message, "code": self.close}
        event = {"type": "room.send", "message": self.message}
        if self.reach is not None:
            event["reach"] = self.reach
        return event


@dataclass(frozen=True)
class CacheWrite:
    """Not a message: a write to the room's copy in the cache (sessions.mirror), made in
    commit order with the change's messages, off the database thread. `write_on_loop`,
    when given, is the same write from the event loop (no worker thread; the writes in
    a row go in one Redis round trip), used by the process's deliverer."""

    write: Callable[[], None]
    write_on_loop: Callable[[], Awaitable[None]] | None = None


async def _write_copies(writes: list[CacheWrite], *, on_loop: bool) -> None:
    from sessions.mirror import in_cache, in_process

    if in_process():
        # Process memory (the embedded default): no I/O, written here and now.
        for w in writes:
            w.write()
        return
    if on_loop and all(w.write_on_loop is not None for w in writes):
        # Started in order, so queued in order: one round trip for the lot.
        done = await asyncio.gather(*(w.write_on_loop() for w in writes), return_exceptions=True)
    else:
        done = []
        for w in writes:
            try:
                done.append(await in_cache(w.write))
            except Exception as exc:  # noqa: BLE001 - logged below
                done.append(exc)
    for result in done:
        if isinstance(result, Exception):
            # A stale copy costs a correction, no more.
            log.warning("room copy not written: %s", result)


async def deliver(deliveries: Iterable[Delivery | CacheWrite], *, on_loop: bool = False) -> None:
    """`on_loop`: called by the process's deliverer, on the event loop that lives as
    long as the process (a short-lived loop of `async_to_sync` writes through threads)."""
    layer = get_channel_layer()
    # The pub/sub layer sends a run of messages in one request, in order (one round trip
    # for a change's messages, not one each: sessions.layers).
    in_order = getattr(layer, "send_in_order", None)
    run: list[tuple[str, str, dict]] = []
    copies: list[CacheWrite] = []
    for d in deliveries:
        if isinstance(d, CacheWrite):
            if run:
                await in_order(run)
                run = []
            copies.append(d)
            continue
        if copies:
            await _write_copies(copies, on_loop=on_loop)
            copies = []
        if in_order is not None and (d.group or d.channel):
            run.append((d.channel, d.group, d.event()))
        elif d.group:
            await layer.group_send(d.group, d.event())
        elif d.channel:
            await layer.send(d.channel, d.event())
    if run:
        await in_order(run)
    if copies:
        await _write_copies(copies, on_loop=on_loop)


def deliver_sync(deliveries: Iterable[Delivery | CacheWrite]) -> None:
    deliveries = list(deliveries)
    if deliveries:
        async_to_sync(deliver)(deliveries)


def deliver_on_commit(deliveries: Iterable[Delivery | CacheWrite]) -> None:
    deliveries = list(deliveries)
    if deliveries:
        transaction.on_commit(lambda: _hand_over(deliveries))


# --- deliveries off the database thread (issue 13) ---------------------------------------
#
# A consumer calls a service in the one thread Django gives database calls in an ASGI
# process. Delivering a change's messages from that thread (async_to_sync, one channel
# layer round trip each, on Redis a network round trip) held every other join waiting
# behind it. A service the consumer calls through `call_delivering` hands its deliveries
# to the event loop at commit instead: they join one queue per event loop, in commit
# order (so everyone hears the changes of a room in the order they were made), and the
# consumer awaits its own before it answers (so a newcomer's `welcome` never overtakes
# the `peer-joined` the others must see before its offers). Other callers (pages, the
# API, tasks) deliver as before.

log = logging.getLogger(__name__)
_local = threading.local()
_queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Queue] = (
    weakref.WeakKeyDictionary()
)
_tasks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task] = (
    weakref.WeakKeyDictionary()
)
T = TypeVar("T")


def _hand_over(deliveries: list[Delivery | CacheWrite]) -> None:
    loop = getattr(_local, "loop", None)
    if loop is None:
        deliver_sync(deliveries)
        return
    done: concurrent.futures.Future = concurrent.futures.Future()
    _local.waits.append(done)
    # call_soon_threadsafe keeps the order of the calls: the queue gets commit order.
    loop.call_soon_threadsafe(_enqueue, deliveries, done)


def _enqueue(deliveries: list[Delivery | CacheWrite], done: concurrent.futures.Future) -> None:
    loop = asyncio.get_running_loop()
    queue = _queues.get(loop)
    if queue is None:
        queue = _queues[loop] = asyncio.Queue()
        # The task lives as long as its loop (one per process, or per test).
        _tasks[loop] = loop.create_task(_deliverer(queue))
    queue.put_nowait((deliveries, done))


async def _deliverer(queue: asyncio.Queue) -> None:
    while True:
        deliveries, done = await queue.get()
        try:
            await deliver(deliveries, on_loop=True)
        except Exception as exc:  # noqa: BLE001 - one failed send must not stop the room's queue
            log.warning("room delivery failed: %s", exc)
            done.set_exception(exc)
        else:
            done.set_result(None)


def _run_collecting(
    loop: asyncio.AbstractEventLoop, fn: Callable[..., T], kwargs: dict[str, Any]
) -> tuple[T, list[concurrent.futures.Future]]:
    _local.loop, _local.waits = loop, []
    try:
        return fn(**kwargs), _local.waits
    finally:
        _local.loop = None


async def call_delivering(fn: Callable[..., T], **kwargs: Any) -> T:
    """Run the service `fn(**kwargs)` in the database thread; its deliveries go out
    from the event loop, in commit order, and are out when this returns."""
    from channels.db import database_sync_to_async

    loop = asyncio.get_running_loop()
    result, waits = await database_sync_to_async(_run_collecting)(loop, fn, kwargs)
    for done in waits:
        # A failed send was logged by the deliverer; the change itself committed.
        with contextlib.suppress(Exception):
            await asyncio.wrap_future(done)
    return result


async def send_to_room(session_id: int, message: dict) -> None:
    """Tell everyone connected to the room, e.g. `{"type": "recording", "active": true}`.
    `message` must be one JSON object with a `type`."""
    await deliver([Delivery(message=message, group=room_group(session_id))])


def send_to_room_sync(session_id: int, message: dict) -> None:
    async_to_sync(send_to_room)(session_id, message)
