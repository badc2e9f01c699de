"""Joins that arrive together are made together, and so are admits (issue 13, point 1).

An ASGI process gives Django's database calls one thread. At nine in the morning a
county's rooms open at once, and each join's transaction (ticket, participant,
attendance, audit events) queued there behind every other: hundreds of transactions of a
dozen queries each, one after the other. Here the joins of one event loop wait in one
queue; a worker task takes everything that queued while the previous batch was in the
database and makes it in ONE transaction (`services.room_enter_many`), whose
queries do not grow with the batch. Each join still gets its own answer (its `Joined`
or its refusal), and the batch's messages are out, in commit order, before any of its
joins is answered (`call_delivering`): a newcomer's offers never overtake the
`peer-joined` the others hear. The mediators' admits that follow a morning's joins
queue the same way, apart from the joins, and are made in batches by
`services.room_admit_many`.

Nothing here is room state: the queue holds only joins in flight, so any process can
serve any connection (DESIGN.md §1)."""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass, field
from typing import Any

from sessions import services
from sessions.broadcast import call_delivering

# The most joins in one transaction: a batch holds its rooms' rows locked until it
# commits, and a batch too large would hold the first join's answer behind the last.
MAX_BATCH = 200


@dataclass
class _Queue:
    waiting: list[tuple[Any, asyncio.Future]] = field(default_factory=list)
    # A batch is in the database thread (its caller's or the worker's).
    busy: bool = False
    worker: asyncio.Task | None = None


class Batches:
    """The queue of one kind of room change per event loop, made in batches by the
    service `services.<service>(entries=[...])`, which answers each entry (its result,
    or its refusal as a `DomainError` returned in its place). The service is looked up
    at each batch (tests replace it)."""

    def __init__(self, service: str) -> None:
        self.service = service
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Queue] = (
            weakref.WeakKeyDictionary()
        )

    async def submit(self, entry: Any) -> Any:
        """This entry's answer from the next batch, or its refusal raised. When no batch
        is in the database, the entry goes there at once, from its own task, as a batch
        of one: it keeps its place among the other database calls of the process (a
        ticket asked for after this welcome is issued after this join). Entries arriving
        while a batch is in the database wait for the next one, which a worker task
        makes."""
        loop = asyncio.get_running_loop()
        queue = self._queues.get(loop)
        if queue is None:
            queue = self._queues[loop] = _Queue()
        answer: asyncio.Future = loop.create_future()
        queue.waiting.append((entry, answer))
        if not queue.busy:
            queue.busy = True
            try:
                await self._serve(queue)
            finally:
                if queue.waiting:
                    queue.worker = loop.create_task(self._work(queue))
                else:
                    queue.busy = False
        return await answer

    async def _work(self, queue: _Queue) -> None:
        try:
            while queue.waiting:
                await self._serve(queue)
        finally:
            queue.busy = False

    async def _serve(self, queue: _Queue) -> None:
        """One batch: the entries waiting now, in one transaction."""
        batch = queue.waiting[:MAX_BATCH]
        del queue.waiting[:MAX_BATCH]
        try:
            results = await call_delivering(
                getattr(services, self.service), entries=[entry for entry, _answer in batch]
            )
        except Exception as exc:  # noqa: BLE001 - answered below, entry by entry
            if len(batch) == 1:
                _answer_with(batch[0][1], exc)
                return
            # One entry's fault (a database error) rolled back the whole batch: each is
            # made again on its own, so only the faulty one fails.
            for entry, answer in batch:
                await self._serve_alone(entry, answer)
            return
        except BaseException as exc:
            # A cancelled caller's batch is its own entry alone (`submit`).
            for _entry, answer in batch:
                _answer_with(answer, exc)
            raise
        for (_entry, answer), result in zip(batch, results, strict=True):
            _answer_with(answer, result)

    async def _serve_alone(self, entry: Any, answer: asyncio.Future) -> None:
        try:
            (result,) = await call_delivering(getattr(services, self.service), entries=[entry])
        except Exception as exc:  # noqa: BLE001 - this entry's own failure, for its consumer
            result = exc
        _answer_with(answer, result)


_joins = Batches("room_enter_many")
_admits = Batches("room_admit_many")


async def enter(entry: services.Entry) -> services.Joined:
    """This connection's join, made in the next batch of joins (`room_enter_many`): its
    `Joined`, or its refusal raised (a `DomainError`, as `services.room_enter` raises
    it)."""
    return await _joins.submit(entry)


async def admit(admission: services.Admission) -> None:
    """The mediator's admit, made in the next batch of admits (`room_admit_many`: every
    room's mediator admits at once after a morning's joins), or its refusal raised."""
    await _admits.submit(admission)


def _answer_with(answer: asyncio.Future, result: object) -> None:
    if answer.done():
        return
    if isinstance(result, BaseException):
        answer.set_exception(result)
    else:
        answer.set_result(result)
