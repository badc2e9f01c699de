"""Run as a separate process by test_signing_attempts: wrong passwords on the signing form,
all in flight at once, each in its own thread and database connection, on a real database
(the default file-based SQLite, or PostgreSQL when DATABASE_URL says so). Prints a JSON
summary: per burst, the answers and how many passwords were actually checked.

A separate process because the test run's in-memory database cannot be shared by threads
that write at once. Each password check takes as long as a production hash would (the
tests' MD5 hasher is instant), so that the requests really overlap."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections import Counter
from datetime import timedelta

HASH_SECONDS = 0.05


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import close_old_connections
    from django.utils import timezone

    from agreements import services
    from agreements.models import SigningAttempts
    from odr.errors import DomainError
    from tests import factories

    call_command("migrate", verbosity=0)
    factories.seed_demo()
    user_model = get_user_model()
    user_id = factories.demo_user("citizen1@demo.odr").pk
    checked = Counter()
    lock = threading.Lock()
    real_check = user_model.check_password

    def slow_check(self, raw_password: str) -> bool:
        with lock:
            checked["n"] += 1
        time.sleep(HASH_SECONDS)
        return real_check(self, raw_password)

    user_model.check_password = slow_check

    def burst(n: int) -> dict:
        checked.clear()
        answers: list[str] = []
        barrier = threading.Barrier(n)

        def guess() -> None:
            try:
                user = user_model.objects.get(pk=user_id)
                barrier.wait(timeout=60)
                services.reauthenticate(user=user, password="guess-123456")
                answer = "accepted"
            except DomainError as exc:
                answer = exc.code
            except Exception as exc:  # noqa: BLE001 - reported in the summary
                answer = f"{type(exc).__name__}: {exc}"
            finally:
                close_old_connections()
            with lock:
                answers.append(answer)

        threads = [threading.Thread(target=guess) for _ in range(n)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        return {"answers": dict(Counter(answers)), "checked": checked["n"]}

    first = burst(15)
    locked = burst(41)
    # The window has passed: a new one opens, with its own five.
    SigningAttempts.objects.filter(user_id=user_id).update(
        window_started_at=timezone.now() - timedelta(seconds=services.REAUTH_LOCKOUT_SECONDS + 1)
    )
    next_window = burst(41)
    json.dump(
        {
            "first": first,
            "locked": locked,
            "next_window": next_window,
            "vendor": django.db.connection.vendor,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
