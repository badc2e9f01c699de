"""Run as a script by test_case_numbers.py, in a fresh process against a real database
(file-based SQLite in WAL mode, or PostgreSQL): migrate, seed, then file disputes from
many threads at once. Prints the case numbers given, as JSON, on the last line."""

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
from django.db import connection, connections  # noqa: E402

THREADS = int(os.environ.get("FILING_THREADS", "8"))
PER_THREAD = int(os.environ.get("FILING_PER_THREAD", "3"))


def main() -> None:
    call_command("migrate", verbosity=0)
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    from django.contrib.auth import get_user_model

    from odr import services
    from odr.audit import verify_chain

    applicant_id = get_user_model().objects.get(email="citizen1@demo.odr").pk
    connections.close_all()
    barrier = threading.Barrier(THREADS)
    numbers: list[str] = []
    errors: list[str] = []
    lock = threading.Lock()

    def file_many(index: int) -> None:
        try:
            applicant = get_user_model().objects.get(pk=applicant_id)
            barrier.wait()
            for n in range(PER_THREAD):
                dispute = services.dispute_file(
                    applicant=applicant,
                    category="debt",
                    title=f"并发{index}-{n}",
                    description="并发立案",
                    region_code="330523000000",
                    respondent_name="李四",
                    respondent_email=f"r{index}-{n}@example.com",
                )
                with lock:
                    numbers.append(dispute.case_number)
        except Exception as exc:  # noqa: BLE001 - reported to the test, which fails on it
            with lock:
                errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            connection.close()

    threads = [threading.Thread(target=file_many, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    races = _race_transitions()
    problems = [p.message for p in verify_chain()]
    print(
        json.dumps(
            {
                "numbers": numbers,
                "errors": errors,
                "races": races,
                "audit_problems": problems,
                "vendor": connection.vendor,
                "journal_mode": _journal_mode(),
            }
        )
    )


def _race(callables: list) -> dict[str, int]:
    """Runs the callables at the same instant, one thread each; counts the outcomes."""
    barrier = threading.Barrier(len(callables))
    outcomes: dict[str, int] = {}
    lock = threading.Lock()

    def run(call) -> None:
        from odr.errors import DomainError

        try:
            barrier.wait()
            call()
            key = "ok"
        except DomainError as exc:
            key = exc.code
        except Exception as exc:  # noqa: BLE001 - reported to the test, which fails on it
            key = f"{type(exc).__name__}: {exc}"
        finally:
            connection.close()
        with lock:
            outcomes[key] = outcomes.get(key, 0) + 1

    threads = [threading.Thread(target=run, args=(c,)) for c in callables]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def _race_transitions() -> dict:
    """Moves that read a status and then write it, pressed by several people at once:
    exactly one may win, the others must see the new status (DESIGN.md §2: row lock)."""
    from django.contrib.auth import get_user_model

    from odr import services
    from odr.models import AuditEvent, Dispute

    users = get_user_model().objects
    applicant = users.get(email="citizen1@demo.odr")
    respondent = users.get(email="citizen2@demo.odr")
    coordinator = users.get(email="coordinator@demo.odr")
    mediator = users.get(email="mediator@demo.odr")
    dispute = services.dispute_file(
        applicant=applicant,
        category="debt",
        title="抢答",
        description="同时答复",
        region_code="330523000000",
        respondent_name="李四",
        respondent_email="citizen2@demo.odr",
    )
    token = dispute.parties.get(role="respondent").invitation.token
    connections.close_all()
    answers = _race(
        [
            lambda: services.invitation_accept(token=token, user=respondent, consent_online=True)
            for _ in range(4)
        ]
    )
    connections.close_all()
    fresh = Dispute.objects.get(pk=dispute.pk)
    intake = _race(
        [
            lambda: services.dispute_accept(dispute=fresh, actor=coordinator, mediator=mediator.pk),
            lambda: services.dispute_reject(dispute=fresh, actor=coordinator, reason="并发"),
            lambda: services.dispute_reject(dispute=fresh, actor=coordinator, reason="再拒"),
            lambda: services.dispute_accept(dispute=fresh, actor=coordinator, mediator=mediator.pk),
        ]
    )
    connections.close_all()
    # The respondent answers while the applicant sends a fresh link: whatever the order,
    # each call ends in an answer or a clear refusal, never a deadlock.
    second = services.dispute_file(
        applicant=applicant,
        category="debt",
        title="重发与答复",
        description="同时",
        region_code="330523000000",
        respondent_name="李四",
        respondent_email="citizen2@demo.odr",
    )
    second_token = second.parties.get(role="respondent").invitation.token
    connections.close_all()
    resend = _race(
        [
            lambda: services.invitation_accept(
                token=second_token, user=respondent, consent_online=True
            ),
            lambda: services.invitation_resend(dispute=second, actor=applicant),
            lambda: services.invitation_accept(
                token=second_token, user=respondent, consent_online=True
            ),
            lambda: services.invitation_resend(dispute=second, actor=applicant),
        ]
    )
    connections.close_all()
    moves = AuditEvent.objects.filter(
        dispute=dispute,
        action__in=["dispute.accept", "dispute.reject"],
    ).count()
    return {
        "answers": answers,
        "respond_events": AuditEvent.objects.filter(
            dispute=dispute, action="dispute.respond_accept"
        ).count(),
        "intake": intake,
        "intake_events": moves,
        "resend": resend,
    }


def _journal_mode() -> str | None:
    if connection.vendor != "sqlite":
        return None
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        return cursor.fetchone()[0]


if __name__ == "__main__":
    main()
