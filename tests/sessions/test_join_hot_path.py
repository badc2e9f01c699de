"""Issue 13, point 1: a ticket's join does no database work before `welcome`. The ticket
is signed and checked without the database, spent once in the cache (Redis SET NX with
REDIS_URL, process memory otherwise), the welcome comes from the room's copy in the
cache, and the join's database work (ticket row, participant, attendance, audit) follows
the welcome, in order, audited as before."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
import time_machine
from channels.db import database_sync_to_async
from django.core import signing
from django.db.backends.utils import CursorWrapper
from django.utils import timezone

from odr.audit import verify_chain
from odr.models import AuditEvent
from sessions import mirror, services
from sessions.models import Attendance, RoomParticipant
from sessions.selectors import Peer
from tests.sessions.conftest import (
    drain,
    join,
    open_socket,
    receive,
    receive_until,
    schedule,
    ticket_for,
)

pytestmark = pytest.mark.django_db(transaction=True)


class AllQueries:
    """Every SQL statement any thread runs while it counts. pytest-django's
    django_assert_num_queries watches only the test thread's connection, and a consumer's
    database work runs in another thread: it would count nothing and prove nothing."""

    def __init__(self) -> None:
        self.sql: list[str] = []
        self.counting = False
        self.lock = threading.Lock()

    def record(self, sql: str) -> None:
        if self.counting:
            with self.lock:
                self.sql.append(sql)


@pytest.fixture
def all_queries(monkeypatch) -> Iterator[AllQueries]:
    counter = AllQueries()
    original = CursorWrapper._execute_with_wrappers

    def counted(self, sql, params, many, executor):
        counter.record(sql)
        return original(self, sql, params, many, executor)

    monkeypatch.setattr(CursorWrapper, "_execute_with_wrappers", counted)
    yield counter


@pytest.fixture
def held_database_join(monkeypatch) -> Iterator[threading.Event]:
    """The join's database work waits until the test sets the event: whatever the
    client got before, it got without it."""
    release = threading.Event()
    original = services.room_enter_many

    def held(**kwargs):
        assert release.wait(timeout=30), "the test never released the database join"
        return original(**kwargs)

    monkeypatch.setattr(services, "room_enter_many", held)
    yield release
    release.set()


async def _refused(path: str) -> tuple[dict, int]:
    communicator = await open_socket(path)
    error = await receive(communicator, "error")
    closed = await communicator.receive_output(timeout=5)
    assert closed["type"] == "websocket.close"
    return error, closed["code"]


def _tampered(token: str) -> str:
    """The same claims with another session id, signed with a key that is not ours."""
    data = signing.loads(token, salt=services.access.TICKET_SALT)
    return signing.dumps(
        {**data, "s": data["s"] + 1}, key="not-our-key", salt=services.access.TICKET_SALT
    )


async def test_a_forged_expired_reused_or_foreign_ticket_is_refused_without_the_database(
    room, all_queries
):
    other = await database_sync_to_async(schedule)()
    token = await ticket_for(room.session, room.applicant)
    foreign = await ticket_for(other, room.applicant)
    late = await ticket_for(room.session, room.respondent)
    path = f"/ws/sessions/{room.session.pk}/?ticket="

    first = await open_socket(path + token)
    assert (await receive(first, "welcome"))["role"] == "applicant"
    # A pong answers once the connect, database work included, has finished.
    await first.send_json_to({"type": "ping"})
    await receive_until(first, "pong")

    all_queries.counting = True
    refusals = [
        await _refused(path + "forged"),
        await _refused(path + _tampered(token)),
        await _refused(path + token),  # used
        await _refused(path + foreign),  # another session's
        await _refused(path + token[:-2] + ("AA" if not token.endswith("AA") else "BB")),
    ]
    with time_machine.travel(timezone.now() + timedelta(seconds=61), tick=True):
        refusals.append(await _refused(path + late))
    all_queries.counting = False

    assert [(e["code"], code) for e, code in refusals] == [("unauthenticated", 4401)] * 6
    assert all_queries.sql == []
    await first.disconnect()


async def test_a_ticket_join_is_welcomed_before_its_database_work_which_follows_in_order(
    room, all_queries, held_database_join
):
    tickets = [
        (who, await ticket_for(room.session, who))
        for who in (room.mediator, room.applicant, room.respondent)
    ]
    all_queries.counting = True
    sockets, welcomes = [], []
    for _who, token in tickets:
        communicator = await open_socket(f"/ws/sessions/{room.session.pk}/?ticket={token}")
        sockets.append(communicator)
        welcomes.append(await receive(communicator, "welcome"))
    all_queries.counting = False
    # Three welcomes while the first database join was held (and with it the database
    # thread, so no other could start): none waited for the database.
    assert all_queries.sql == []
    assert [w["state"] for w in welcomes] == ["room", "lobby", "lobby"]

    held_database_join.set()
    med = sockets[0]
    knocks = {(await receive_until(med, "knock"))["peer"]["peer_id"] for _ in range(2)}
    assert knocks == {welcomes[1]["peer_id"], welcomes[2]["peer_id"]}

    def written() -> tuple[list[tuple[str, str]], list, int, int]:
        events = AuditEvent.objects.filter(
            action__in=["session.ticket_use", "session.join"]
        ).order_by("pk")
        return (
            [(e.action, (e.after or {}).get("peer_id", "")) for e in events],
            list(verify_chain()),
            RoomParticipant.objects.filter(session=room.session, connected=True).count(),
            Attendance.objects.filter(session=room.session, left_at__isnull=True).count(),
        )

    order, problems, connected, open_attendance = await database_sync_to_async(written)()
    # In the order the welcomes went out, each ticket's use before its join.
    assert order == [
        step
        for w in welcomes
        for step in (("session.ticket_use", ""), ("session.join", w["peer_id"]))
    ]
    assert (problems, connected, open_attendance) == ([], 3, 3)
    for communicator in sockets:
        await communicator.disconnect(timeout=30)


async def test_a_join_whose_room_copy_is_cold_is_corrected_by_the_database(room):
    med, med_welcome = await join(room.session, room.mediator)
    app, app_welcome = await join(room.session, room.applicant)
    await med.send_json_to({"type": "admit", "peer_id": app_welcome["peer_id"]})
    await receive(app, "admitted")
    await app.disconnect()
    await drain(med)
    # The cache lost the room (an eviction, a restarted Redis): the welcome says lobby,
    # the database knows better and the party is told at once.
    mirror.forget(room.session.pk)
    app, welcome = await join(room.session, room.applicant)
    assert (welcome["state"], welcome["peer_id"]) == ("lobby", app_welcome["peer_id"])
    admitted = await receive(app, "admitted")
    assert [p["peer_id"] for p in admitted["peers"]] == [med_welcome["peer_id"]]
    joined = await receive_until(med, "peer-joined")
    assert joined["peer"]["peer_id"] == app_welcome["peer_id"]
    # The copy is warm again: the next return is welcomed in the room straight away.
    await app.disconnect()
    await drain(med)
    app, welcome = await join(room.session, room.applicant)
    assert welcome["state"] == "room"
    assert await app.receive_nothing(timeout=0.3)
    await app.disconnect()
    await med.disconnect()


async def test_a_ticket_for_a_room_that_closed_is_refused_without_the_database(room, all_queries):
    token = await ticket_for(room.session, room.applicant)
    await database_sync_to_async(services.session_cancel)(session=room.session, actor=room.mediator)
    all_queries.counting = True
    error, code = await _refused(f"/ws/sessions/{room.session.pk}/?ticket={token}")
    all_queries.counting = False
    assert (error["code"], code) == ("session_closed", 4409)
    assert all_queries.sql == []


def test_a_ticket_is_spent_once_in_process_memory(room):
    token, _ = services.ticket_issue(session=room.session, user=room.applicant)
    claims = services.ticket_check(session_id=room.session.pk, token=token)
    assert services.ticket_spend(claims) is True
    assert services.ticket_spend(claims) is False


def test_a_ticket_is_spent_once_in_redis_whichever_process_tries(room, settings):
    """With REDIS_URL the mark is Redis' SET NX with an expiry: a second process (its own
    connection to Redis) racing with the same ticket is refused too."""
    import redis
    from django.core.cache.backends.redis import RedisCache

    location = "redis://127.0.0.1:6379/13"
    client = redis.Redis.from_url(location)
    client.flushdb()
    try:
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": location,
            }
        }
        token, expires_at = services.ticket_issue(session=room.session, user=room.applicant)
        claims = services.ticket_check(session_id=room.session.pk, token=token)
        assert services.ticket_spend(claims) is True
        other_process = RedisCache(location, {})
        assert other_process.add(services.access.USED_KEY.format(claims.nonce), 1) is False
        assert services.ticket_spend(claims) is False
        [key] = client.keys("*ticket-used*")
        ttl = client.ttl(key)
        lives = (expires_at - timezone.now()).total_seconds()
        assert lives < ttl <= lives + 61
    finally:
        client.flushdb()


async def test_two_joins_racing_with_one_ticket_let_one_in(room):
    token = await ticket_for(room.session, room.applicant)
    path = f"/ws/sessions/{room.session.pk}/?ticket={token}"
    sockets = await asyncio.gather(open_socket(path), open_socket(path))
    answers = sorted([(await receive(s))["type"] for s in sockets])
    assert answers == ["error", "welcome"]
    for s in sockets:
        await s.disconnect(timeout=30)


def test_a_ticket_valid_when_shown_is_not_refused_for_its_wait_in_the_database_queue(room):
    """The database's join of a ticket runs after its welcome, behind a burst of others:
    it judges the ticket at the moment the connection showed it."""
    token, expires_at = services.ticket_issue(session=room.session, user=room.applicant)
    other, _ = services.ticket_issue(session=room.session, user=room.respondent)
    shown = timezone.now()
    with time_machine.travel(expires_at + timedelta(seconds=30), tick=False):
        joined = services.room_enter(
            session_id=room.session.pk, ticket=token, presented_at=shown, channel_name="t.a"
        )
        assert joined.peer.user_id == room.applicant.pk
        # A ticket shown only now, after its expiry, is refused.
        with pytest.raises(services.Unauthenticated):
            services.room_enter(session_id=room.session.pk, ticket=other, channel_name="t.b")
    assert AuditEvent.objects.filter(action="session.ticket_use").count() == 1


def _peer(peer_id: str, *, role: str = "applicant", state: str = "room") -> Peer:
    return Peer(
        peer_id=peer_id,
        user_id=1,
        name=peer_id,
        role=role,
        state=state,
        connected=True,
        channel_name=f"c.{peer_id}",
    )


def _joined(me: Peer, peers: list[Peer], *, recording: bool = False) -> services.Joined:
    return services.Joined(
        peer=me,
        state=me.state,
        peers=peers,
        caucus=False,
        reach={p.peer_id: p.channel_name for p in peers},
        recording=recording,
        caucus_view={"side": "all", "caucus_peer_ids": []},
    )


def test_the_newcomer_hears_each_difference_between_its_welcome_and_the_database():
    def fix(sent: services.Joined, real: services.Joined) -> list[dict]:
        return services.welcome_corrections(sent, real, session_id=7, ice_servers=[])

    lobby, room = _peer("b", state="lobby"), _peer("b")
    med, other = _peer("a", role="mediator"), _peer("c")
    assert fix(_joined(room, [med]), _joined(room, [med])) == []
    # Admitted while the welcome was on its way: `admitted` with whom to call.
    [admitted] = fix(_joined(lobby, []), _joined(room, [med]))
    assert (admitted["type"], [p["peer_id"] for p in admitted["peers"]]) == ("admitted", ["a"])
    # Someone the copy did not know is in the room: the newcomer calls them (they heard
    # `peer-joined`), and who is gone is left out.
    [seen] = fix(_joined(room, [med]), _joined(room, [other]))
    assert (seen["type"], seen["call"], [p["peer_id"] for p in seen["peers"]]) == (
        "caucus",
        ["c"],
        ["c"],
    )
    # A recording started meanwhile; a place taken back answers a fresh welcome.
    assert fix(_joined(room, [med]), _joined(room, [med], recording=True)) == [
        {"type": "recording", "active": True}
    ]
    [again] = fix(_joined(room, [med]), _joined(lobby, []))
    assert (again["type"], again["state"], again["peers"]) == ("welcome", "lobby", [])


async def test_every_connection_shares_one_redis_client_for_the_rooms_copies(settings):
    """Django keeps its cache objects per context and each room connection is a task of
    its own: through `caches["default"]` every connection made and kept its own Redis
    client and socket (issue 13, the pub/sub layer's memory per connection). The room's
    store is one backend for the process."""
    import redis

    location = "redis://127.0.0.1:6379/13"
    client = redis.Redis.from_url(location)
    client.flushdb()
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": location}
    }
    try:
        clients_before = len(client.client_list())

        async def connection() -> int:
            # As a consumer's connect does: its own task, a trip to the cache.
            await mirror.in_cache(mirror.read, 1)
            return id(mirror.store())

        stores = await asyncio.gather(*(asyncio.create_task(connection()) for _ in range(40)))
        assert len(set(stores)) == 1
        # A few pooled sockets for the worker threads at most, not one per connection.
        assert len(client.client_list()) - clients_before <= 8
    finally:
        client.flushdb()


async def test_on_redis_a_ticket_join_joins_its_room_s_group_while_spending_and_a_refusal_leaves_it(
    room, settings
):
    """With Redis the ticket's spend and the room group's subscribe go at once (sessions.
    consumers). A refused ticket's connection does not stay in the group; the welcomed
    one is in it and hears the room."""
    import redis
    from channels.layers import get_channel_layer

    from sessions.broadcast import room_group, send_to_room

    location = "redis://127.0.0.1:6379/13"
    client = redis.Redis.from_url(location)
    client.flushdb()
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": location}
    }
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "sessions.layers.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [{"address": location}]},
        }
    }
    try:
        layer = get_channel_layer()
        group = layer._get_layer()._get_group_channel_name(room_group(room.session.pk))
        token = await ticket_for(room.session, room.applicant)
        path = f"/ws/sessions/{room.session.pk}/?ticket={token}"
        first = await open_socket(path)
        assert (await receive(first, "welcome"))["role"] == "applicant"
        await first.send_json_to({"type": "ping"})
        await receive_until(first, "pong")
        members = set(layer._get_layer().groups[group])
        assert len(members) == 1
        error, code = await _refused(path)
        assert (error["code"], code) == ("unauthenticated", 4401)
        assert layer._get_layer().groups[group] == members
        await send_to_room(room.session.pk, {"type": "recording", "active": True})
        assert (await receive_until(first, "recording"))["active"] is True
        await first.disconnect(timeout=30)
    finally:
        await get_channel_layer().flush()
        client.flushdb()
