"""The search by case number and party name (issue 14) finds a number or a name from
three characters anywhere in it, shorter from its start, on any database; on PostgreSQL
at 100,000 cases every search is an index scan (trigram indexes from three characters,
the prefix indexes below), never a sequential scan of the cases or the parties."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from odr.models import Party
from tests import factories
from tests.odr.api_support import role_clients, run_race_script
from tests.odr.bulk_data import bulk_disputes

SCRIPT = Path(__file__).with_name("search_plans.py")


def _ids(client, q: str) -> set[int]:
    body = client.get("/api/v1/disputes", {"q": q, "limit": 200}).json()
    return {item["id"] for item in body["items"]}


@pytest.mark.django_db
def test_three_characters_find_a_number_or_a_name_anywhere_and_fewer_from_the_start(demo):
    applicant = factories.demo_user("citizen1@demo.odr")
    client = role_clients()["applicant"]
    disputes = bulk_disputes(12, applicant=applicant)
    target, other = disputes[4], disputes[9]
    Party.objects.filter(dispute=other, role=Party.Role.RESPONDENT).update(name="欧阳修文")
    serial = target.case_number.split("第")[1]  # "5号": the serial and its 号
    assert _ids(client, f"第{serial}") == {target.pk}
    assert _ids(client, "阳修文") == {other.pk}  # the given name, inside the name
    assert _ids(client, "欧阳") == {other.pk}  # two characters: from the start
    assert _ids(client, "阳修") == set()  # two characters inside a name: not a match
    assert _ids(client, "修文欧") == set()


@pytest.mark.scaleout
def test_on_postgresql_every_search_at_100000_cases_is_an_index_scan(tmp_path):
    import psycopg

    name = f"odr_search_{uuid.uuid4().hex[:10]}"
    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        out = run_race_script(
            SCRIPT, tmp_path, {"DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{name}"}
        )
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    assert (out["vendor"], out["disputes"]) == ("postgresql", 100_000)
    assert out["serial"]["found"] == out["number"]["found"] == 1
    assert out["full_name"]["found"] == 0 and out["surname"]["found"] > 10_000
    for label in ("serial", "number", "full_name", "given_name", "surname", "two_characters"):
        for query in ("page", "count"):
            plan = out[label][query]
            assert not {"odr_dispute", "odr_party"} & set(plan["seq_scans"]), (label, plan)
    for label in ("serial", "number", "full_name", "given_name"):
        used = set(out[label]["count"]["indexes"])
        assert {"dispute_case_number_trgm", "party_name_trgm"} <= used, (label, used)
    for label in ("surname", "two_characters"):
        used = set(out[label]["count"]["indexes"])
        assert {"dispute_case_number_prefix", "party_name_prefix"} <= used, (label, used)
