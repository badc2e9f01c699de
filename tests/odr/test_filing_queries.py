"""Filing costs a fixed, small number of queries (issue 14 §4: filing at 100 per second
on one process): the region's own row and the organisations at its path, the profile read
once, the case number drawn in one statement, each kind of row written in one statement
however many parties there are, the audit event without a savepoint, the answer built
from the dispute in hand; the invitation e-mails go to the task queue after commit."""

from __future__ import annotations

import json
import re
from pathlib import Path
from unittest import mock

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_tasks_db.models import DBTaskResult

from odr.models import Dispute, Invitation, Party
from odr.services import filing as filing_service
from tests import factories
from tests.postgres import scratch_database

# Before issue 14 a filing from a village took 31 queries (SQLite, the test settings).
# 1-2 the session and the user; 3 the region, its own row (its stored path names the
# regions above it: no join of its ancestors); 4 the filer's profile; 5 the organisations
# at the codes of the region's path (routing); 6 the case number (on PostgreSQL its own
# one-statement transaction, before the filing's: the counter is not held to the commit);
# 7 BEGIN; 8 the open cases of the place the filing may repeat (issue 10,
# odr.services.duplicates, by index); 9 the dispute; 10 the parties; 11 the invitations;
# 12-14 the audit head, event, head (on PostgreSQL one statement locks the head, hashes
# and appends the event and carries the COMMIT: 12); 15 COMMIT. The parties the filing
# wrote answer without being read back (they were: 1 query). A case filed a moment ago
# has no session or agreement: the answer reads neither (it did, 2 queries), nor the
# filer's roles when the filer is its party (they give a party no action on it:
# odr.services.filing.filer_viewer; it did, 1 query). On PostgreSQL the audit event does
# not share the new case's row first. (On SQLite the number is drawn inside the
# transaction, after the duplicate check.) 3 and 5, the region's row and the
# organisations along its path, are read once per process and place (and again a minute
# later, or when a region or an organisation is saved): a filing at a place the process
# knows costs 13 (odr.services.filing._place_of, issue 14 point 4).
QUERIES_AT_A_NEW_PLACE = 15
QUERIES_PER_FILING = QUERIES_AT_A_NEW_PLACE - 2

pytestmark = pytest.mark.django_db(transaction=True)


def party(n: int) -> dict[str, str]:
    return {"name": f"当事人{n}", "email": f"party{n}@example.com"}


def filing(**extra) -> str:
    return json.dumps(
        {
            "category": "debt",
            "title": "借款未还",
            "description": "2025年3月借给李四一万元，至今未还。",
            # A village: the deepest walk up the region tree.
            "region": "330523100201",
            "respondent": party(0),
            **extra,
        }
    )


@pytest.fixture
def client(demo) -> Client:
    client = Client()
    client.force_login(factories.demo_user("citizen1@demo.odr"))
    # The first request of a process pays for things no filing repeats (the URL
    # resolver, the translations). In another village: the filings measured are no
    # possible duplicate of it (a duplicate found costs its link and audit event).
    client.post("/api/v1/disputes", filing(region="330523100202"), content_type="application/json")
    return client


def file(client: Client, body: str) -> tuple[dict, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        response = client.post("/api/v1/disputes", body, content_type="application/json")
    assert response.status_code == 201, response.content
    return response.json(), [q["sql"] for q in captured.captured_queries]


def test_a_filing_stays_within_its_query_budget(client, django_assert_num_queries):
    with django_assert_num_queries(QUERIES_AT_A_NEW_PLACE):
        response = client.post("/api/v1/disputes", filing(), content_type="application/json")
    assert response.status_code == 201, response.content
    # Nothing is read for the session and agreement a new case cannot have.
    assert (response.json()["sessions"], response.json()["agreement"]) == ([], None)
    # Another citizen at the same place, another kind of dispute: the place is known,
    # its route for the category is read once.
    other = Client()
    other.force_login(factories.demo_user("citizen2@demo.odr"))
    body = filing(category="family")
    with django_assert_num_queries(QUERIES_PER_FILING + 1):
        assert (
            other.post("/api/v1/disputes", body, content_type="application/json").status_code == 201
        )


def test_a_filing_at_a_known_place_reads_neither_the_region_nor_the_organisations(client):
    """The region and its route are read once per process, place and category: the next
    filing there costs two queries less, and is routed and named the same."""
    first, at_first = file(client, filing(region="330523101201"))
    other = Client()
    other.force_login(factories.demo_user("citizen2@demo.odr"))
    again, queries = file(other, filing(region="330523101201", respondent=party(9)))
    assert len(queries) == QUERIES_PER_FILING == len(at_first) - 2
    assert not [q for q in queries if 'FROM "odr_region"' in q or 'FROM "odr_organisation"' in q]
    assert (again["organisation"], again["region"], again["region_name"]) == (
        first["organisation"],
        first["region"],
        first["region_name"],
    )
    assert again["organisation"]["name"] == "余村人民调解委员会"
    assert Dispute.objects.get(pk=again["id"]).organisation_id == first["organisation"]["id"]


def test_an_organisation_saved_is_seen_by_the_next_filing(client):
    """A route the process knows is forgotten when an organisation (or a region) is
    saved: the village committee closed, the village's next case goes to the township."""
    from odr.models import Organisation

    first, _queries = file(client, filing(region="330523101201"))
    village = Organisation.objects.get(pk=first["organisation"]["id"])
    village.is_active = False
    village.save()
    other = Client()
    other.force_login(factories.demo_user("citizen2@demo.odr"))
    again, queries = file(other, filing(region="330523101201", respondent=party(9)))
    assert len(queries) == QUERIES_AT_A_NEW_PLACE
    assert again["organisation"]["id"] != village.pk
    assert again["organisation"]["name"] == "天荒坪镇人民调解委员会"


def test_a_known_place_is_read_again_a_minute_later(client, monkeypatch):
    """What another process saved is seen within PLACES_SECONDS: a place the process
    knows is read again once that time is past."""
    file(client, filing(region="330523101201"))
    clock = filing_service.time.monotonic() + filing_service.PLACES_SECONDS + 1
    monkeypatch.setattr(filing_service.time, "monotonic", lambda: clock)
    other = Client()
    other.force_login(factories.demo_user("citizen2@demo.odr"))
    _again, queries = file(other, filing(region="330523101201", respondent=party(9)))
    assert len(queries) == QUERIES_AT_A_NEW_PLACE


def test_a_filing_reads_the_region_tree_and_the_profile_once(client):
    body, queries = file(client, filing())
    assert body["region_name"] == "浙江省湖州市安吉县孝丰镇横溪坞村"
    assert body["organisation"]["name"] == "安吉县社会矛盾纠纷调处化解中心"
    reads = [q for q in queries if q.startswith("SELECT")]
    assert sum('FROM "odr_region"' in q for q in reads) == 1
    assert sum('FROM "odr_profile"' in q for q in reads) == 1
    assert sum('FROM "odr_casecounter"' in q for q in queries) == 0
    # The parties: only the duplicate check reads any (the answer's are those written),
    # and before the organisation's counter is taken.
    assert sum('FROM "odr_party"' in q for q in reads) == 1
    check = next(i for i, q in enumerate(queries) if 'FROM "odr_party"' in q)
    counter = next(i for i, q in enumerate(queries) if 'INTO "odr_casecounter"' in q)
    assert check < counter
    assert not [q for q in queries if "SAVEPOINT" in q]


def test_more_parties_cost_no_more_queries(client):
    _one, few = file(client, filing())
    body, many = file(
        client,
        filing(
            respondent=None,
            respondents=[party(1), party(2), party(3)],
            co_applicants=[party(4), party(5)],
            # Another village: not a possible duplicate of the first.
            region="330523101202",
        ),
    )
    assert len(many) == len(few)
    dispute = Dispute.objects.get(pk=body["id"])
    assert dispute.parties.count() == 6
    assert Invitation.objects.filter(party__dispute=dispute).count() == 5
    assert [(p["role"], p["position"]) for p in body["parties"]] == [
        ("applicant", 0),
        ("applicant", 1),
        ("applicant", 2),
        ("respondent", 0),
        ("respondent", 1),
        ("respondent", 2),
    ]
    applicant = dispute.parties.get(role=Party.Role.APPLICANT, position=0)
    assert applicant.accepted is True
    assert applicant.name == factories.demo_user("citizen1@demo.odr").profile.real_name


def test_the_filings_answer_is_what_the_case_itself_answers(client, demo):
    """The filing answers without the response schema's second check (issue 14, point
    4): its answer must be exactly the case's own, which the schema checks, with a claim
    amount, co-applicants, a party invited by phone only (whose link only the filer is
    given) and, filed by the reception for a walk-in visitor, the actions of staff who
    are no party of the case."""
    by_phone = filing(
        respondent=None,
        respondents=[party(1), {"name": "王五", "phone": "13800138000"}],
        co_applicants=[party(2)],
        claim_amount="12345.60",
        request="归还借款",
        region="330523101201",
    )
    answer, _queries = file(client, by_phone)
    assert answer == client.get(f"/api/v1/disputes/{answer['id']}").json()
    assert answer["claim_amount"] is not None
    links = [p["invitation_url"] for p in answer["parties"]]
    assert len(links) == 4 and links.count(None) == 3

    reception = Client()
    reception.force_login(factories.demo_user("reception@demo.odr"))
    visitor = {"name": "赵六", "phone": "13800000066", "id_number": factories.id_number_for(66)}
    answer, _queries = file(
        reception, filing(channel="walk_in", applicant=visitor, region="330523100000")
    )
    assert answer == reception.get(f"/api/v1/disputes/{answer['id']}").json()
    assert answer["channel"] == "walk_in"


def test_case_numbers_follow_each_other_from_the_one_statement(client):
    numbers = [file(client, filing())[0]["case_number"] for _ in range(3)]
    serials = [int(re.search(r"第(\d+)号", n).group(1)) for n in numbers]
    assert serials == [serials[0], serials[0] + 1, serials[0] + 2]


@pytest.mark.django_db  # the filing's commit is the test's: its callbacks are held
def test_the_invitation_mails_leave_after_the_commit_through_the_task_queue(
    demo, django_capture_on_commit_callbacks
):
    """Nothing is sent inside the filing's transaction: the e-mails are enqueued when it
    commits (in tests the queue runs a task at once)."""
    client = Client()
    client.force_login(factories.demo_user("citizen1@demo.odr"))
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(
            "/api/v1/disputes",
            filing(respondent=None, respondents=[party(1), party(2)]),
            content_type="application/json",
        )
        assert response.status_code == 201
    assert mail.outbox == []
    assert len(callbacks) == 2
    for callback in callbacks:
        callback()
    assert sorted(m.to[0] for m in mail.outbox) == ["party1@example.com", "party2@example.com"]


DATABASE_QUEUE = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


@pytest.mark.django_db  # the filing's transaction is the test's: its callbacks are held
def test_with_the_database_queue_the_mails_are_queued_in_the_filings_own_transaction(
    demo, settings, django_capture_on_commit_callbacks
):
    """Production's queue is a table of the same database: the e-mail's task row is
    written in the filing's transaction (it commits with the filing or not at all, and
    no worker sees it before), not by a second statement and commit after it."""
    settings.TASKS = DATABASE_QUEUE
    client = Client()
    client.force_login(factories.demo_user("citizen1@demo.odr"))
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(
            "/api/v1/disputes",
            filing(respondent=None, respondents=[party(1), party(2)]),
            content_type="application/json",
        )
        assert response.status_code == 201
    assert callbacks == []
    queued = DBTaskResult.objects.filter(task_path="odr.notifications.send_email")
    assert sorted(t.args_kwargs["kwargs"]["email"] for t in queued) == [
        "party1@example.com",
        "party2@example.com",
    ]
    assert mail.outbox == []


def test_a_refused_filing_leaves_no_mail_in_the_database_queue(demo, client, settings):
    """The e-mail's task row is written (with the audit event, which the filing's last
    write sends it with), then the filing fails: it goes with the filing."""
    settings.TASKS = DATABASE_QUEUE
    queued, filed = DBTaskResult.objects.count(), Dispute.objects.count()
    real = filing_service.log_action
    seen_inside = []

    def log_then_fail(**kwargs):
        real(**kwargs)
        seen_inside.append(DBTaskResult.objects.count() - queued)
        raise RuntimeError("refused after the event")

    with (
        mock.patch.object(filing_service, "log_action", log_then_fail),
        pytest.raises(RuntimeError),
    ):
        client.post("/api/v1/disputes", filing(), content_type="application/json")
    assert seen_inside == [1]  # written in the filing's transaction ...
    # ... and gone with it.
    assert (DBTaskResult.objects.count(), Dispute.objects.count()) == (queued, filed)


def test_the_held_task_rows_are_the_rows_an_enqueue_writes(demo, settings):
    """A filing's task rows written with its audit event (odr.outbox.held) are the rows
    the queue's own enqueue writes: the same fields, run at once, the queue's signals."""
    from django.db import transaction
    from django_tasks.signals import task_enqueued

    from odr import outbox
    from odr.notifications import send_email

    settings.TASKS = DATABASE_QUEUE
    kwargs = {"email": "a@example.com", "language": "zh-hans", "template": "invitation"}
    kwargs |= {"context": {"case_number": "（2026）1号"}, "attachments": []}
    seen = []
    task_enqueued.connect(lambda sender, task_result, **kw: seen.append(task_result.id), weak=False)
    with transaction.atomic():
        send_email.enqueue(**kwargs)
        with outbox.held() as held:
            outbox.enqueue_on_commit(send_email, **kwargs)
        assert len(held.rows) == 1 and DBTaskResult.objects.count() == 1
        for sql, params in held.statements:
            with transaction.get_connection().cursor() as cursor:
                cursor.execute(sql, params)
        held.sent()
    plain, kept = DBTaskResult.objects.order_by("enqueued_at")
    fields = ("status", "args_kwargs", "priority", "task_path", "queue_name", "backend_name")
    assert [getattr(kept, f) for f in fields] == [getattr(plain, f) for f in fields]
    assert kept.run_after == plain.run_after  # "at once", as the queue's handler writes it
    assert kept.pk == held.rows[0].pk and not held.rows[0]._state.adding
    assert seen[-1] == str(kept.pk) and len(seen) == 2
    assert DBTaskResult.objects.ready().count() == 2


@pytest.mark.scaleout
def test_on_postgresql_a_filing_commits_once_and_checks_duplicates_by_index(tmp_path):
    """PostgreSQL, the database queue, a village with 5,000 open cases: one filing is
    one transaction (the e-mail's task row inside it, no statement after the commit), the
    audit event is appended and commits in one statement, the duplicate check reads
    the parties by index, and the chain stays whole."""
    from tests.odr.api_support import run_race_script

    with scratch_database("odr_file14") as url:
        out = run_race_script(
            Path(__file__).with_name("filing_postgres.py"),
            tmp_path,
            {"DATABASE_URL": url},
        )
    assert out["vendor"] == "postgresql"
    assert out["audit_problems"] == []
    assert out["queued"] == 2  # the respondent's e-mail and text
    statements = out["statements"]
    commit = statements.index("COMMIT")
    assert statements[commit + 1 :] == [
        s for s in statements[commit + 1 :] if s.startswith("SELECT")
    ]
    assert any("django_tasks_database_dbtaskresult" in s for s in statements[:commit])
    assert [s for s in statements if "odr_audithead" in s and s.startswith("UPDATE")] == []
    # The head locked, the event chained and hashed, the head moved and the event written
    # in one statement: the head is held for it and the commit only (odr.audit).
    appends = [s for s in statements if 'WITH head AS (SELECT "last_seq" + 1' in s]
    assert len(appends) == 1 and "FOR UPDATE" in appends[0]
    assert 'INSERT INTO "odr_auditevent"' in appends[0]
    assert [s for s in statements if '"odr_audithead"' in s] == appends
    assert statements.index(appends[0]) == statements.index("COMMIT") - 1
    # Nothing follows the event in the filing's transaction: its statement carries the
    # COMMIT (the head is free once the commit is on disk, not when Python sends it).
    # (After a head made if there is none, in the same message: never a commit without
    # the event.)
    assert appends[0].endswith("; COMMIT")
    # In the same message, first: the invitations and their task rows (one statement
    # each, no round trip of their own), then the head made if there is none.
    first, tasks, ensure = appends[0].split("; ")[:3]
    assert first.startswith('INSERT INTO "odr_invitation"')
    assert tasks.startswith('INSERT INTO "django_tasks_database_dbtaskresult"')
    # Both rows in the one statement (the e-mail's and the text's).
    assert "odr.notifications.send_email" in tasks and "odr.sms.send_sms" in tasks
    assert ensure.startswith('INSERT INTO "odr_audithead"')
    assert 'ON CONFLICT ("id") DO NOTHING; WITH head AS' in appends[0]
    assert [s for s in statements if "odr_invitation" in s or "dbtaskresult" in s] == appends
    # The test settings' count, less the head's read and its own update, less the
    # invitations' statement (in the event's message; the task rows too).
    assert len(statements) == QUERIES_PER_FILING - 3
    assert '"Seq Scan"' not in out["plan"] or '"Relation Name": "odr_party"' not in out["plan"]
    assert "party_phone_key" in out["plan"]
    # A filing that repeats an open case: its link is written and audited, and the new
    # case's row is not shared first (a statement per link less).
    repeated = out["repeated"]
    assert sum(s.startswith('INSERT INTO "odr_duplicatelink"') for s in repeated) == 1
    assert not [s for s in repeated if "FOR KEY SHARE" in s]
    # The link and its event follow the filing's event: it does not carry the commit.
    assert not [s for s in repeated if s.endswith("COMMIT") and s != "COMMIT"]
