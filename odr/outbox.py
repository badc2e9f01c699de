"""Tasks that leave when the write that asks for them commits (issue 14, point 4).

With the database task queue (production: django_tasks_db) the task's row is written in
the caller's own transaction: it commits with the write or not at all, and the worker
cannot see it before then (a transactional outbox). That is the guarantee an enqueue
from `transaction.on_commit` gave, without a second statement and a second commit (a
WAL flush) after every filing. Any other queue (tests run tasks at once) still enqueues
after the commit: a task that runs at once must not run inside the transaction.

A write that ends its transaction with its audit event (a filing) may hold its rows
(`held`): their INSERT goes in the event's own message (odr.audit.log_action `along`),
not in a round trip and an ORM save of its own."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models.signals import post_save, pre_save
from django_tasks.base import Task
from django_tasks.signals import task_enqueued
from django_tasks.utils import normalize_json
from django_tasks_db import DatabaseBackend
from django_tasks_db.models import DBTaskResult

from odr.services.common import Statement, insert_statement, inserted


@dataclass
class Held:
    """Task rows enqueued while held: written by whoever sends `statements` (in the
    caller's transaction), then `sent()`."""

    rows: list[DBTaskResult] = field(default_factory=list)

    @property
    def statements(self) -> list[Statement]:
        return [insert_statement(self.rows)] if self.rows else []

    def sent(self) -> None:
        """The rows are written: they are saved rows now, and the signals an enqueue
        sends once its row is saved (post_save, the queue's `task_enqueued`) are sent."""
        inserted(self.rows)
        for row in self.rows:
            post_save.send(
                DBTaskResult,
                instance=row,
                created=True,
                raw=False,
                using=row._state.db,
                update_fields=None,
            )
            task_enqueued.send(DatabaseBackend, task_result=row.task_result)


_held: ContextVar[Held | None] = ContextVar("odr_outbox_held", default=None)


@contextmanager
def held() -> Iterator[Held]:
    """The database queue's rows enqueued inside are not written at once but kept for
    the caller, which sends `Held.statements` before its transaction ends and then calls
    `Held.sent()` (odr.services.filing: with the filing's audit event)."""
    rows = Held()
    token = _held.set(rows)
    try:
        yield rows
    finally:
        _held.reset(token)


def enqueue_on_commit(task: Task, **kwargs: Any) -> None:
    """`task.enqueue(**kwargs)` once the surrounding transaction commits."""

    def enqueue() -> None:
        task.enqueue(**kwargs)

    in_transaction = transaction.get_connection().in_atomic_block
    backend = task.get_backend()
    if in_transaction and isinstance(backend, DatabaseBackend):
        rows = _held.get()
        if rows is None:
            enqueue()
            return
        # The row DatabaseBackend.enqueue writes (django_tasks_db's _task_to_db_task),
        # kept for the caller's statement, with the signal its save sends first (the
        # queue's own handler gives a task to run at once its run_after there).
        backend.validate_task(task)
        row = DBTaskResult(
            id=backend._get_id(),
            args_kwargs=normalize_json({"args": (), "kwargs": kwargs}),
            priority=task.priority,
            task_path=task.module_path,
            queue_name=task.queue_name,
            run_after=task.run_after,
            backend_name=backend.alias,
        )
        pre_save.send(
            DBTaskResult, instance=row, raw=False, using=row._state.db, update_fields=None
        )
        rows.rows.append(row)
    else:
        transaction.on_commit(enqueue)
