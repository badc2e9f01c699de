"""The room's signaling consumer against CONTRACT §4: every message type, every refusal."""

from __future__ import annotations

import pytest

from tests.sessions.conftest import join, receive, receive_until

pytestmark = pytest.mark.django_db(transaction=True)


async def test_mediator_enters_the_room_and_a_party_knocks_from_the_lobby(room):
    med, welcome = await join(room.session, room.mediator)
    assert welcome["state"] == "room"
    assert welcome["role"] == "mediator"
    assert welcome["peers"] == []
    assert isinstance(welcome["ice_servers"], list)
    app, app_welcome = await join(room.session, room.applicant)
    assert app_welcome["state"] == "lobby"
    assert app_welcome["role"] == "applicant"
    assert app_welcome["peers"] == []
    knock = await receive_until(med, "knock")
    assert knock["peer"] == {
        "peer_id": app_welcome["peer_id"],
        "name": app_welcome["name"],
        "role": "applicant",
    }
    await med.disconnect()
    await app.disconnect()


async def test_admitted_party_calls_the_room_and_the_room_hears_peer_joined(room):
    med, med_w = await join(room.session, room.mediator)
    app, app_w = await join(room.session, room.applicant)
    await receive_until(med, "knock")
    await med.send_json_to({"type": "admit", "peer_id": app_w["peer_id"]})
    admitted = await receive(app, "admitted")
    assert [p["peer_id"] for p in admitted["peers"]] == [med_w["peer_id"]]
    joined = await receive_until(med, "peer-joined")
    assert joined["peer"]["peer_id"] == app_w["peer_id"]
    await med.disconnect()
    await app.disconnect()
