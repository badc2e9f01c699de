"""Run as a script by test_hotline.py, in a fresh process against a real database
(file-based SQLite in WAL mode, or PostgreSQL): migrate, seed, then send the same 12345
ticket from several threads at once. Prints the outcome, as JSON, on the last line."""

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

THREADS = int(os.environ.get("TICKET_THREADS", "6"))


def main() -> None:
    call_command("migrate", verbosity=0)
    call_command("seed_demo", "--no-history", stdout=open(os.devnull, "w"))  # noqa: SIM115
    from django.utils import timezone

    from odr.audit import verify_chain
    from odr.models import Dispute, HotlineTicket, HotlineToken
    from odr.services import hotline

    token_id = HotlineToken.objects.get(name="演示12345热线").pk
    connections.close_all()
    barrier = threading.Barrier(THREADS)
    results: list[tuple[int, bool]] = []
    errors: list[str] = []
    lock = threading.Lock()
    received = timezone.now()

    def send() -> None:
        try:
            token = HotlineToken.objects.select_related("user").get(pk=token_id)
            barrier.wait()
            ticket, created = hotline.ticket_receive(
                token=token,
                ticket_id="BJ-RACE-0001",
                received_at=received,
                caller_name="王五",
                caller_phone="13812345678",
                text="邻居装修噪音扰民",
                region_code="330523101201",
                category="neighbour",
            )
            with lock:
                results.append((ticket.pk, created))
        except Exception as exc:  # noqa: BLE001 - reported to the test, which fails on it
            with lock:
                errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(
        json.dumps(
            {
                "ids": sorted({pk for pk, _ in results}),
                "created": sum(1 for _, created in results if created),
                "answers": len(results),
                "errors": errors,
                "tickets": HotlineTicket.objects.filter(ticket_id="BJ-RACE-0001").count(),
                "disputes": Dispute.objects.filter(channel="hotline").count(),
                "audit_problems": [p.message for p in verify_chain()],
                "vendor": connection.vendor,
            }
        )
    )


if __name__ == "__main__":
    main()
