"""Issue 13, point 1: the mediators' admits that arrive together are made together. A
batch of admits in several rooms is ONE transaction whose queries do not grow with the
batch; the admits are made in order, each seeing the room as the ones before it left
it; every peer hears exactly what the same admits made one by one tell it (CONTRACT
§4: `admitted`, `peer-joined`, the mediator's `lobby`); a refused admit writes nothing;
the audit events are chained in the batch's order."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.db import connection
from django.test.utils import CaptureQueriesContext

from odr.audit import verify_chain
from odr.models import AuditEvent
from sessions import services
from sessions.broadcast import CacheWrite, Delivery
from sessions.models import RoomParticipant
from sessions.services import room as room_services
from tests.sessions.conftest import Room, demo_rooms, join, receive_until

pytestmark = pytest.mark.django_db(transaction=True)
ROLES = ("mediator", "applicant", "respondent")


def _seated(rooms: list[Room], prefix: str) -> list[dict[str, str]]:
    """Everyone of each room joined (the parties in the lobby), on channels named after
    the room and the role; each room's peer ids by role."""
    entries = [
        services.Entry(session_id=room.session.pk, user=who, channel_name=f"{prefix}{r}.{role}")
        for r, room in enumerate(rooms)
        for role, who in zip(ROLES, (room.mediator, room.applicant, room.respondent), strict=True)
    ]
    joined = services.room_enter_many(entries=entries)
    return [
        {role: joined[3 * r + k].peer.peer_id for k, role in enumerate(ROLES)}
        for r in range(len(rooms))
    ]


class Told:
    """The deliveries the services hand over, captured (messages and the cache's copy)."""

    def __init__(self, monkeypatch) -> None:
        self.deliveries: list[Delivery | CacheWrite] = []
        monkeypatch.setattr(room_services, "deliver_on_commit", self.deliveries.extend)

    def messages(self, names: dict[str, str]) -> list[tuple[str, Any, Any, Any]]:
        """(recipient, message, reach, close) of each message, peer ids and channels
        replaced by `names` (so two rooms compare)."""

        def named(value: Any) -> Any:
            if isinstance(value, str):
                return names.get(value, value)
            if isinstance(value, list):
                # Lists of peers are ordered by peer id, which differs between rooms.
                return sorted((named(v) for v in value), key=repr)
            if isinstance(value, dict):
                return {named(k): named(v) for k, v in value.items()}
            return value

        return [
            (named(d.channel or d.group), named(d.message), named(d.reach), d.close)
            for d in self.deliveries
            if isinstance(d, Delivery)
        ]


def _names(peers: dict[str, str], prefix: str, r: int) -> dict[str, str]:
    return {**{pid: role for role, pid in peers.items()}, **{f"{prefix}{r}.{x}": x for x in ROLES}}


def test_a_batch_of_admits_tells_everyone_what_admits_one_by_one_tell(demo, monkeypatch):
    alone, batched = demo_rooms(2)
    (a,), (b,) = _seated([alone], "a"), _seated([batched], "b")
    told_alone = Told(monkeypatch)
    for who in ("applicant", "respondent"):
        services.room_admit(session_id=alone.session.pk, actor_peer=a["mediator"], peer_id=a[who])
    told_batch = Told(monkeypatch)
    results = services.room_admit_many(
        entries=[
            services.Admission(batched.session.pk, b["mediator"], b[who])
            for who in ("applicant", "respondent")
        ]
    )
    assert results == [None, None]
    one_by_one = told_alone.messages(_names(a, "a", 0))
    together = told_batch.messages(_names(b, "b", 0))
    assert together == one_by_one
    # What that is (CONTRACT §4): the applicant admitted to the mediator alone, who hears
    # it joined and the lobby left with the respondent; then the respondent admitted to
    # both, who hear it joined, and an empty lobby.
    kinds = [(to, m["type"], m.get("peer", {}).get("peer_id")) for to, m, _r, _c in together]
    assert kinds == [
        ("applicant", "admitted", None),
        ("mediator", "peer-joined", "applicant"),
        ("mediator", "lobby", None),
        ("respondent", "admitted", None),
        ("mediator", "peer-joined", "respondent"),
        ("applicant", "peer-joined", "respondent"),
        ("mediator", "lobby", None),
    ]
    # The respondent, admitted second, sees the mediator and the applicant the batch
    # admitted before it; the lobby first holds the respondent, then nobody.
    assert sorted(p["peer_id"] for p in together[3][1]["peers"]) == ["applicant", "mediator"]
    assert [p["peer_id"] for p in together[2][1]["peers"]] == ["respondent"]
    assert together[6][1]["peers"] == []
    # One copy of the room for the cache, after the batch's messages.
    assert isinstance(told_batch.deliveries[-1], CacheWrite)
    assert len([d for d in told_batch.deliveries if isinstance(d, CacheWrite)]) == 1


def test_a_batch_of_admits_in_many_rooms_costs_the_queries_of_a_batch_in_one_room(
    demo, monkeypatch
):
    small, large = demo_rooms(1), demo_rooms(5)
    seats_small, seats_large = _seated(small, "s"), _seated(large, "l")
    Told(monkeypatch)

    def admissions(rooms: list[Room], seats: list[dict[str, str]]) -> list[services.Admission]:
        return [
            services.Admission(room.session.pk, peers["mediator"], peers[who])
            for who in ("applicant", "respondent")
            for room, peers in zip(rooms, seats, strict=True)
        ]

    with CaptureQueriesContext(connection) as q_small:
        assert services.room_admit_many(entries=admissions(small, seats_small)) == [None] * 2
    before = AuditEvent.objects.order_by("-seq").first().seq
    batch = admissions(large, seats_large)
    with CaptureQueriesContext(connection) as q_large:
        assert services.room_admit_many(entries=batch) == [None] * 10
    sql_small = [q["sql"] for q in q_small.captured_queries]
    sql_large = [q["sql"] for q in q_large.captured_queries]
    # Two admits or ten: the same statements (no statement per admit).
    assert len(sql_large) == len(sql_small) <= 8, sql_large
    for room in large:
        states = RoomParticipant.objects.filter(session=room.session).values_list(
            "state", flat=True
        )
        assert sorted(states) == ["room"] * 3
    # One `session.admit` an admit, by the room's mediator, in the batch's order.
    events = list(AuditEvent.objects.filter(seq__gt=before).order_by("seq"))
    assert [(e.action, e.object_id, e.after["peer_id"]) for e in events] == [
        ("session.admit", str(a.session_id), a.peer_id) for a in batch
    ]
    assert {e.actor_id for e in events} == {large[0].mediator.pk}
    assert list(verify_chain()) == []


def test_a_refused_admit_in_a_batch_writes_nothing_and_the_others_go_in(demo, monkeypatch):
    (room,) = demo_rooms(1)
    (peers,) = _seated([room], "r")
    told = Told(monkeypatch)
    events = AuditEvent.objects.count()
    pk = room.session.pk
    results = services.room_admit_many(
        entries=[
            services.Admission(pk, peers["applicant"], peers["respondent"]),  # not the mediator
            services.Admission(pk, peers["mediator"], peers["applicant"]),
            services.Admission(pk, peers["mediator"], peers["applicant"]),  # in already
            services.Admission(pk, peers["mediator"], "nobody"),
            services.Admission(pk, peers["mediator"], 7),
            services.Admission(10**9, peers["mediator"], peers["respondent"]),
        ]
    )
    codes = [r.code if r is not None else None for r in results]
    assert codes == [
        "mediator_only",
        None,
        "not_in_lobby",
        "unknown_peer",
        "unknown_peer",
        "not_found",
    ]
    assert AuditEvent.objects.count() == events + 1
    states = dict(
        RoomParticipant.objects.filter(session=room.session).values_list("peer_id", "state")
    )
    assert (states[peers["applicant"]], states[peers["respondent"]]) == ("room", "lobby")
    assert [m["type"] for _to, m, _r, _c in told.messages({})] == [
        "admitted",
        "peer-joined",
        "lobby",
    ]
    assert list(verify_chain()) == []


async def test_admits_arriving_while_a_batch_is_in_the_database_are_made_together(
    demo, monkeypatch
):
    rooms = await database_sync_to_async(demo_rooms)(5)
    sizes: list[int] = []
    original = services.room_admit_many

    def counted(*, entries):
        sizes.append(len(entries))
        return original(entries=entries)

    monkeypatch.setattr(services, "room_admit_many", counted)
    seated = []
    for room in rooms:
        sockets = [await join(room.session, who) for who in (room.mediator, room.applicant)]
        seated.append(sockets)

    async def admit(sockets) -> dict:
        (mediator, _welcome), (applicant, applicant_welcome) = sockets
        await mediator.send_json_to({"type": "admit", "peer_id": applicant_welcome["peer_id"]})
        admitted = await receive_until(applicant, "admitted")
        joined = await receive_until(mediator, "peer-joined")
        assert joined["peer"]["peer_id"] == applicant_welcome["peer_id"]
        return admitted

    answers = await asyncio.gather(*(admit(s) for s in seated))
    assert [len(a["peers"]) for a in answers] == [1] * 5
    # Five admits, fewer transactions: all but the first went in a batch.
    assert sum(sizes) == 5 and len(sizes) < 5, sizes

    def audited() -> tuple[int, list]:
        return AuditEvent.objects.filter(action="session.admit").count(), list(verify_chain())

    assert await database_sync_to_async(audited)() == (5, [])
    for sockets in seated:
        for communicator, _welcome in sockets:
            await communicator.disconnect(timeout=30)


async def test_a_refused_admit_over_the_socket_answers_its_error(room):
    mediator, _ = await join(room.session, room.mediator)
    applicant, applicant_welcome = await join(room.session, room.applicant)
    await applicant.send_json_to({"type": "admit", "peer_id": applicant_welcome["peer_id"]})
    error = await receive_until(applicant, "error")
    assert error["code"] == "mediator_only"
    await mediator.send_json_to({"type": "admit", "peer_id": "nobody"})
    assert (await receive_until(mediator, "error"))["code"] == "unknown_peer"
    for c in (mediator, applicant):
        await c.disconnect()
