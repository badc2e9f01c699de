"""Run as a separate process by test_audit_deadlock: two audited writes of one case at
once, as through nginx with two Daphne processes. One locks the case's row first (the
mediator's draft: `select_for_update` on the dispute, then its audit event); the other
locks no case row (a room's leave: it locks its session) and writes its audit event while
the first still holds the case. The event's reference to the case needs a KEY SHARE lock
on the case's row; taken after the audit head's lock, the two waited for each other until
PostgreSQL killed one ("deadlock detected"). Prints a JSON summary: what each got."""

from __future__ import annotations

import json
import os
import threading
import time


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import close_old_connections, connection, transaction

    from odr.audit import log_action
    from odr.models import AuditEvent, Dispute
    from tests import factories

    call_command("migrate", verbosity=0)
    factories.seed_demo()
    dispute = factories.file_dispute()
    holds_case = threading.Event()
    outcome: dict[str, str] = {}

    def case_first() -> None:
        try:
            with transaction.atomic():
                Dispute.objects.select_for_update().get(pk=dispute.pk)
                holds_case.set()
                time.sleep(1.0)  # the other write reaches its audit event meanwhile
                log_action(action="party.update", obj=dispute, dispute=dispute)
            outcome["case_first"] = "ok"
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            outcome["case_first"] = f"{type(exc).__name__}: {exc}"
        finally:
            close_old_connections()

    def audit_only() -> None:
        try:
            holds_case.wait(timeout=30)
            with transaction.atomic():
                log_action(action="party.update", obj=dispute, dispute=dispute)
            outcome["audit_only"] = "ok"
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            outcome["audit_only"] = f"{type(exc).__name__}: {exc}"
        finally:
            close_old_connections()

    threads = [threading.Thread(target=case_first), threading.Thread(target=audit_only)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    events = AuditEvent.objects.filter(action="party.update", dispute=dispute).count()
    print(json.dumps({"vendor": connection.vendor, "outcome": outcome, "events": events}))


if __name__ == "__main__":
    main()
