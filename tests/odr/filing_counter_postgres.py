"""Run as a script by test_filing_counter.py on PostgreSQL, in a fresh process: migrate,
seed, then file from many threads at once (to one organisation, then to three), hold a
filing's transaction open while another connection draws a number, fail a filing after
its draw, cross a year, and file inside a caller's transaction. Prints what it saw, as
JSON on the last line."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import threading
import time
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, connections, transaction  # noqa: E402

THREADS = int(os.environ.get("FILING_THREADS", "6"))
PER_THREAD = int(os.environ.get("FILING_PER_THREAD", "4"))
# Region, category and the organisation's case code it is routed to (the demo's).
CENTRE = ("330523000000", "debt", "安吉矛调")
VILLAGE = ("330523101201", "neighbour", "余村调")
TOWNSHIP = ("330523101000", "contract", "天荒坪调")


def file_one(applicant, target: tuple[str, str, str], title: str):
    from odr import services

    region, category, _code = target
    return services.dispute_file(
        applicant=applicant,
        category=category,
        title=title,
        description="并发立案",
        region_code=region,
        respondent_name="李四",
        respondent_email=f"{title}@example.com",
    )


def race(targets_of: list[list[tuple[str, str, str]]]) -> tuple[list[str], list[str]]:
    """Each thread files its list of targets, all threads starting at once."""
    from django.contrib.auth import get_user_model

    applicant_id = get_user_model().objects.get(email="citizen1@demo.odr").pk
    connections.close_all()
    barrier = threading.Barrier(len(targets_of))
    numbers: list[str] = []
    errors: list[str] = []
    lock = threading.Lock()

    def run(index: int) -> None:
        try:
            applicant = get_user_model().objects.get(pk=applicant_id)
            barrier.wait()
            for n, target in enumerate(targets_of[index]):
                dispute = file_one(applicant, target, f"t{index}-{n}")
                with lock:
                    numbers.append(dispute.case_number)
        except Exception as exc:  # noqa: BLE001 - reported to the test, which fails on it
            with lock:
                errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(targets_of))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return numbers, errors


def counter_row_free(organisation_id: int, year: int) -> dict:
    """From a connection of its own (another thread): may the counter's row be locked at
    once, and what number does a draw give meanwhile?"""
    from odr.models import CaseCounter, Organisation
    from odr.services.filing import _next_case_number

    out: dict = {}

    def probe() -> None:
        try:
            with transaction.atomic():
                CaseCounter.objects.select_for_update(nowait=True).get(
                    organisation_id=organisation_id, year=year
                )
            out["row_lockable"] = True
        except Exception as exc:  # noqa: BLE001 - the answer is what was raised
            out["row_lockable"] = type(exc).__name__
        try:
            with connection.cursor() as cursor:
                cursor.execute("SET lock_timeout = '2s'")
            started = time.monotonic()
            out["drawn"] = _next_case_number(Organisation.objects.get(pk=organisation_id), year)
            out["draw_seconds"] = time.monotonic() - started
        except Exception as exc:  # noqa: BLE001
            out["drawn"] = type(exc).__name__
        finally:
            connection.close()

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join()
    return out


def held_open(*, in_callers_transaction: bool) -> dict:
    """A filing stopped inside its transaction (its dispute row written, its number
    taken) while another connection tries the counter's row and draws a number."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from odr.services import filing

    applicant = get_user_model().objects.get(email="citizen1@demo.odr")
    inside, go = threading.Event(), threading.Event()
    seen: dict = {}
    real = filing.invitations_create

    def invitations_then_wait(**kwargs):
        made = real(**kwargs)
        inside.set()
        go.wait(30)
        return made

    def run() -> None:
        try:
            with mock.patch.object(filing, "invitations_create", invitations_then_wait):
                if in_callers_transaction:
                    with transaction.atomic():
                        seen["number"] = file_one(applicant, CENTRE, "held-in").case_number
                else:
                    seen["number"] = file_one(applicant, CENTRE, "held").case_number
        except Exception as exc:  # noqa: BLE001
            seen["error"] = f"{type(exc).__name__}: {exc}"
        finally:
            connection.close()

    from odr.models import Organisation

    centre = Organisation.objects.get(case_code=CENTRE[2])
    connections.close_all()
    thread = threading.Thread(target=run)
    thread.start()
    assert inside.wait(30), seen
    probe = counter_row_free(centre.pk, timezone.localdate().year)
    go.set()
    thread.join()
    return {**seen, **probe}


def main() -> None:
    call_command("migrate", verbosity=0)
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    import time_machine
    from django.contrib.auth import get_user_model

    from odr.audit import verify_chain
    from odr.services import filing

    one, one_errors = race([[CENTRE] * PER_THREAD for _ in range(THREADS)])
    targets = [CENTRE, VILLAGE, TOWNSHIP]
    several, several_errors = race(
        [[targets[(i + n) % 3] for n in range(PER_THREAD)] for i in range(THREADS)]
    )
    connections.close_all()
    held = held_open(in_callers_transaction=False)
    connections.close_all()
    held_in = held_open(in_callers_transaction=True)
    connections.close_all()

    applicant = get_user_model().objects.get(email="citizen1@demo.odr")
    before_failure = file_one(applicant, CENTRE, "before-failure").case_number
    with mock.patch.object(filing, "invitation_send", side_effect=RuntimeError("refused")):
        try:
            file_one(applicant, CENTRE, "failed")
            failed = "filed"
        except RuntimeError as exc:
            failed = str(exc)
    after_failure = file_one(applicant, CENTRE, "after-failure").case_number
    with time_machine.travel(dt.datetime(2031, 1, 2, 12, tzinfo=dt.UTC), tick=False):
        next_year = [file_one(applicant, CENTRE, f"year{n}").case_number for n in range(2)]

    print(
        json.dumps(
            {
                "vendor": connection.vendor,
                "one": one,
                "one_errors": one_errors,
                "several": several,
                "several_errors": several_errors,
                "held": held,
                "held_in": held_in,
                "failure": [before_failure, failed, after_failure],
                "next_year": next_year,
                "audit_problems": [p.message for p in verify_chain()],
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
