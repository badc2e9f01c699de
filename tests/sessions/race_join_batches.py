"""Run as a separate process by test_join_batches: two batches of joins sharing rooms,
given in opposite orders, made at once by two threads (two Daphne processes on one
PostgreSQL database). `lock_sessions` locks the session rows in the order of their ids,
so one batch waits for the other instead of deadlocking. Prints a JSON summary."""

from __future__ import annotations

import json
import os
import threading


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import close_old_connections, connection

    from odr.audit import verify_chain
    from odr.models import AuditEvent
    from sessions import services
    from sessions.models import RoomParticipant
    from tests import factories
    from tests.sessions.conftest import schedule

    call_command("migrate", verbosity=0)
    factories.seed_demo()
    people = [
        factories.demo_user(name)
        for name in ("mediator@demo.odr", "citizen1@demo.odr", "citizen2@demo.odr")
    ]
    sessions = [schedule() for _ in range(6)]
    rounds = 5
    outcome: dict[str, list[str]] = {"forward": [], "backward": []}
    for _round in range(rounds):
        batches = {}
        for name in outcome:
            entries = [
                services.Entry(
                    session_id=s.pk,
                    ticket=services.ticket_issue(session=s, user=who)[0],
                    channel_name=f"{name}.{s.pk}.{who.pk}",
                )
                for s in sessions
                for who in people
            ]
            batches[name] = entries if name == "forward" else entries[::-1]
        start = threading.Barrier(2)

        def run(name: str, entries: list, start: threading.Barrier = start) -> None:
            try:
                start.wait(timeout=30)
                results = services.room_enter_many(entries=entries)
                refused = [r for r in results if isinstance(r, Exception)]
                outcome[name].append("ok" if not refused else f"refused {refused!r}")
            except Exception as exc:  # noqa: BLE001 - reported, not raised
                outcome[name].append(f"{type(exc).__name__}: {exc}")
            finally:
                close_old_connections()

        threads = [threading.Thread(target=run, args=item) for item in batches.items()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    print(
        json.dumps(
            {
                "vendor": connection.vendor,
                "outcome": outcome,
                "joins": AuditEvent.objects.filter(action="session.join").count(),
                "connected": RoomParticipant.objects.filter(connected=True).count(),
                "problems": [p.message for p in verify_chain()],
                "rounds": rounds,
            }
        )
    )


if __name__ == "__main__":
    main()
