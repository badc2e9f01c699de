"""Run as a script by test_filing_queries.py on PostgreSQL, in a fresh process: migrate,
seed, 5,000 open cases of one village by bulk inserts, then filings through the API with
the database task queue (production's). Prints, as JSON on the last line, the statements
of one filing, the task rows queued, the chain's problems and the duplicate check's plan."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["ODR_TASKS_IMMEDIATE"] = "0"

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, reset_queries  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

VILLAGE = "330523100201"


def body(n: int) -> str:
    return json.dumps(
        {
            "category": "debt",
            "title": f"借款纠纷{n}",
            "description": "2025年3月借给对方一万元，至今未还。",
            "region": VILLAGE,
            "respondent": {
                "name": "李四",
                "email": f"r{n}@example.com",
                "phone": f"1370000{n:04d}",
            },
        }
    )


def main() -> None:
    call_command("migrate", verbosity=0)
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    from django.contrib.auth import get_user_model
    from django_tasks_db.models import DBTaskResult

    from odr.audit import verify_chain
    from odr.idnumber import id_check_char
    from odr.models import Dispute, Organisation, Party, Profile, Region
    from odr.services.duplicates import duplicates_link

    users = get_user_model().objects
    filer = users.get(email="citizen1@demo.odr")
    village = Region.objects.get(code=VILLAGE)
    centre = Organisation.objects.get(kind=Organisation.Kind.COUNTY_CENTRE)
    # A busy village: 5,000 open cases of the last days, each with two parties by phone.
    disputes = Dispute.objects.bulk_create(
        Dispute(
            case_number=f"（2026）批第{i}号",
            category="debt",
            title=f"批量{i}",
            description="批量数据",
            region=village,
            organisation=centre,
            filed_by=filer,
        )
        for i in range(5000)
    )
    Party.objects.bulk_create(
        Party(dispute=d, role=role, name="张三", phone=f"13{i:09d}{k}"[:11])
        for i, d in enumerate(disputes)
        for k, role in enumerate(("applicant", "respondent"))
    )
    connection.cursor().execute("ANALYZE")

    def client_of(n: int) -> Client:
        """A citizen of their own (one citizen filing each case would make each a
        possible duplicate of the one before)."""
        user = users.create_user(username=f"filer{n}@example.com", email=f"filer{n}@example.com")
        first17 = f"33052319800101{n:03d}"
        Profile.objects.update_or_create(
            user=user,
            defaults={
                "real_name": f"申请人{n}",
                "id_number": first17 + id_check_char(first17),
                "phone": f"1590000{n:04d}",
            },
        )
        client = Client(HTTP_HOST="localhost")
        client.force_login(user)
        return client

    client_of(0).post("/api/v1/disputes", body(0), content_type="application/json")  # warm
    client = client_of(1)
    queued = DBTaskResult.objects.count()
    reset_queries()  # the log keeps the last 9,000 statements: the bulk inserts filled it
    with CaptureQueriesContext(connection) as captured:
        response = client.post("/api/v1/disputes", body(1), content_type="application/json")
    assert response.status_code == 201, response.content
    statements = [q["sql"] for q in captured.captured_queries]  # read from the log: now
    queued = DBTaskResult.objects.count() - queued
    for n in range(2, 6):
        client_of(n).post("/api/v1/disputes", body(n), content_type="application/json")
    # The same respondent again: a possible duplicate of the filing above, linked and
    # audited without sharing the new case's row first (no one else can see it yet).
    again = client_of(99)
    reset_queries()
    with CaptureQueriesContext(connection) as captured:
        repeat = again.post("/api/v1/disputes", body(1), content_type="application/json")
    assert repeat.status_code == 201, repeat.content
    repeated = [q["sql"] for q in captured.captured_queries]
    new = Dispute.objects.get(pk=response.json()["id"])
    probe = [Party(dispute=new, name="x", phone="+86 13000000010", id_number="")]
    reset_queries()
    with CaptureQueriesContext(connection) as check:
        duplicates_link(dispute=new, parties=probe)
    sql = next(q["sql"] for q in check.captured_queries if 'FROM "odr_party"' in q["sql"])
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
        plan = json.dumps(cursor.fetchone()[0])
    print(
        json.dumps(
            {
                "vendor": connection.vendor,
                "statements": statements,
                "repeated": repeated,
                "queued": queued,
                "audit_problems": [p.message for p in verify_chain()],
                "plan": plan,
            }
        )
    )


if __name__ == "__main__":
    main()
