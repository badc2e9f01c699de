"""Run as a separate process by test_signing: two parties sign the same agreement at the
same instant, each in its own thread and database connection, on the platform's default
file-based SQLite database (WAL, immediate transactions). Prints a JSON summary.

A separate process because the test run's in-memory database cannot be shared by
threads that write at once; this is the configuration the platform really runs with."""

from __future__ import annotations

import json
import os
import sys
import threading


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import close_old_connections

    from agreements.models import Agreement, Signature
    from odr.models import AuditEvent
    from tests import factories

    call_command("migrate", verbosity=0)
    factories.seed_demo()
    agreement = factories.agreement_signing()
    barrier = threading.Barrier(2)
    errors: list[str] = []

    def sign(email: str) -> None:
        try:
            barrier.wait(timeout=30)
            factories.agreement_sign_as(Agreement.objects.get(pk=agreement.pk), email)
        except Exception as exc:  # noqa: BLE001 - reported in the summary
            errors.append(f"{email}: {type(exc).__name__}: {exc}")
        finally:
            close_old_connections()

    threads = [
        threading.Thread(target=sign, args=(email,))
        for email in ("citizen1@demo.odr", "citizen2@demo.odr")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    roles = sorted(Signature.objects.filter(agreement=agreement).values_list("role", flat=True))
    sign_events = AuditEvent.objects.filter(action="agreement.sign").count()
    final = None
    if not errors:
        factories.agreement_sign_as(Agreement.objects.get(pk=agreement.pk), "mediator@demo.odr")
        final = Agreement.objects.get(pk=agreement.pk).status
    json.dump({"errors": errors, "roles": roles, "events": sign_events, "final": final}, sys.stdout)


if __name__ == "__main__":
    main()
