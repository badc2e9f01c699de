"""Tasks that leave when the write that asks for them commits (issue 14, point 4).

With the database task queue (production: django_tasks_db) the task's row is written in
the caller's own transaction: it commits with the write or not at all, and the worker
cannot see it before then (a transactional outbox). That is the guarantee an enqueue
from `transaction.on_commit` gave, without a second statement and a second commit (a
WAL flush) after every filing. Any other queue (tests run tasks at once) still enqueues
after the commit: a task that runs at once must not run inside the transaction."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django_tasks.base import Task
from django_tasks_db import DatabaseBackend


def enqueue_on_commit(task: Task, **kwargs: Any) -> None:
    """`task.enqueue(**kwargs)` once the surrounding transaction commits."""

    def enqueue() -> None:
        task.enqueue(**kwargs)

    in_transaction = transaction.get_connection().in_atomic_block
    if in_transaction and isinstance(task.get_backend(), DatabaseBackend):
        enqueue()
    else:
        transaction.on_commit(enqueue)
