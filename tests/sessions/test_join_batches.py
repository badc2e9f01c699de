"""Issue 13, point 1: joins that arrive together are made together. A batch of joins in
several rooms is ONE transaction whose queries do not grow with the batch (the session
rows locked in id order, the tickets read and marked at once, the audit events chained
and inserted at once); each join keeps its own answer, a refused one writes nothing, and
the audit chain holds every event in the batch's order."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connection
from django.test.utils import CaptureQueriesContext

from odr.audit import log_actions, verify_chain
from odr.errors import Forbidden
from odr.models import AuditEvent
from sessions import joins, services
from sessions.models import Attendance, MediationSession, RoomParticipant, RoomTicket
from sessions.transitions import lock_sessions
from tests import factories
from tests.postgres import scratch_database
from tests.sessions.conftest import Room, application, demo_rooms, receive_until, schedule

pytestmark = pytest.mark.django_db(transaction=True)


def _entries(rooms: list[Room], prefix: str) -> list[services.Entry]:
    out = []
    for r, room in enumerate(rooms):
        for who in (room.mediator, room.applicant, room.respondent):
            token, _ = services.ticket_issue(session=room.session, user=who)
            out.append(
                services.Entry(
                    session_id=room.session.pk,
                    ticket=token,
                    channel_name=f"{prefix}.{r}.{who.pk}",
                )
            )
    return out


def _batch_sql(entries: list[services.Entry]) -> tuple[list, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        results = services.room_enter_many(entries=entries)
    return results, [q["sql"] for q in queries.captured_queries]


def _sessions_live(rooms: list[Room]) -> None:
    # The mediator's first join starts the session (the machine's own transition and
    # audit): done beforehand, so the batches compared below do the same kind of work.
    for room in rooms:
        services.session_start(session=room.session, actor=room.mediator)


def test_a_batch_of_joins_in_many_rooms_costs_the_queries_of_a_batch_of_one_room(demo):
    small, large = demo_rooms(1), demo_rooms(5)
    _sessions_live(small + large)
    one_room, sql_small = _batch_sql(_entries(small, "s"))
    five_rooms, sql_large = _batch_sql(_entries(large, "l"))
    assert all(isinstance(j, services.Joined) for j in one_room + five_rooms)
    # Three joins or fifteen: the same statements (no statement per join).
    assert len(sql_large) == len(sql_small), (sql_small, sql_large)
    assert len(sql_large) <= 14, sql_large
    assert not [s for s in sql_large if s.startswith("SAVEPOINT")], sql_large
    # Everything was written: 15 tickets used, 15 connected places and attendances, two
    # audit events a join (ticket, join), in the batch's order, in an intact chain.
    for room in large:
        assert RoomTicket.objects.filter(session=room.session, used_at__isnull=True).count() == 0
        assert RoomParticipant.objects.filter(session=room.session, connected=True).count() == 3
        assert Attendance.objects.filter(session=room.session, left_at__isnull=True).count() == 3
    tail = list(AuditEvent.objects.order_by("-seq")[:30])[::-1]
    assert [e.action for e in tail] == ["session.ticket_use", "session.join"] * 15
    assert [e.actor_id for e in tail[1::2]] == [
        who.pk for room in large for who in (room.mediator, room.applicant, room.respondent)
    ]
    assert list(verify_chain()) == []


def test_a_batch_starts_its_rooms_together_with_one_write_each(demo):
    """The mediators' first joins start their sessions (issue 13: a quarter of a burst's
    database time was one machine transition per room, each with its savepoint, two
    locking reads and its own audit write): started together, one UPDATE per session
    and nothing else per room, the `session.start` events first, in the joins' order."""
    small, large = demo_rooms(1), demo_rooms(5)
    one_room, sql_small = _batch_sql(_entries(small, "s"))
    five_rooms, sql_large = _batch_sql(_entries(large, "l"))
    assert all(isinstance(j, services.Joined) for j in one_room + five_rooms)
    updates = [s for s in sql_large if s.startswith(f'UPDATE "{MediationSession._meta.db_table}"')]
    assert len(updates) == 5
    assert len(sql_large) == len(sql_small) + 4, (sql_small, sql_large)
    assert not [s for s in sql_large if s.startswith("SAVEPOINT")], sql_large
    assert len([s for s in sql_large if "FOR UPDATE" in s]) <= 3, sql_large
    for room in large:
        room.session.refresh_from_db()
        assert room.session.status == "live" and room.session.started_at is not None
    tail = list(AuditEvent.objects.order_by("-seq")[:35])[::-1]
    assert [e.action for e in tail] == ["session.start"] * 5 + [
        "session.ticket_use",
        "session.join",
    ] * 15
    assert [e.object_id for e in tail[:5]] == [str(room.session.pk) for room in large]
    # The parties of each room joined a live room, the mediator in it.
    assert [j.state for j in five_rooms] == ["room", "lobby", "lobby"] * 5
    assert list(verify_chain()) == []


def test_each_join_of_a_batch_sees_the_room_the_joins_before_it_left(room):
    entries = _entries([room], "b")
    mediator, applicant, respondent = services.room_enter_many(entries=entries)
    assert mediator.state == "room" and mediator.peers == []
    assert applicant.state == "lobby" and respondent.state == "lobby"
    # The mediator was in the room when each party came: two knocks and lobby lists.
    assert respondent.peer.peer_id != applicant.peer.peer_id
    # The session went live with the mediator's join, audited before the joins.
    room.session.refresh_from_db()
    assert room.session.status == "live"
    assert AuditEvent.objects.filter(action="session.start").count() == 1


def test_a_refused_join_in_a_batch_writes_nothing_and_the_others_go_in(room):
    other = schedule()
    used, _ = services.ticket_issue(session=room.session, user=room.applicant)
    services.room_enter(session_id=room.session.pk, ticket=used, channel_name="first")
    good, _ = services.ticket_issue(session=room.session, user=room.respondent)
    foreign, _ = services.ticket_issue(session=other, user=room.mediator)
    events = AuditEvent.objects.count()
    results = services.room_enter_many(
        entries=[
            services.Entry(session_id=room.session.pk, ticket=used, channel_name="again"),
            services.Entry(session_id=room.session.pk, ticket=foreign, channel_name="wrong"),
            services.Entry(session_id=room.session.pk, ticket=good, channel_name="ok"),
            services.Entry(session_id=10**9, ticket=good, channel_name="nowhere"),
            services.Entry(
                session_id=room.session.pk,
                user=factories.demo_user("coordinator@demo.odr"),
                channel_name="staff",
            ),
        ]
    )
    codes = [r.code if isinstance(r, Exception) else r.state for r in results]
    refused = ["unauthenticated", "unauthenticated"]
    assert codes == [*refused, "lobby", "not_participant", "not_participant"]
    assert isinstance(results[4], Forbidden)
    # Only the good join wrote: its ticket, its place, its two events.
    assert AuditEvent.objects.count() == events + 2
    assert RoomTicket.objects.filter(used_at__isnull=True).count() == 1  # the foreign one
    assert RoomParticipant.objects.get(session=room.session, user=room.applicant).channel_name == (
        "first"
    )
    assert list(verify_chain()) == []


def test_one_ticket_twice_in_a_batch_lets_one_in(room):
    token, _ = services.ticket_issue(session=room.session, user=room.applicant)
    first, second = services.room_enter_many(
        entries=[
            services.Entry(session_id=room.session.pk, ticket=token, channel_name="a"),
            services.Entry(session_id=room.session.pk, ticket=token, channel_name="b"),
        ]
    )
    assert isinstance(first, services.Joined)
    assert isinstance(second, services.Unauthenticated)
    assert AuditEvent.objects.filter(action="session.ticket_use").count() == 1


def test_the_same_person_twice_in_a_batch_keeps_the_newer_connection(room):
    tokens = [services.ticket_issue(session=room.session, user=room.applicant)[0] for _ in "ab"]
    first, second = services.room_enter_many(
        entries=[
            services.Entry(session_id=room.session.pk, ticket=t, channel_name=c)
            for t, c in zip(tokens, ("old", "new"), strict=True)
        ]
    )
    assert first.peer.peer_id == second.peer.peer_id
    place = RoomParticipant.objects.get(session=room.session, user=room.applicant)
    assert (place.connected, place.channel_name) == (True, "new")
    # One attendance per connection, the replaced one closed.
    rows = Attendance.objects.filter(session=room.session, user=room.applicant)
    assert sorted(r.left_at is None for r in rows) == [False, True]


def test_sessions_are_locked_in_the_order_of_their_ids(room):
    other = schedule()
    with CaptureQueriesContext(connection) as queries:
        locked = lock_sessions([other.pk, room.session.pk, other.pk])
    assert list(locked) == sorted({room.session.pk, other.pk})
    (sql,) = [q["sql"] for q in queries.captured_queries]
    table = MediationSession._meta.db_table
    assert f'ORDER BY "{table}"."id" ASC' in sql


def test_log_actions_chains_its_events_in_order_after_the_head(room):
    before = AuditEvent.objects.order_by("-seq").first()
    with CaptureQueriesContext(connection) as queries:
        events = log_actions(
            [
                {
                    "action": "session.join",
                    "obj": room.session,
                    "actor": who,
                    "dispute": room.session.dispute,
                    "after": {"n": n},
                }
                for n, who in enumerate((room.mediator, room.applicant, room.respondent))
            ]
        )
    assert [e.seq for e in events] == [before.seq + 1, before.seq + 2, before.seq + 3]
    assert events[0].prev_hash == before.hash
    assert [e.prev_hash for e in events[1:]] == [e.hash for e in events[:-1]]
    stored = list(AuditEvent.objects.filter(seq__gt=before.seq).order_by("seq"))
    assert [(e.actor_id, e.after) for e in stored] == [
        (room.mediator.pk, {"n": 0}),
        (room.applicant.pk, {"n": 1}),
        (room.respondent.pk, {"n": 2}),
    ]
    # The head read and locked once, one insert, the head written once.
    sql = [q["sql"] for q in queries.captured_queries]
    assert len([s for s in sql if s not in ("BEGIN IMMEDIATE", "COMMIT")]) == 3, sql
    assert list(verify_chain()) == []
    with pytest.raises(ValueError):
        log_actions([{"action": "session.undeclared", "obj": room.session}])


async def test_joins_arriving_while_a_batch_is_in_the_database_are_made_together(demo, monkeypatch):
    rooms = await database_sync_to_async(demo_rooms)(6)
    entries = await database_sync_to_async(_entries)(rooms, "x")
    sizes: list[int] = []
    original = services.room_enter_many

    def counted(*, entries):
        sizes.append(len(entries))
        return original(entries=entries)

    monkeypatch.setattr(services, "room_enter_many", counted)

    async def connect(entry: services.Entry) -> tuple[WebsocketCommunicator, dict]:
        communicator = WebsocketCommunicator(
            application(), f"/ws/sessions/{entry.session_id}/?ticket={entry.ticket}"
        )
        connected, _ = await communicator.connect(timeout=60)
        assert connected
        welcome = await communicator.receive_json_from(timeout=60)
        # A ping is answered once the connect, its database join included, finished.
        await communicator.send_json_to({"type": "ping"})
        await receive_until(communicator, "pong")
        return communicator, welcome

    sockets = await asyncio.gather(*(connect(e) for e in entries))
    assert {w["type"] for _c, w in sockets} == {"welcome"}
    # 18 joins, far fewer transactions: all but the first went in batches.
    assert sum(sizes) == 18 and len(sizes) < 18 and max(sizes) > 1, sizes

    def placed() -> tuple[int, int, list]:
        return (
            RoomParticipant.objects.filter(connected=True).count(),
            AuditEvent.objects.filter(action="session.join").count(),
            list(verify_chain()),
        )

    assert await database_sync_to_async(placed)() == (18, 18, [])
    for communicator, _welcome in sockets:
        await communicator.disconnect(timeout=30)


async def test_a_failed_batch_answers_each_of_its_joins(monkeypatch):
    def broken(*, entries):
        raise RuntimeError("database gone")

    monkeypatch.setattr(services, "room_enter_many", broken)
    entry = services.Entry(session_id=1, ticket="t", channel_name="c")
    results = await asyncio.gather(*(joins.enter(entry) for _ in range(3)), return_exceptions=True)
    assert [type(r) for r in results] == [RuntimeError] * 3
    # The queue is free again for the next joins.
    monkeypatch.setattr(services, "room_enter_many", lambda *, entries: [None] * len(entries))
    assert await joins.enter(entry) is None


async def test_a_batch_that_fails_is_made_again_join_by_join(monkeypatch):
    """A database error of one join rolls back its whole batch: the others are made
    again on their own, and only the faulty join fails."""
    calls: list[list[str]] = []

    def fails_with_bad(*, entries):
        calls.append([e.ticket for e in entries])
        if any(e.ticket == "bad" for e in entries):
            raise RuntimeError("bad join")
        return [e.ticket for e in entries]

    monkeypatch.setattr(services, "room_enter_many", fails_with_bad)
    tickets = ["first", "a", "bad", "b"]
    results = await asyncio.gather(
        *(joins.enter(services.Entry(session_id=1, ticket=t, channel_name=t)) for t in tickets),
        return_exceptions=True,
    )
    assert [r if isinstance(r, str) else type(r) for r in results] == [
        "first",
        "a",
        RuntimeError,
        "b",
    ]
    # The first alone (the queue was idle), the three that waited together, then each.
    assert calls == [["first"], ["a", "bad", "b"], ["a"], ["bad"], ["b"]]


@pytest.mark.scaleout
def test_two_batches_sharing_rooms_in_opposite_orders_both_commit_on_postgresql(tmp_path):
    from tests.agreements.subprocess_race import run_race

    with scratch_database("odr_join_batches") as url:
        result = run_race(
            "tests.sessions.race_join_batches",
            tmp_path=tmp_path,
            data_dir=tmp_path / "data",
            database_url=url,
        )
    assert result["vendor"] == "postgresql"
    # Neither batch was killed as a deadlock, in any round; every join was audited, each
    # of the 18 places is connected (the later batch's connection), the chain is whole.
    rounds = result["rounds"]
    assert result["outcome"] == {"forward": ["ok"] * rounds, "backward": ["ok"] * rounds}, result
    assert (result["joins"], result["connected"], result["problems"]) == (2 * 18 * rounds, 18, [])
