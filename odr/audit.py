"""The hash-chained audit trail: `log_action` appends, `verify_chain` checks."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connection, models, transaction
from django.utils import timezone

from odr.lifecycle import words_for
from odr.models import AuditEvent, AuditHead, Dispute
from odr.request_context import get_client_ip

# An SQL statement and its parameters, sent by a caller with others in one message
# (log_action's `along`, odr.services.common.insert_statement).
Statement = tuple[str, list[Any]]

GENESIS = "0" * 64


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, models.Model):
        return value.pk
    return value


def event_digest(
    *,
    seq: int,
    created_at: datetime,
    actor_id: int | None,
    actor_label: str,
    ip: str | None,
    action: str,
    dispute_id: int | None,
    object_type: str,
    object_id: str,
    before: dict,
    after: dict,
    prev_hash: str,
) -> str:
    """The event's hash: sha256 of its fields and the previous event's hash as compact
    JSON with sorted keys. Written as the payload up to the link (`_payload_before_the_link`,
    which PostgreSQL completes in `_append_in_one_statement`) and the link itself, so that
    Python and the database hash the same bytes by one definition."""
    payload = (
        _payload_before_the_link(
            created_at=created_at,
            actor_id=actor_id,
            actor_label=actor_label,
            ip=ip,
            action=action,
            dispute_id=dispute_id,
            object_type=object_type,
            object_id=object_id,
            before=before,
            after=after,
        )
        + json.dumps(prev_hash, ensure_ascii=False)[1:]
        + f',"seq":{json.dumps(seq)}}}'
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _digest_of(event: AuditEvent) -> str:
    return event_digest(
        seq=event.seq,
        created_at=event.created_at,
        actor_id=event.actor_id,
        actor_label=event.actor_label,
        ip=event.ip,
        action=event.action,
        dispute_id=event.dispute_id,
        object_type=event.object_type,
        object_id=event.object_id,
        before=event.before,
        after=event.after,
        prev_hash=event.prev_hash,
    )


def _share_the_case_first(dispute: Dispute | None) -> None:
    """On PostgreSQL, the event's reference to its case takes a KEY SHARE lock on the
    case's row when the event is inserted, which waits for a transaction holding that row
    FOR UPDATE (a service that locked the case). Taken after the head's lock, it would
    deadlock with such a transaction waiting for the head (a room's leave, which locks the
    session only, against the mediator's draft, which locks the case: seen through nginx
    with two Daphne processes). So it is taken first, before the head: a writer waits for
    the case without holding the head. (SQLite locks the whole database: nothing to do.)"""
    if dispute is None or connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {Dispute._meta.db_table} WHERE id = %s FOR KEY SHARE", [dispute.pk]
        )


def _payload_before_the_link(
    *,
    created_at: datetime,
    actor_id: int | None,
    actor_label: str,
    ip: str | None,
    action: str,
    dispute_id: int | None,
    object_type: str,
    object_id: str,
    before: dict,
    after: dict,
) -> str:
    """`event_digest`'s payload up to the previous event's hash: its keys are sorted and
    "prev" and "seq" are the last two, so the payload is this text, then the previous
    hash, then `","seq":` and the event's number and `}` (the same bytes `event_digest`
    hashes: tests/odr/test_audit_chain_postgres.py)."""
    body = json.dumps(
        {
            "at": created_at.isoformat(),
            "actor": actor_id,
            "actor_label": actor_label,
            "ip": ip,
            "action": action,
            "dispute": dispute_id,
            "object": [object_type, str(object_id)],
            "before": before,
            "after": after,
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return body[:-1] + ',"prev":"'


_CHAINED = ("seq", "prev_hash", "hash")


def _append_in_one_statement(
    event: AuditEvent, *, commit: bool = False, along: Sequence[Statement] = ()
) -> bool:
    """PostgreSQL: the head's lock, the event's place in the chain, its hash, the head's
    move and the event's row in one statement (issue 14, point 4). The head is locked by
    the statement's first step and the hash is computed by the database (sha256 of the
    payload, the previous hash put in by the statement), so the head is held for this
    one statement and the commit: no round trip to Python, and no wait for Python's
    interpreter lock, while every audited write of the platform waits for it. The chain
    is the one `event_digest` defines and `verify_chain` checks. False when there is no
    head yet (the chain's first write): nothing was written.

    `commit`: the statement carries the COMMIT of the caller's transaction (sent with it,
    in one message): the database releases the head as soon as the commit's WAL is
    flushed, without waiting for Python to read the answer and send the COMMIT (with
    several threads in one process, that wait is for the interpreter's lock). A failing
    statement stops the message before the COMMIT: the transaction is left aborted and
    rolls back as any failed write does.

    `along`: the caller's statements that go first in the same message (their rows are
    written before the head is locked, as when sent on their own)."""
    quote = connection.ops.quote_name
    head, table = quote(AuditHead._meta.db_table), quote(AuditEvent._meta.db_table)
    fields = [
        f
        for f in AuditEvent._meta.concrete_fields
        if not f.primary_key and f.attname not in _CHAINED
    ]
    columns = ", ".join(quote(f.column) for f in fields)
    values = [f.get_db_prep_save(getattr(event, f.attname), connection) for f in fields]
    prefix = _payload_before_the_link(
        created_at=event.created_at,
        actor_id=event.actor_id,
        actor_label=event.actor_label,
        ip=event.ip,
        action=event.action,
        dispute_id=event.dispute_id,
        object_type=event.object_type,
        object_id=event.object_id,
        before=event.before,
        after=event.after,
    )
    # With the commit, the event must be written or nothing: the head is made first if
    # the chain has none yet (the database's first event), and a head missing all the
    # same leaves the event without a number, which fails the statement before the
    # COMMIT (the head's row is never deleted but by tampering: verify_chain says so).
    ensure = (
        f"INSERT INTO {head} ({quote('id')}, {quote('last_seq')}, {quote('last_hash')}) "
        f"VALUES (1, 0, '{GENESIS}') ON CONFLICT ({quote('id')}) DO NOTHING; "
    )
    source = "(VALUES (1)) AS one (x) LEFT JOIN head ON true" if commit else "head"
    first = "".join(f"{sql}; " for sql, _params in along)
    with connection.cursor() as cursor:
        cursor.execute(
            first
            + (ensure if commit else "")
            + f"WITH head AS (SELECT {quote('last_seq')} + 1 AS seq, {quote('last_hash')} AS prev "
            f"FROM {head} WHERE {quote('id')} = 1 FOR UPDATE), "
            "chained AS (SELECT seq, prev, encode(sha256(convert_to("
            "%s || prev || '\",\"seq\":' || seq || '}', 'UTF8')), 'hex') AS hash "
            f"FROM {source}), "
            f"moved AS (UPDATE {head} SET {quote('last_seq')} = chained.seq, "
            f"{quote('last_hash')} = chained.hash FROM chained WHERE {head}.{quote('id')} = 1) "
            f"INSERT INTO {table} ({columns}, {quote('seq')}, {quote('prev_hash')}, "
            f"{quote('hash')}) SELECT {', '.join(['%s'] * len(fields))}, seq, prev, hash "
            f"FROM chained RETURNING {quote('id')}, {quote('seq')}, {quote('prev_hash')}, "
            f"{quote('hash')}" + ("; COMMIT" if commit else ""),
            [*(p for _sql, params in along for p in params), prefix, *values],
        )
        # Past the caller's statements and the head's insert, to the event's row.
        for _ in range(len(along) + commit):
            cursor.nextset()
        row = cursor.fetchone()
    if row is None:
        return False
    event.pk, event.seq, event.prev_hash, event.hash = row
    event._state.adding, event._state.db = False, connection.alias
    return True


@dataclass(frozen=True)
class _Entry:
    """An event as known before the head's lock: everything but its place in the chain."""

    action: str
    obj: models.Model
    actor_id: int | None
    actor_label: str
    ip: str | None
    dispute: Dispute | None
    before: dict
    after: dict


def _entry(
    *,
    action: str,
    obj: models.Model,
    actor: AbstractBaseUser | None = None,
    dispute: Dispute | None = None,
    before: dict | None = None,
    after: dict | None = None,
    ip: str | None = None,
    actor_label: str = "",
) -> _Entry:
    if words_for(action) is None:
        raise ValueError(f"audit action {action!r} is not declared in odr.lifecycle")
    actor_id = actor.pk if actor is not None and actor.is_authenticated else None
    if not actor_label and actor_id is not None:
        actor_label = actor.get_username()
    return _Entry(
        action=action,
        obj=obj,
        actor_id=actor_id,
        actor_label=actor_label,
        ip=ip or get_client_ip(),
        dispute=dispute,
        before=_jsonable(before or {}),
        after=_jsonable(after or {}),
    )


def _unchained(entry: _Entry) -> AuditEvent:
    """The entry's event before its place in the chain is known (PostgreSQL: the statement
    that appends it gives it its number, the previous hash and its own)."""
    return AuditEvent(
        created_at=timezone.now(),
        actor_id=entry.actor_id,
        actor_label=entry.actor_label,
        ip=entry.ip,
        action=entry.action,
        dispute=entry.dispute,
        object_type=entry.obj._meta.label_lower,
        object_id=str(entry.obj.pk),
        before=entry.before,
        after=entry.after,
    )


def _chained(entry: _Entry, head: AuditHead) -> AuditEvent:
    """The entry's event at the end of the chain, the (locked) head moved on to it."""
    fields = {
        "seq": head.last_seq + 1,
        "created_at": timezone.now(),
        "actor_id": entry.actor_id,
        "actor_label": entry.actor_label,
        "ip": entry.ip,
        "action": entry.action,
        "object_type": entry.obj._meta.label_lower,
        "object_id": str(entry.obj.pk),
        "before": entry.before,
        "after": entry.after,
        "prev_hash": head.last_hash,
    }
    digest = event_digest(dispute_id=entry.dispute.pk if entry.dispute else None, **fields)
    head.last_seq, head.last_hash = fields["seq"], digest
    return AuditEvent(dispute=entry.dispute, hash=digest, **fields)


def log_action(
    *,
    action: str,
    obj: models.Model,
    actor: AbstractBaseUser | None = None,
    dispute: Dispute | None = None,
    before: dict | None = None,
    after: dict | None = None,
    ip: str | None = None,
    actor_label: str = "",
    case_is_new: bool = False,
    ends_transaction: bool = False,
    along: Sequence[Statement] = (),
) -> AuditEvent:
    """Append one event. Runs inside the caller's transaction, so the event and the change
    it records commit or roll back together. The action must be declared with its words
    (odr.lifecycle.register_events): an undeclared one is a programming error.
    `case_is_new`: the caller's transaction inserted the case (a filing): no other
    transaction can see its row, let alone lock it, so the case is not shared first.
    `ends_transaction`: the caller writes nothing more in its transaction, which is the
    outermost (`transaction.atomic()` with no other around it) and ends when this returns:
    on PostgreSQL the event's statement then carries the commit (`_append_in_one_statement`),
    and the caller's `atomic` finds its transaction committed and runs its on-commit
    callbacks as usual. Anywhere else (a transaction around the caller's, a savepoint,
    SQLite) the flag changes nothing.
    `along`: statements of the caller's write (odr.services.common.insert_statement)
    that are sent just before the event: on PostgreSQL in the event's own message (no
    round trip of their own), elsewhere one by one. A savepoint-free write like the
    event's: their failure fails the caller's transaction."""
    entry = _entry(
        action=action,
        obj=obj,
        actor=actor,
        dispute=dispute,
        before=before,
        after=after,
        ip=ip,
        actor_label=actor_label,
    )
    # The head's lock serialises every audited write of the platform until its transaction
    # commits: what does not need the lock is done before it. No savepoint: a failure here
    # fails the caller's whole write, which is what it must do anyway (issue 14: two
    # queries less on every audited write).
    # Only the caller's own atomic block is open (ours is not entered yet), no savepoint,
    # nothing failed: the transaction is the caller's alone to end.
    commit = (
        ends_transaction
        and connection.vendor == "postgresql"
        and len(connection.atomic_blocks) == 1
        and not connection.savepoint_ids
        and not connection.needs_rollback
        # Several statements in one message need client-side binding (Django's default).
        and not connection.settings_dict["OPTIONS"].get("server_side_binding")
    )
    with transaction.atomic(savepoint=False):
        if not case_is_new:
            _share_the_case_first(dispute)
        if connection.vendor == "postgresql":
            event = _unchained(entry)
            written = _append_in_one_statement(event, commit=commit, along=along)
            if written:
                return event
            along = ()  # written all the same (the chain had no head yet)
        for sql, params in along:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
        head, _ = AuditHead.objects.select_for_update().get_or_create(id=1)
        event = _chained(entry, head)
        event.save(force_insert=True)
        head.save(update_fields=["last_seq", "last_hash"])
    return event


@dataclass(frozen=True)
class ChainProblem:
    seq: int | None
    message: str


def verify_chain() -> Iterator[ChainProblem]:
    """Yields every place where the stored chain is not what was written: an edited event
    (its hash no longer matches), a reordered or deleted one (a gap in seq or a broken
    link), or a deleted tail (the head records more than is there)."""
    expected_prev = GENESIS
    expected_seq = 1
    last_seq = 0
    for event in AuditEvent.objects.order_by("seq").iterator(chunk_size=2000):
        if event.seq != expected_seq:
            yield ChainProblem(
                event.seq, f"event #{event.seq} follows #{expected_seq - 1}: events are missing"
            )
        if event.prev_hash != expected_prev:
            yield ChainProblem(
                event.seq, f"event #{event.seq} does not link to the event before it"
            )
        if _digest_of(event) != event.hash:
            yield ChainProblem(event.seq, f"event #{event.seq} was changed after it was written")
        expected_prev = event.hash
        expected_seq = event.seq + 1
        last_seq = event.seq
    head = AuditHead.objects.filter(id=1).first()
    if head is None:
        if last_seq:
            yield ChainProblem(None, "the chain's head record is missing: it was deleted")
    elif head.last_seq > last_seq:
        yield ChainProblem(
            None,
            f"the chain ends at #{last_seq} but #{head.last_seq} was written: "
            "events at the end were deleted",
        )
    elif head.last_seq != last_seq or head.last_hash != expected_prev:
        yield ChainProblem(
            None,
            f"the chain's last event #{last_seq} is not the one recorded as written "
            f"(#{head.last_seq}): the end of the chain was replaced",
        )


def log_actions(entries: list[dict[str, Any]]) -> list[AuditEvent]:
    """Append several events at once, in the order given (issue 13: a burst of room joins
    served in one transaction): each entry holds `log_action`'s keyword arguments
    (action, obj, actor, dispute, before, after, ip, actor_label). The head is locked
    once, the events are chained in order and inserted together: one head lock, one
    insert and one head update for the lot instead of three queries each. Runs inside
    the caller's transaction, like `log_action`."""
    if not entries:
        return []
    prepared = [_entry(**entry) for entry in entries]
    with transaction.atomic(savepoint=False):
        # Every case shared before the head, in a fixed order (see _share_the_case_first).
        disputes = {e.dispute.pk: e.dispute for e in prepared if e.dispute is not None}
        for pk in sorted(disputes):
            _share_the_case_first(disputes[pk])
        head, _ = AuditHead.objects.select_for_update().get_or_create(id=1)
        events = [_chained(entry, head) for entry in prepared]
        AuditEvent.objects.bulk_create(events)
        head.save(update_fields=["last_seq", "last_hash"])
    return events
