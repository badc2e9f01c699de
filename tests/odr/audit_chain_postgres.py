"""Run as a script by test_audit_chain_postgres.py on PostgreSQL, in a fresh process:
migrate, seed, then append audit events the ways the platform does (one event, a batch,
one carrying its transaction's commit) from many threads at once, with payloads that test
the database's hash against Python's. Prints what it saw, as JSON on the last line."""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, connections, transaction  # noqa: E402

THREADS = int(os.environ.get("AUDIT_THREADS", "8"))
PER_THREAD = int(os.environ.get("AUDIT_PER_THREAD", "12"))

# What JSON and UTF-8 make hard: quotes, backslashes, control characters (jsonb keeps no
# NUL), line and paragraph separators, characters outside the BMP, Chinese, numbers,
# nesting, nulls.
AWKWARD = {
    "case_number": "(2026)安吉矛调第0001号",
    "quote": 'he said "no" \\ then left',
    "lines": "first\nsecond\r\n\tthird\u2028\u2029",
    "control": "\x01\x1f",
    "emoji": "调解 🤝 done",
    "amount": 10000.5,
    "count": 3,
    "flag": True,
    "none": None,
    "nested": {"b": [1, "二", {"c": None}], "a": []},
}


class Rollback(Exception):
    pass


def main() -> None:
    call_command("migrate", verbosity=0)
    from django.contrib.auth import get_user_model

    from odr.audit import event_digest, log_action, log_actions, verify_chain
    from odr.models import AuditEvent, AuditHead, Dispute
    from tests import factories

    out: dict = {"vendor": connection.vendor}

    # 0. A fresh database has no head: the first event, carrying its commit, makes it.
    first_user = get_user_model().objects.create_user(username="first", email="first@example.com")
    no_head_before = not AuditHead.objects.exists()
    with transaction.atomic():
        first = log_action(action="party.update", obj=first_user, ends_transaction=True)
    out["first"] = {
        "no_head_before": no_head_before,
        "seq": first.seq,
        "prev_is_genesis": first.prev_hash == "0" * 64,
        "head": list(AuditHead.objects.values_list("last_seq", "last_hash").get(id=1)),
        "hash": first.hash,
    }

    factories.seed_demo()
    dispute = factories.file_dispute()  # through the API's service: its events are chained too
    user = get_user_model().objects.get(email="citizen1@demo.odr")

    # 1. The database's hash is Python's, for awkward payloads, an address of each kind
    # and none, an actor and none.
    awkward = []
    for ip, actor in (("203.0.113.7", user), ("2001:db8::1", None), (None, user)):
        with transaction.atomic():
            event = log_action(
                action="party.update",
                obj=dispute,
                actor=actor,
                dispute=dispute,
                before={"name": "张三"},
                after=AWKWARD,
                ip=ip,
            )
        stored = AuditEvent.objects.get(pk=event.pk)
        recomputed = event_digest(
            seq=stored.seq,
            created_at=stored.created_at,
            actor_id=stored.actor_id,
            actor_label=stored.actor_label,
            ip=stored.ip,
            action=stored.action,
            dispute_id=stored.dispute_id,
            object_type=stored.object_type,
            object_id=stored.object_id,
            before=stored.before,
            after=stored.after,
            prev_hash=stored.prev_hash,
        )
        awkward.append(
            {
                "returned_is_stored": (event.seq, event.prev_hash, event.hash)
                == (stored.seq, stored.prev_hash, stored.hash),
                "hash_is_pythons": recomputed == stored.hash,
                "after_kept": stored.after == json.loads(json.dumps(AWKWARD)),
            }
        )
    out["awkward"] = awkward

    # 2. An event that carries its transaction's commit: the head is free (another
    # connection locks it at once, NOWAIT) before the caller's block has even ended, and
    # the caller's on-commit callbacks still run, once.
    ran: list[str] = []
    free_before_exit: list[bool] = []

    def head_is_free() -> None:
        try:
            with transaction.atomic():
                AuditHead.objects.select_for_update(nowait=True).get(id=1)
            free_before_exit.append(True)
        except Exception:  # noqa: BLE001 - a lock held is the answer, not an error
            free_before_exit.append(False)
        finally:
            connections.close_all()

    with transaction.atomic():
        transaction.on_commit(lambda: ran.append("callback"))
        event = log_action(
            action="party.update", obj=dispute, dispute=dispute, ends_transaction=True
        )
        other = threading.Thread(target=head_is_free)
        other.start()
        other.join()
    out["commit_carried"] = {
        "head_free_before_exit": free_before_exit,
        "callbacks": ran,
        "stored": AuditEvent.objects.filter(pk=event.pk).exists(),
    }

    # 3. The flag is ignored where the transaction is not the caller's alone to end: an
    # enclosing block or a savepoint. A rollback there takes the event with it.
    count = AuditEvent.objects.count()
    held: list[bool] = []

    def head_is_held() -> None:
        try:
            with transaction.atomic():
                AuditHead.objects.select_for_update(nowait=True).get(id=1)
            held.append(False)
        except Exception:  # noqa: BLE001
            held.append(True)
        finally:
            connections.close_all()

    for savepoint in (False, True):
        try:
            with transaction.atomic():
                with transaction.atomic(savepoint=savepoint):
                    log_action(
                        action="party.update", obj=dispute, dispute=dispute, ends_transaction=True
                    )
                other = threading.Thread(target=head_is_held)
                other.start()
                other.join()
                raise Rollback
        except Rollback:
            pass
    out["nested"] = {"rolled_back": AuditEvent.objects.count() == count, "head_held": held}

    # 4. A failing event that would have carried the commit (its actor does not exist: the
    # deferred reference fails at the commit): nothing of its transaction is kept.
    count = AuditEvent.objects.count()
    failed = ""
    ghost = get_user_model()(pk=10**9, username="ghost")
    try:
        with transaction.atomic():
            Dispute.objects.filter(pk=dispute.pk).update(title="改过的标题")
            log_action(action="party.update", obj=dispute, actor=ghost, ends_transaction=True)
    except Exception as exc:  # noqa: BLE001 - reported
        failed = type(exc).__name__
    out["failed"] = {
        "error": failed,
        "kept_nothing": AuditEvent.objects.count() == count
        and Dispute.objects.get(pk=dispute.pk).title != "改过的标题",
    }

    # 5. Many writers at once, each way of appending, every thread its own connection.
    connections.close_all()
    before = AuditEvent.objects.count()
    barrier = threading.Barrier(THREADS)
    errors: list[str] = []
    written = [0]
    lock = threading.Lock()

    def writer(index: int) -> None:
        try:
            barrier.wait()
            for i in range(PER_THREAD):
                kind = (index + i) % 3
                with transaction.atomic():
                    if kind == 0:
                        log_action(
                            action="party.update",
                            obj=dispute,
                            dispute=dispute,
                            after={"thread": index, "i": i, "名": "并发"},
                        )
                        n = 1
                    elif kind == 1:
                        log_action(
                            action="party.update",
                            obj=dispute,
                            after={"thread": index, "i": i},
                            ends_transaction=True,
                        )
                        n = 1
                    else:
                        log_actions(
                            [
                                {"action": "party.update", "obj": dispute, "after": {"k": k}}
                                for k in range(2)
                            ]
                        )
                        n = 2
                with lock:
                    written[0] += n
        except Exception as exc:  # noqa: BLE001 - reported
            errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seqs = list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True))
    head = AuditHead.objects.get(id=1)
    out["race"] = {
        "errors": errors,
        "written": written[0],
        "added": AuditEvent.objects.count() - before,
        "gap_free": seqs == list(range(1, len(seqs) + 1)),
        "head_at_end": head.last_seq == seqs[-1],
    }
    out["problems"] = [p.message for p in verify_chain()]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
