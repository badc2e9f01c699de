"""Both parties apply for judicial confirmation at the same instant: each in its own
thread and database connection, on the platform's file-based SQLite database (WAL,
immediate transactions), run as a separate process because the test run's in-memory
database cannot be shared by threads writing at once. The agreement's row lock makes the
second wait for the first, so the second always sees the first consent and submits."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from tests.signing import sign_application


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import close_old_connections

    from agreements.models import Agreement, ConfirmationRequest
    from odr.models import AuditEvent
    from tests import factories

    call_command("migrate", verbosity=0)
    factories.seed_demo()
    agreement = factories.agreement_in_force()
    barrier = threading.Barrier(2)
    errors: list[str] = []

    def apply(email: str) -> None:
        try:
            barrier.wait(timeout=30)
            sign_application(
                agreement=Agreement.objects.get(pk=agreement.pk),
                actor=factories.demo_user(email),
            )
        except Exception as exc:  # noqa: BLE001 - reported in the summary
            errors.append(f"{email}: {type(exc).__name__}: {exc}")
        finally:
            close_old_connections()

    threads = [
        threading.Thread(target=apply, args=(email,))
        for email in ("citizen1@demo.odr", "citizen2@demo.odr")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    request = ConfirmationRequest.objects.get(agreement=agreement)
    json.dump(
        {
            "errors": errors,
            "status": request.status,
            "both": bool(request.applicant_consented_at and request.respondent_consented_at),
            "application": bool(request.application_pdf),
            "events": list(
                AuditEvent.objects.filter(action__startswith="confirmation.")
                .order_by("seq")
                .values_list("action", flat=True)
            ),
        },
        sys.stdout,
    )


def test_two_parties_applying_at_the_same_instant_both_count(settings, tmp_path):
    shm = Path("/dev/shm")
    data_dir = Path(tempfile.mkdtemp(dir=shm if shm.is_dir() else tmp_path))
    env = {
        **os.environ,
        "ODR_DATA_DIR": str(data_dir),
        "ODR_PKI_DIR": str(tmp_path / "pki"),
        "ODR_EMAIL_DIR": str(tmp_path / "mail"),
        "ODR_TESTING": "1",
        "DJANGO_DEBUG": "1",
    }
    env.pop("DATABASE_URL", None)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "tests.agreements.test_confirmation_race"],
            cwd=settings.BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["errors"] == []
    assert result["status"] == "pending" and result["both"] and result["application"]
    assert result["events"] == [
        "confirmation.apply",
        "confirmation.consent",
        "confirmation.consent",
        "confirmation.submit",
    ]


if __name__ == "__main__":
    main()
