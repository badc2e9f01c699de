"""The room's signaling consumer against CONTRACT §4: every message type, every refusal."""

from __future__ import annotations

from datetime import timedelta
from unittest.mock import ANY

import pytest
import time_machine
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from sessions.models import Attendance, ChatMessage, MediationSession, RoomParticipant
from tests import factories
from tests.sessions.conftest import (
    HOST,
    ORIGIN,
    admitted_room,
    application,
    cookie_header,
    drain,
    join,
    open_socket,
    quiet,
    receive,
    receive_until,
    schedule,
    ticket_for,
)

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


async def test_signal_is_relayed_to_the_peer_addressed_only(room):
    (med, med_id), (app, app_id), (res, _res_id) = await admitted_room(room)
    offer = {"sdp": {"type": "offer", "sdp": "v=0 fake"}}
    await app.send_json_to({"type": "signal", "to": med_id, "data": offer})
    relayed = await receive(med, "signal")
    assert relayed == {"type": "signal", "from": app_id, "data": offer}
    await quiet(res)
    for c in (med, app, res):
        await c.disconnect()


async def test_lobby_peer_cannot_signal_anyone_in_the_room(room):
    med, med_w = await join(room.session, room.mediator)
    app, _ = await join(room.session, room.applicant)
    await drain(med)
    await app.send_json_to({"type": "signal", "to": med_w["peer_id"], "data": {"x": 1}})
    error = await receive(app, "error")
    assert error["code"] == "not_in_room"
    await quiet(med)
    # The connection stays open.
    await app.send_json_to({"type": "ping"})
    await receive(app, "pong")
    await med.disconnect()
    await app.disconnect()


async def test_signal_to_a_peer_not_in_the_room_is_refused(room):
    med, _med_w = await join(room.session, room.mediator)
    app, app_w = await join(room.session, room.applicant)
    await drain(med)
    await med.send_json_to({"type": "signal", "to": app_w["peer_id"], "data": {}})
    assert (await receive(med, "error"))["code"] == "peer_not_visible"
    await med.send_json_to({"type": "signal", "to": "nobody", "data": {}})
    assert (await receive(med, "error"))["code"] == "peer_not_visible"
    await med.send_json_to({"type": "signal", "to": app_w["peer_id"]})
    assert (await receive(med, "error"))["code"] == "invalid_signal"
    await quiet(app)
    await med.disconnect()
    await app.disconnect()


async def test_party_cannot_use_the_mediators_controls(room):
    (med, _med_id), (app, app_id), (res, res_id) = await admitted_room(room)
    for message in (
        {"type": "admit", "peer_id": res_id},
        {"type": "remove", "peer_id": res_id},
        {"type": "caucus", "peer_ids": [app_id]},
        {"type": "caucus_end"},
        {"type": "end"},
    ):
        await app.send_json_to(message)
        error = await receive(app, "error")
        assert error["code"] == "mediator_only", message
    await quiet(res)
    await quiet(med)
    session = await database_sync_to_async(MediationSession.objects.get)(pk=room.session.pk)
    assert session.status == MediationSession.Status.LIVE
    assert session.caucus_peer_ids == []
    for c in (med, app, res):
        await c.disconnect()


async def test_caucus_partitions_signal_and_chat_until_it_ends(room):
    (med, med_id), (app, app_id), (res, res_id) = await admitted_room(room)
    await med.send_json_to({"type": "caucus", "peer_ids": [app_id]})
    assert (await receive(med, "caucus"))["peers"] == [_peer(app_id, "applicant")]
    assert [p["peer_id"] for p in (await receive(app, "caucus"))["peers"]] == [med_id]
    outside = await receive(res, "caucus")
    assert outside["peers"] == [] and outside["active"] is True

    # No signal crosses the partition, either way.
    await res.send_json_to({"type": "signal", "to": med_id, "data": {"candidate": {}}})
    assert (await receive(res, "error"))["code"] == "peer_not_visible"
    await app.send_json_to({"type": "signal", "to": res_id, "data": {"candidate": {}}})
    assert (await receive(app, "error"))["code"] == "peer_not_visible"
    # Inside the caucus signals flow.
    await app.send_json_to({"type": "signal", "to": med_id, "data": {"candidate": {"c": 1}}})
    assert (await receive(med, "signal"))["from"] == app_id

    # Chat stays inside the caucus and is kept with its audience.
    await app.send_json_to({"type": "chat", "text": "只对调解员说"})
    for c in (app, med):
        chat = await receive(c, "chat")
        assert chat["from"] == app_id and chat["text"] == "只对调解员说" and chat["at"]
    await quiet(res)
    kept = await database_sync_to_async(
        lambda: list(ChatMessage.objects.values("text", "audience"))
    )()
    assert kept == [{"text": "只对调解员说", "audience": sorted([app_id, med_id])}]
    # The caucus survives in the database for every process and every reconnect.
    session = await database_sync_to_async(MediationSession.objects.get)(pk=room.session.pk)
    assert session.caucus_peer_ids == [app_id]

    await med.send_json_to({"type": "caucus_end"})
    everyone = {med_id: med, app_id: app, res_id: res}
    calls = []
    for peer_id, c in everyone.items():
        message = await receive(c, "caucus")
        assert message["active"] is False
        assert {p["peer_id"] for p in message["peers"]} == set(everyone) - {peer_id}
        calls += [(peer_id, q) for q in message["call"]]
    # The two sides meet again: exactly one of each new pair calls.
    assert sorted(calls) == sorted(
        [tuple(sorted((res_id, med_id))), tuple(sorted((res_id, app_id)))]
    )
    await res.send_json_to({"type": "signal", "to": med_id, "data": {"sdp": {}}})
    assert (await receive(med, "signal"))["from"] == res_id
    for c in everyone.values():
        await c.disconnect()


async def test_caucus_with_someone_not_in_the_room_is_refused(room):
    med, _ = await join(room.session, room.mediator)
    app, app_w = await join(room.session, room.applicant)
    await drain(med)
    for peer_ids in ([app_w["peer_id"]], [], "x", ["nobody"]):
        await med.send_json_to({"type": "caucus", "peer_ids": peer_ids})
        assert (await receive(med, "error"))["code"] in ("invalid_caucus", "unknown_peer")
    await med.send_json_to({"type": "caucus_end"})
    assert (await receive(med, "error"))["code"] == "no_caucus"
    await med.disconnect()
    await app.disconnect()


async def test_chat_reaches_everyone_in_the_room_and_is_kept(room):
    (med, med_id), (app, app_id), (res, res_id) = await admitted_room(room)
    await res.send_json_to({"type": "chat", "text": "大家好"})
    for c in (med, app, res):
        chat = await receive(c, "chat")
        assert chat["from"] == res_id and chat["name"] and chat["text"] == "大家好"
    kept = await database_sync_to_async(ChatMessage.objects.get)()
    assert kept.audience == sorted([med_id, app_id, res_id])
    for bad in ({"type": "chat", "text": ""}, {"type": "chat", "text": 5}, {"type": "chat"}):
        await res.send_json_to(bad)
        assert (await receive(res, "error"))["code"] == "empty_message"
    await res.send_json_to({"type": "chat", "text": "x" * 2001})
    assert (await receive(res, "error"))["code"] == "message_too_long"
    for c in (med, app, res):
        await c.disconnect()


async def test_lobby_peer_cannot_chat(room):
    med, _ = await join(room.session, room.mediator)
    app, _ = await join(room.session, room.applicant)
    await drain(med)
    await app.send_json_to({"type": "chat", "text": "hello"})
    assert (await receive(app, "error"))["code"] == "not_in_room"
    await quiet(med)
    await med.disconnect()
    await app.disconnect()


async def test_removed_party_is_disconnected_and_the_room_hangs_up(room):
    (med, _med_id), (app, _app_id), (res, res_id) = await admitted_room(room)
    await med.send_json_to({"type": "remove", "peer_id": res_id})
    assert (await receive(res, "removed")) == {"type": "removed"}
    closed = await res.receive_output(timeout=5)
    assert closed == {"type": "websocket.close", "code": 4001}
    assert (await receive(app, "peer-left"))["peer_id"] == res_id
    assert (await receive_until(med, "peer-left"))["peer_id"] == res_id
    participant = await database_sync_to_async(RoomParticipant.objects.get)(peer_id=res_id)
    assert participant.state == RoomParticipant.State.REMOVED
    # Coming back, the removed party waits in the lobby again.
    again, welcome = await join(room.session, room.respondent)
    assert welcome["state"] == "lobby" and welcome["peer_id"] == res_id
    assert (await receive_until(med, "knock"))["peer"]["peer_id"] == res_id
    for c in (med, app, again):
        await c.disconnect()


async def test_end_tells_everyone_and_closes_the_room(room):
    (med, _med_id), (app, _app_id), (res, _res_id) = await admitted_room(room)
    await med.send_json_to({"type": "end"})
    for c in (med, app, res):
        assert (await receive(c, "ended")) == {"type": "ended"}
        assert (await c.receive_output(timeout=5))["type"] == "websocket.close"
    session = await database_sync_to_async(MediationSession.objects.get)(pk=room.session.pk)
    assert session.status == MediationSession.Status.ENDED and session.ended_at
    left = await database_sync_to_async(
        lambda: Attendance.objects.filter(session=session, left_at__isnull=True).count()
    )()
    assert left == 0
    # Nobody enters an ended session.
    token = await ticket_for_raw(room)
    assert token is None


async def ticket_for_raw(room):
    from odr.errors import DomainError

    try:
        return await ticket_for(room.session, room.applicant)
    except DomainError:
        return None


async def test_ping_answers_pong(room):
    med, _ = await join(room.session, room.mediator)
    await med.send_json_to({"type": "ping"})
    # The join's own messages (the mediator's `lobby`) may come first: a ticket's join
    # answers `welcome` before its database work, which can outlast a short drain on a
    # loaded machine; the pong follows them (one event at a time per connection).
    assert await receive_until(med, "pong") == {"type": "pong"}
    await med.disconnect()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{not json", "bad_json"),
        ("[1, 2]", "not_an_object"),
        ('"ping"', "not_an_object"),
        ('{"type": "dance"}', "unknown_type"),
        ('{"no_type": 1}', "unknown_type"),
        ('{"type": 7}', "unknown_type"),
        ('{"type": "chat", "text": "' + "x" * (64 * 1024) + '"}', "too_large"),
    ],
)
async def test_bad_messages_get_an_error_and_the_connection_stays_open(room, frame, code):
    med, _ = await join(room.session, room.mediator)
    await drain(med)
    await med.send_to(text_data=frame)
    error = await receive(med, "error")
    assert error["code"] == code and error["message"]
    await med.send_json_to({"type": "ping"})
    assert await receive(med) == {"type": "pong"}
    await med.disconnect()


async def test_binary_frames_are_refused_with_an_error(room):
    med, _ = await join(room.session, room.mediator)
    await drain(med)
    await med.send_to(bytes_data=b"\x00\x01")
    assert (await receive(med, "error"))["code"] == "binary_not_supported"
    await med.send_json_to({"type": "ping"})
    assert await receive(med) == {"type": "pong"}
    await med.disconnect()


async def test_a_flood_is_rate_limited_without_closing_the_connection(room, settings):
    settings.ODR_ROOM_RATE_BURST = 5
    settings.ODR_ROOM_RATE_PER_SECOND = 0.001
    med, _ = await join(room.session, room.mediator)
    await drain(med)
    for _ in range(8):
        await med.send_json_to({"type": "ping"})
    answers = [(await receive(med))["type"] for _ in range(8)]
    assert answers == ["pong"] * 5 + ["error"] * 3
    await med.disconnect()


# --- refusals at the door -----------------------------------------------------------------


async def _refused(path: str, headers=None) -> tuple[dict, int]:
    communicator = await open_socket(path, headers)
    error = await receive(communicator, "error")
    closed = await communicator.receive_output(timeout=5)
    assert closed["type"] == "websocket.close"
    return error, closed["code"]


async def test_a_non_participant_is_refused(room):
    coordinator = await database_sync_to_async(factories.demo_user)("coordinator@demo.odr")
    cookie = await cookie_header(coordinator)
    error, code = await _refused(f"/ws/sessions/{room.session.pk}/", [ORIGIN, HOST, cookie])
    assert error["code"] == "not_participant" and code == 4403
    # A session that does not exist answers the same (ids cannot be probed).
    error, code = await _refused("/ws/sessions/999999/", [ORIGIN, HOST, cookie])
    assert error["code"] == "not_participant" and code == 4403


async def test_an_anonymous_browser_is_refused(room):
    error, code = await _refused(f"/ws/sessions/{room.session.pk}/", [ORIGIN, HOST])
    assert error["code"] == "unauthenticated" and code == 4401


async def test_a_bad_ticket_is_refused(room):
    error, code = await _refused(f"/ws/sessions/{room.session.pk}/?ticket=forged")
    assert error["code"] == "unauthenticated" and code == 4401


async def test_a_ticket_works_once(room):
    token = await ticket_for(room.session, room.applicant)
    first = await open_socket(f"/ws/sessions/{room.session.pk}/?ticket={token}")
    assert (await receive(first))["type"] == "welcome"
    error, code = await _refused(f"/ws/sessions/{room.session.pk}/?ticket={token}")
    assert error["code"] == "unauthenticated" and code == 4401
    await first.disconnect()


async def test_a_ticket_for_another_session_is_refused(room):
    other = await database_sync_to_async(schedule)()
    token = await ticket_for(other, room.applicant)
    _error, code = await _refused(f"/ws/sessions/{room.session.pk}/?ticket={token}")
    assert code == 4401


async def test_an_expired_ticket_is_refused(room):
    token = await ticket_for(room.session, room.applicant)
    with time_machine.travel(timezone.now() + timedelta(seconds=61), tick=True):
        error, code = await _refused(f"/ws/sessions/{room.session.pk}/?ticket={token}")
    assert error["code"] == "unauthenticated" and code == 4401


async def test_a_socket_without_origin_needs_a_ticket_not_a_cookie(room):
    cookie = await cookie_header(room.applicant)
    communicator = WebsocketCommunicator(
        application(), f"/ws/sessions/{room.session.pk}/", headers=[cookie]
    )
    connected, _ = await communicator.connect(timeout=5)
    assert connected is False


async def test_a_foreign_origin_is_refused_even_with_a_ticket(room):
    token = await ticket_for(room.session, room.applicant)
    communicator = WebsocketCommunicator(
        application(),
        f"/ws/sessions/{room.session.pk}/?ticket={token}",
        headers=[(b"origin", b"https://evil.example")],
    )
    connected, _ = await communicator.connect(timeout=5)
    assert connected is False


# Issue 11, I: an origin is a scheme, a host and a port. Configured here: the public
# address behind a TLS proxy and one trusted portal; the request's own origin comes from
# its Host header (one of ALLOWED_HOSTS) and the socket's scheme.
SITE_URL = "https://odr.example.gov.cn"
TRUSTED = ["https://portal.example.gov.cn:8443"]


@pytest.mark.parametrize(
    ("origin", "host", "accepted"),
    [
        (b"http://127.0.0.1:8000", b"127.0.0.1:8000", True),  # the page's own origin
        (b"http://localhost", b"localhost:80", True),  # the default port, said or not
        (b"https://odr.example.gov.cn", b"127.0.0.1:8000", True),  # SITE_URL, via a proxy
        (b"https://portal.example.gov.cn:8443", b"127.0.0.1:8000", True),  # trusted
        (b"http://127.0.0.1:8001", b"127.0.0.1:8000", False),  # another port, same host
        (b"https://127.0.0.1:8000", b"127.0.0.1:8000", False),  # another scheme
        (b"https://odr.example.gov.cn:8443", b"127.0.0.1:8000", False),  # SITE_URL's host
        (b"https://portal.example.gov.cn", b"127.0.0.1:8000", False),  # trusted host
        (b"http://evil.example:8000", b"evil.example:8000", False),  # a host not ours
        (b"http://127.0.0.1:8000", None, False),  # no Host: only SITE_URL and the trusted
        (b"null", b"127.0.0.1:8000", False),
    ],
)
async def test_a_browser_socket_is_accepted_only_from_the_platforms_exact_origin(
    room, settings, origin, host, accepted
):
    settings.SITE_URL = SITE_URL
    settings.CSRF_TRUSTED_ORIGINS = TRUSTED
    cookie = await cookie_header(room.applicant)
    headers = [(b"origin", origin), cookie] + ([(b"host", host)] if host else [])
    communicator = WebsocketCommunicator(
        application(), f"/ws/sessions/{room.session.pk}/", headers=headers
    )
    connected, _ = await communicator.connect(timeout=5)
    first = None
    if connected:
        first = await receive(communicator)
        await communicator.disconnect()
    assert connected is accepted
    assert first is None or first["type"] == "welcome"


async def test_a_ticket_does_not_let_staff_without_two_factor_into_the_room(room, settings):
    """A ticket connection skips the cookie stack and its two-factor gate; the consumer
    asks the same rule (odr.middleware.mfa_required) of the ticket's user."""
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    # Issued before the rule applied (the API that issues tickets is under it now).
    token = await ticket_for(room.session, room.mediator)
    settings.DEBUG = False
    settings.ODR_REQUIRE_STAFF_MFA = True
    error, code = await _refused(f"/ws/sessions/{room.session.pk}/?ticket={token}")
    assert error["code"] == "mfa_required" and code == 4403
    # A party needs no second factor; the mediator with TOTP on enters.
    applicant, welcome = await join(room.session, room.applicant)
    assert welcome["role"] == "applicant"
    await database_sync_to_async(TOTP.activate)(room.mediator, generate_totp_secret())
    mediator, welcome = await join(room.session, room.mediator)
    assert welcome["role"] == "mediator"
    await applicant.disconnect()
    await mediator.disconnect()


async def test_a_browser_joins_with_its_cookie_session(room):
    cookie = await cookie_header(room.applicant)
    communicator = await open_socket(f"/ws/sessions/{room.session.pk}/", [ORIGIN, HOST, cookie])
    welcome = await receive(communicator, "welcome")
    assert welcome["role"] == "applicant" and welcome["state"] == "lobby"
    await communicator.disconnect()


async def test_a_session_not_yet_fixed_cannot_be_entered(room):
    from sessions import services

    proposed = await database_sync_to_async(services.session_schedule)(
        dispute=room.session.dispute,
        actor=room.mediator,
        proposed_times=[timezone.now() + timedelta(days=2)],
    )
    cookie = await cookie_header(room.mediator)
    error, code = await _refused(f"/ws/sessions/{proposed.pk}/", [ORIGIN, HOST, cookie])
    assert error["code"] == "session_closed" and code == 4409


# --- coming back ----------------------------------------------------------------------------


async def test_a_reconnecting_party_comes_back_admitted_with_the_same_peer_id(room):
    (med, med_id), (app, app_id), (res, res_id) = await admitted_room(room)
    await res.disconnect()
    assert (await receive(med, "peer-left"))["peer_id"] == res_id
    assert (await receive(app, "peer-left"))["peer_id"] == res_id
    again, welcome = await join(room.session, room.respondent)
    assert welcome["peer_id"] == res_id and welcome["state"] == "room"
    assert {p["peer_id"] for p in welcome["peers"]} == {med_id, app_id}
    assert (await receive(med, "peer-joined"))["peer"]["peer_id"] == res_id
    assert (await receive(app, "peer-joined"))["peer"]["peer_id"] == res_id
    for c in (med, app, again):
        await c.disconnect()


async def test_a_caucus_stays_a_caucus_across_reconnects(room):
    (med, med_id), (app, app_id), (res, _res_id) = await admitted_room(room)
    await med.send_json_to({"type": "caucus", "peer_ids": [app_id]})
    for c in (med, app, res):
        await receive(c, "caucus")
    await res.disconnect()
    await med.disconnect()
    await drain(app)
    med2, med_welcome = await join(room.session, room.mediator)
    assert med_welcome["peer_id"] == med_id and med_welcome["caucus"] is True
    assert [p["peer_id"] for p in med_welcome["peers"]] == [app_id]
    res2, res_welcome = await join(room.session, room.respondent)
    assert res_welcome["state"] == "room" and res_welcome["peers"] == []
    await res2.send_json_to({"type": "signal", "to": med_id, "data": {}})
    assert (await receive_until(res2, "error"))["code"] == "peer_not_visible"
    for c in (med2, app, res2):
        await c.disconnect()


async def test_a_second_connection_supersedes_the_first(room):
    med, med_w = await join(room.session, room.mediator)
    await drain(med)
    med2, med2_w = await join(room.session, room.mediator)
    assert med2_w["peer_id"] == med_w["peer_id"]
    error = await receive(med, "error")
    assert error["code"] == "superseded"
    assert (await med.receive_output(timeout=5)) == {"type": "websocket.close", "code": 4000}
    await med.disconnect()
    # The old socket's close does not take the new one out of the room.
    participant = await database_sync_to_async(RoomParticipant.objects.get)(
        peer_id=med_w["peer_id"]
    )
    assert participant.connected is True
    await med2.send_json_to({"type": "ping"})
    assert (await receive_until(med2, "pong"))["type"] == "pong"
    await med2.disconnect()


async def test_attendance_records_joining_and_leaving_with_the_self_test(room):
    from sessions import services

    await database_sync_to_async(services.room_record_self_test)(
        session=room.session,
        user=room.applicant,
        result={"rtt_ms": 42, "loss_pct": 0.5, "bitrate_kbps": 1200, "grade": "good"},
    )
    app, _ = await join(room.session, room.applicant)
    await app.disconnect()
    rows = await database_sync_to_async(
        lambda: list(Attendance.objects.filter(session=room.session, user=room.applicant))
    )()
    assert len(rows) == 1
    assert rows[0].left_at is not None and rows[0].left_at >= rows[0].joined_at
    assert rows[0].self_test["grade"] == "good" and rows[0].self_test["rtt_ms"] == 42


async def test_send_to_room_reaches_lobby_and_room(room):
    from sessions.broadcast import send_to_room

    med, _ = await join(room.session, room.mediator)
    app, _ = await join(room.session, room.applicant)
    await drain(med)
    await send_to_room(room.session.pk, {"type": "recording", "active": True})
    for c in (med, app):
        assert await receive(c) == {"type": "recording", "active": True}
    await med.disconnect()
    await app.disconnect()


async def test_knocks_wait_for_the_mediator(room):
    app, app_w = await join(room.session, room.applicant)
    med, welcome = await join(room.session, room.mediator)
    assert welcome["state"] == "room"
    knock = await receive_until(med, "knock")
    assert knock["peer"]["peer_id"] == app_w["peer_id"]
    await med.disconnect()
    await app.disconnect()


def _peer(peer_id: str, role: str) -> dict:
    return {"peer_id": peer_id, "name": ANY, "role": role}


async def test_a_signal_that_crossed_a_caucus_in_flight_is_dropped_by_the_receiver(room):
    from channels.layers import get_channel_layer

    (med, med_id), (app, app_id), (res, res_id) = await admitted_room(room)
    await med.send_json_to({"type": "caucus", "peer_ids": [app_id]})
    for c in (med, app, res):
        await receive(c, "caucus")
    mediator = await database_sync_to_async(RoomParticipant.objects.get)(peer_id=med_id)
    # As if the respondent's consumer relayed it a moment before it heard of the caucus.
    await get_channel_layer().send(
        mediator.channel_name, {"type": "room.signal", "from": res_id, "data": {"late": True}}
    )
    await quiet(med)
    await get_channel_layer().send(
        mediator.channel_name, {"type": "room.signal", "from": app_id, "data": {"ok": True}}
    )
    assert (await receive(med, "signal"))["data"] == {"ok": True}
    for c in (med, app, res):
        await c.disconnect()
