"""Run as a separate process by test_sign_version: a party signs the version they read
while, at the same instant, the mediator revises the agreement, changes the amount and
reopens it, each in its own thread and database connection (the file SQLite database, or
PostgreSQL with DATABASE_URL). Several rounds, so that both orders happen. Prints a JSON
summary: per round what the signer got, and any signature or audit event that binds
another version than the one the signer read (there must be none).

A separate process because the test run's in-memory database cannot be shared by
threads that write at once."""

from __future__ import annotations

import json
import os
import sys
import threading
import time

# The revision starts this much after the signer in each round, so that the signer's
# re-authentication, the first check and the lock fall before, inside and after it.
DELAYS = (0, 0, 0.01, 0.03, 0.08, 0.3)
ROUNDS = len(DELAYS)


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import close_old_connections

    from agreements import services
    from agreements.models import Agreement, Signature
    from odr.models import AuditEvent
    from tests import factories
    from tests.signing import sign_agreement

    call_command("migrate", verbosity=0)
    factories.seed_demo()
    mediator = factories.demo_user("mediator@demo.odr")
    party = factories.demo_user("citizen1@demo.odr")
    rounds: list[dict] = []
    errors: list[str] = []
    for delay in DELAYS:
        agreement = factories.agreement_signing()
        read = agreement.version
        barrier = threading.Barrier(2)
        outcome: dict = {}

        def sign(
            pk: int = agreement.pk,
            read: int = read,
            outcome: dict = outcome,
            barrier: threading.Barrier = barrier,
        ) -> None:
            try:
                barrier.wait(timeout=30)
                sign_agreement(
                    agreement=Agreement.objects.get(pk=pk),
                    actor=party,
                    password=factories.PASSWORD,
                    consent=True,
                    signature_png=factories.signature_png_b64(),
                    version=read,
                )
                outcome["signer"] = "signed"
            except services.VersionChanged:
                outcome["signer"] = "version_changed"
            except Exception as exc:  # noqa: BLE001 - reported in the summary
                errors.append(f"sign: {type(exc).__name__}: {exc}")
            finally:
                close_old_connections()

        def revise(
            pk: int = agreement.pk, barrier: threading.Barrier = barrier, delay: float = delay
        ) -> None:
            try:
                barrier.wait(timeout=30)
                time.sleep(delay)
                revised = services.agreement_revise(
                    agreement=Agreement.objects.get(pk=pk), actor=mediator, reason="金额有误"
                )
                terms = [dict(t) for t in revised.terms]
                terms[0] = {**terms[0], "amount": "50000.00", "text": "归还人民币50,000.00元。"}
                revised = services.agreement_save_draft(
                    dispute=revised.dispute, actor=mediator, data={"terms": terms}
                )
                services.agreement_open(agreement=revised, actor=mediator)
            except Exception as exc:  # noqa: BLE001 - reported in the summary
                errors.append(f"revise: {type(exc).__name__}: {exc}")
            finally:
                close_old_connections()

        threads = [threading.Thread(target=sign), threading.Thread(target=revise)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        final = Agreement.objects.get(pk=agreement.pk)
        signatures = list(Signature.objects.filter(agreement=final, signer=party))
        events = list(AuditEvent.objects.filter(action="agreement.sign", object_id=str(final.pk)))
        rounds.append(
            {
                "read": read,
                "delay": delay,
                "final_version": final.version,
                "signer": outcome.get("signer"),
                # A signature on any other version than the one read is the bug.
                "wrong_signatures": [s.version for s in signatures if s.version != read],
                # Signed before the revision: it must have been voided by it.
                "live_signatures_on_read": [
                    s.pk for s in signatures if s.version == read and s.voided_at is None
                ],
                "signatures": len(signatures),
                "events_binding_another_version": [
                    e.after.get("version")
                    for e in events
                    if e.after.get("version") != e.after.get("version_read")
                ],
            }
        )
    json.dump({"errors": errors, "rounds": rounds}, sys.stdout)


if __name__ == "__main__":
    main()
