"""The media endpoints on a real Daphne process: the self-test's aiortc echo peer, the
graded self-test result kept with the participant, and the server-side recorder (only
with every consent; the file's SHA-256 in the audit trail)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import urllib.error
from pathlib import Path

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from tests.sessions.support.liveserver import LiveServer
from tests.sessions.support.scripted_peer import ScriptedPeer, ToneAudio, run_async

PASSWORD = "odr-demo-2026"
LOCAL_ONLY = RTCConfiguration(iceServers=[])  # no STUN: the server is on this machine


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = LiveServer(tmp_path_factory.mktemp("media-server"))
    live.prepare()
    live.session_ids = live.create_sessions([{}, {"recording": True}, {"recording": True}])
    live.start()
    yield live
    live.stop()


async def logged_in(server: LiveServer, email: str, session_id: int, **kw) -> ScriptedPeer:
    peer = ScriptedPeer(
        base_url=server.base_url, email=email, password=PASSWORD, session_id=session_id, **kw
    )
    await peer.login()
    return peer


async def offer_to(peer: ScriptedPeer, path: str, pc: RTCPeerConnection) -> None:
    await pc.setLocalDescription(await pc.createOffer())
    answer = await peer.api(path, {"sdp": pc.localDescription.sdp, "type": "offer"})
    await pc.setRemoteDescription(RTCSessionDescription(**answer))


def test_echo_peer_sends_back_data_channel_messages_and_media(server):
    run_async(_echo_peer_sends_back_data_channel_messages_and_media(server))


async def _echo_peer_sends_back_data_channel_messages_and_media(server):
    sid = server.session_ids[0]
    peer = await logged_in(server, "citizen1@demo.odr", sid)
    pc = RTCPeerConnection(LOCAL_ONLY)
    channel = pc.createDataChannel("ping", ordered=False, maxRetransmits=0)
    opened, echoed, tone_back = asyncio.Event(), asyncio.Queue(), asyncio.Event()
    frames = []
    channel.on("open", opened.set)
    channel.on("message", echoed.put_nowait)

    @pc.on("track")
    def on_track(track) -> None:
        async def count() -> None:
            while True:
                try:
                    frames.append(await track.recv())
                    if len(frames) >= 10:
                        tone_back.set()
                except MediaStreamError:
                    return

        asyncio.ensure_future(count())  # noqa: RUF006

    pc.addTrack(ToneAudio())
    try:
        await offer_to(peer, f"/sessions/{sid}/selftest", pc)
        async with asyncio.timeout(20):
            await opened.wait()
            channel.send('{"seq": 1}')
            assert await echoed.get() == '{"seq": 1}'
            await tone_back.wait()  # the tone came back
    finally:
        await pc.close()


def test_self_test_result_is_graded_and_kept_with_the_participant(server):
    run_async(_self_test_result_is_graded_and_kept_with_the_participant(server))


async def _self_test_result_is_graded_and_kept_with_the_participant(server):
    sid = server.session_ids[0]
    peer = await logged_in(server, "citizen2@demo.odr", sid)
    good = await peer.api(
        f"/sessions/{sid}/selftest/result", {"rtt_ms": 40, "loss_pct": 0, "bitrate_kbps": 4000}
    )
    assert good["grade"] == "good" and good["words"]
    fair = await peer.api(
        f"/sessions/{sid}/selftest/result", {"rtt_ms": 320, "loss_pct": 3, "bitrate_kbps": 800}
    )
    assert fair["grade"] == "fair"
    kept = server.sql(
        "select p.self_test from mediation_roomparticipant p join auth_user u on u.id = p.user_id"
        " where p.session_id = ? and u.email = ?",
        (sid, "citizen2@demo.odr"),
    )
    assert json.loads(kept[0][0])["grade"] == "fair"
    assert json.loads(kept[0][0])["rtt_ms"] == 320


def test_self_test_refuses_someone_outside_the_session_with_404(server):
    run_async(_self_test_refuses_someone_outside_the_session_with_404(server))


async def _self_test_refuses_someone_outside_the_session_with_404(server):
    sid = server.session_ids[0]
    clerk = await logged_in(server, "clerk@demo.odr", sid)
    with pytest.raises(urllib.error.HTTPError) as refused:
        await clerk.api(f"/sessions/{sid}/selftest", {"sdp": "v=0\r\n", "type": "offer"})
    assert refused.value.code == 404


def test_one_person_cannot_hold_more_than_two_echo_peers_at_once(server):
    run_async(_one_person_cannot_hold_more_than_two_echo_peers_at_once(server))


async def _one_person_cannot_hold_more_than_two_echo_peers_at_once(server):
    sid = server.session_ids[0]
    peer = await logged_in(server, "citizen2@demo.odr", sid)
    pcs = [RTCPeerConnection(LOCAL_ONLY) for _ in range(3)]
    try:
        for pc in pcs[:2]:
            pc.createDataChannel("ping")
            await offer_to(peer, f"/sessions/{sid}/selftest", pc)
        pcs[2].createDataChannel("ping")
        with pytest.raises(urllib.error.HTTPError) as refused:
            await offer_to(peer, f"/sessions/{sid}/selftest", pcs[2])
        assert refused.value.code == 429
        assert json.loads(refused.value.read())["code"] == "too_many_tests"
    finally:
        for pc in pcs:
            await pc.close()


def test_recording_does_not_start_without_every_participants_consent(server):
    run_async(_recording_does_not_start_without_every_participants_consent(server))


async def _recording_does_not_start_without_every_participants_consent(server):
    sid = server.session_ids[2]
    mediator = await logged_in(server, "mediator@demo.odr", sid)
    applicant = await logged_in(server, "citizen1@demo.odr", sid)
    await mediator.api(f"/sessions/{sid}/consent", {"online": True, "recording": True})
    await applicant.api(f"/sessions/{sid}/consent", {"online": True, "recording": True})
    # citizen2 never consents to recording.
    with pytest.raises(urllib.error.HTTPError) as refused:
        await mediator.api(f"/sessions/{sid}/recording/start", {})
    assert refused.value.code == 409
    assert json.loads(refused.value.read())["code"] == "consent_missing"
    assert server.sql("select count(*) from mediation_recording where session_id = ?", (sid,)) == [
        (0,)
    ]


def test_recording_of_a_short_session_is_saved_with_its_sha256_in_the_audit_trail(server):
    run_async(_recording_of_a_short_session_is_saved_with_its_sha256_in_the_audit_trail(server))


async def _recording_of_a_short_session_is_saved_with_its_sha256_in_the_audit_trail(server):
    sid = server.session_ids[1]
    emails = ("mediator@demo.odr", "citizen1@demo.odr", "citizen2@demo.odr")
    people = [await logged_in(server, e, sid, audio=True) for e in emails]
    mediator = people[0]
    for p in people:
        await p.api(f"/sessions/{sid}/consent", {"online": True, "recording": True})
    await mediator.connect()
    pcs: list[RTCPeerConnection] = []
    try:
        started = await mediator.api(f"/sessions/{sid}/recording/start", {})
        assert started["active"] is True
        assert (await mediator.wait_for("recording"))["active"] is True
        # Each client sends its own microphone to the recorder on one extra connection.
        for i, p in enumerate(people):
            pc = RTCPeerConnection(LOCAL_ONLY)
            pc.addTrack(ToneAudio(freq=300 + 200 * i))
            await offer_to(p, f"/sessions/{sid}/recording/offer", pc)
            pcs.append(pc)
        await asyncio.sleep(3)  # three seconds of session to record
        stopped = await mediator.api(f"/sessions/{sid}/recording/stop", {})
        assert stopped["active"] is False
        assert (await mediator.wait_for("recording"))["active"] is False
    finally:
        for pc in pcs:
            await pc.close()
        await mediator.close()

    [(file, sha256, size, ended)] = server.sql(
        "select file, sha256, size, ended_at from mediation_recording where session_id = ?",
        (sid,),
    )
    stored = Path(server.env["ODR_DATA_DIR"]) / "media" / file
    data = stored.read_bytes()
    assert ended is not None and size == len(data) > 2000
    assert data[:4] == b"OggS"
    assert hashlib.sha256(data).hexdigest() == sha256 == stopped["sha256"]
    audit = server.sql(
        "select after from odr_auditevent where action = 'session.recording_saved'"
        " and object_id = (select id from mediation_recording where session_id = ?)",
        (sid,),
    )
    assert json.loads(audit[0][0])["sha256"] == sha256
