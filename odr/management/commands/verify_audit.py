"""`manage.py verify_audit`: walks the hash-chained audit trail and reports every edited,
reordered or deleted event (issue 2 §8). Exits 1 when anything is wrong, so a cron job or
a monitoring check can alert on it."""

from typing import Any

from django.core.management.base import BaseCommand

from odr.audit import verify_chain
from odr.models import AuditEvent


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain; exit 1 and list the problems if it is broken."

    def handle(self, *args: Any, **options: Any) -> None:
        problems = 0
        for problem in verify_chain():
            problems += 1
            where = f"#{problem.seq}" if problem.seq is not None else "chain"
            self.stderr.write(f"PROBLEM {where}: {problem.message}")
        if problems:
            self.stderr.write(
                self.style.ERROR(f"The audit trail is NOT intact: {problems} problem(s).")
            )
            raise SystemExit(1)
        count = AuditEvent.objects.count()
        self.stdout.write(self.style.SUCCESS(f"OK: {count} audit events, the chain is intact."))
