"""The hash-chained audit trail and `manage.py verify_audit` (issue 2 §8)."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import connection

from odr.audit import log_action, verify_chain
from odr.models import AuditEvent, AuditHead
from tests import factories

pytestmark = pytest.mark.django_db


def run_verify() -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("verify_audit", stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = int(exc.code)
    return code, out.getvalue(), err.getvalue()


def raw(sql: str, params: list) -> None:
    # Straight to the table, as someone with database access would: the model refuses.
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.fixture
def chain(demo) -> list[AuditEvent]:
    factories.dispute_in_mediation()
    factories.file_dispute(title="第二件")
    events = list(AuditEvent.objects.order_by("seq"))
    assert len(events) >= 4
    return events


def test_an_intact_chain_passes_with_a_count(chain):
    code, out, err = run_verify()
    assert code == 0
    assert f"OK: {len(chain)} audit events" in out
    assert err == ""


def test_an_empty_trail_passes(db):
    code, out, _err = run_verify()
    assert code == 0
    assert "OK: 0 audit events" in out


def test_an_edited_event_is_reported(chain):
    victim = chain[1]
    raw(
        "UPDATE odr_auditevent SET action = %s WHERE id = %s",
        ["dispute.withdraw", victim.pk],
    )
    code, _out, err = run_verify()
    assert code == 1
    assert f"#{victim.seq}: event #{victim.seq} was changed after it was written" in err
    assert "NOT intact" in err


def test_an_edited_before_after_payload_is_reported(chain):
    victim = next(e for e in chain if e.action == "dispute.accept")
    raw(
        "UPDATE odr_auditevent SET after = %s WHERE id = %s",
        ['{"status": "rejected"}', victim.pk],
    )
    code, _out, err = run_verify()
    assert code == 1
    assert f"event #{victim.seq} was changed" in err


def test_a_deleted_event_in_the_middle_is_reported(chain):
    victim = chain[2]
    raw("DELETE FROM odr_auditevent WHERE id = %s", [victim.pk])
    code, _out, err = run_verify()
    assert code == 1
    assert f"event #{victim.seq + 1} follows #{victim.seq - 1}: events are missing" in err
    assert f"event #{victim.seq + 1} does not link to the event before it" in err


def test_two_swapped_events_are_reported(chain):
    first, second = chain[1], chain[2]
    # Swap their places in the sequence (through a free value: seq is unique).
    raw("UPDATE odr_auditevent SET seq = %s WHERE id = %s", [10**9, first.pk])
    raw("UPDATE odr_auditevent SET seq = %s WHERE id = %s", [first.seq, second.pk])
    raw("UPDATE odr_auditevent SET seq = %s WHERE id = %s", [second.seq, first.pk])
    code, _out, err = run_verify()
    assert code == 1
    assert f"event #{first.seq} does not link to the event before it" in err
    assert f"event #{first.seq} was changed after it was written" in err
    assert f"event #{second.seq} was changed after it was written" in err


def test_a_deleted_last_event_is_reported(chain):
    last = chain[-1]
    raw("DELETE FROM odr_auditevent WHERE id = %s", [last.pk])
    code, _out, err = run_verify()
    assert code == 1
    assert f"the chain ends at #{last.seq - 1} but #{last.seq} was written" in err


def test_a_deleted_head_is_reported(chain):
    raw("DELETE FROM odr_audithead", [])
    code, _out, err = run_verify()
    assert code == 1
    assert "head record is missing" in err


def test_a_replaced_tail_is_reported(chain):
    # Someone deletes the last event and writes a forged one with a valid-looking link:
    # the head still records the real last hash.
    last = chain[-1]
    raw("UPDATE odr_auditevent SET hash = %s WHERE id = %s", ["f" * 64, last.pk])
    problems = list(verify_chain())
    messages = [p.message for p in problems]
    assert any("was changed after it was written" in m for m in messages)
    assert any("the end of the chain was replaced" in m for m in messages)


def test_each_event_links_to_the_one_before(chain):
    previous = "0" * 64
    for event in chain:
        assert event.prev_hash == previous
        previous = event.hash
    head = AuditHead.objects.get(id=1)
    assert (head.last_seq, head.last_hash) == (chain[-1].seq, chain[-1].hash)


def test_audit_events_cannot_be_changed_or_deleted_through_the_model(chain):
    event = chain[0]
    event.action = "forged"
    with pytest.raises(RuntimeError):
        event.save()
    with pytest.raises(RuntimeError):
        event.delete()
    assert AuditEvent.objects.get(pk=event.pk).action != "forged"


def test_log_action_records_actor_ip_and_before_after(demo):
    user = factories.demo_user("citizen1@demo.odr")
    event = log_action(
        action="profile.update",
        obj=user.profile,
        actor=user,
        before={"phone": "1"},
        after={"phone": "2"},
        ip="203.0.113.9",
    )
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.actor_id == user.pk
    assert stored.actor_label == user.get_username()
    assert stored.ip == "203.0.113.9"
    assert (stored.before, stored.after) == ({"phone": "1"}, {"phone": "2"})
    assert list(verify_chain()) == []


def test_the_client_address_of_an_api_request_is_recorded(demo, client):
    client.force_login(factories.demo_user("citizen1@demo.odr"))
    response = client.post(
        "/api/v1/disputes",
        {
            "category": "debt",
            "title": "借款",
            "description": "未还",
            "region": "330523000000",
            "respondent": {"name": "李四", "email": "citizen2@demo.odr"},
        },
        content_type="application/json",
        REMOTE_ADDR="198.51.100.7",
        HTTP_X_FORWARDED_FOR="not-an-address, 10.0.0.1",
    )
    assert response.status_code == 201, response.content
    event = AuditEvent.objects.get(action="dispute.file")
    # X-Forwarded-For is not trusted by default; the socket's address is.
    assert event.ip == "198.51.100.7"


def test_a_forwarded_address_is_used_only_behind_a_trusted_proxy(demo, client, settings):
    settings.ODR_TRUST_X_FORWARDED_FOR = True
    client.force_login(factories.demo_user("citizen1@demo.odr"))
    response = client.post(
        "/api/v1/disputes",
        {
            "category": "debt",
            "title": "借款",
            "description": "未还",
            "region": "330523000000",
            "respondent": {"name": "李四", "email": "citizen2@demo.odr"},
        },
        content_type="application/json",
        REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR="2001:DB8::1, 10.0.0.1",
    )
    assert response.status_code == 201, response.content
    event = AuditEvent.objects.get(action="dispute.file")
    assert event.ip == "2001:db8::1"
    assert list(verify_chain()) == []


def test_the_digest_is_the_sha256_of_the_whole_payload_as_first_defined():
    """The digest is built from the payload up to the link (what PostgreSQL completes):
    it must stay the hash of the whole event as compact, sorted JSON, as it was first
    defined, or every chain written before would stop verifying."""
    import hashlib
    import json
    from datetime import UTC, datetime

    from odr.audit import event_digest

    fields = {
        "seq": 1207,
        "created_at": datetime(2026, 12, 2, 13, 45, 7, 123456, tzinfo=UTC),
        "actor_id": 42,
        "actor_label": '调解员 "李" \\ \u2028',
        "ip": "10.0.0.7",
        "action": "dispute.file",
        "dispute_id": None,
        "object_type": "odr.dispute",
        "object_id": "99",
        "before": {"z": [1, {"b": "😀", "a": None}], "a": "\x07"},
        "after": {"status": "filed", "金额": 1.5},
        "prev_hash": "ab" * 32,
    }
    whole = json.dumps(
        {
            "seq": fields["seq"],
            "at": fields["created_at"].isoformat(),
            "actor": fields["actor_id"],
            "actor_label": fields["actor_label"],
            "ip": fields["ip"],
            "action": fields["action"],
            "dispute": fields["dispute_id"],
            "object": [fields["object_type"], fields["object_id"]],
            "before": fields["before"],
            "after": fields["after"],
            "prev": fields["prev_hash"],
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    assert event_digest(**fields) == hashlib.sha256(whole.encode()).hexdigest()
    assert event_digest(**{**fields, "prev_hash": ""}) != event_digest(**fields)
