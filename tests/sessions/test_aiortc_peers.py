"""Three scripted aiortc peers (the mediator and both parties) meet in a room served by a
real Daphne process: tickets over the app API, the lobby, the mesh with video both ways,
a caucus that cuts one party off, and the end."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from tests.sessions.support.liveserver import LiveServer
from tests.sessions.support.scripted_peer import ScriptedPeer, run_async

PASSWORD = "odr-demo-2026"
FRAMES = 10


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = LiveServer(tmp_path_factory.mktemp("aiortc-room"))
    live.prepare()
    live.session_ids = live.create_sessions([{}])
    live.start()
    yield live
    live.stop()


async def until(predicate, within: float = 20) -> None:
    """Polls the peers' network state (real sockets: no clock to move)."""
    for _ in range(int(within / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the room did not reach the expected state")


def test_three_aiortc_peers_see_each_other_then_caucus_and_end(server):
    run_async(_three_aiortc_peers_see_each_other_then_caucus_and_end(server))


async def _three_aiortc_peers_see_each_other_then_caucus_and_end(server):
    sid = server.session_ids[0]
    mediator, applicant, respondent = peers = [
        ScriptedPeer(base_url=server.base_url, email=email, password=PASSWORD, session_id=sid)
        for email in ("mediator@demo.odr", "citizen1@demo.odr", "citizen2@demo.odr")
    ]
    try:
        for p in peers:
            await p.login()
        welcome = await mediator.connect()
        assert (welcome["state"], welcome["role"], welcome["peers"]) == ("room", "mediator", [])

        # Each party waits in the lobby until the mediator admits them; the newcomer calls.
        for party in (applicant, respondent):
            welcome = await party.connect()
            assert welcome["state"] == "lobby" and welcome["peers"] == []
            knock = await mediator.wait_for("knock", peer={**knock_peer(party)})
            await mediator.send({"type": "admit", "peer_id": knock["peer"]["peer_id"]})
            admitted = await party.wait_for("admitted")
            assert mediator.peer_id in {p["peer_id"] for p in admitted["peers"]}

        # Video frames arrive both ways on every pair of the mesh.
        for a, b in itertools.permutations(peers, 2):
            await a.wait_frames(b.peer_id, FRAMES)

        # Caucus with the applicant: the respondent is cut off from both.
        await mediator.send({"type": "caucus", "peer_ids": [applicant.peer_id]})
        apart = await respondent.wait_for("caucus")
        assert apart["peers"] == []
        await until(lambda: not respondent.links)
        await until(lambda: respondent.peer_id not in mediator.links)
        await until(lambda: respondent.peer_id not in applicant.links)
        signals_before = len(respondent.signals_received)
        await respondent.send({"type": "signal", "to": mediator.peer_id, "data": {"x": 1}})
        refused = await respondent.wait_for("error")
        assert refused["code"] == "peer_not_visible"
        # Inside the caucus the media keeps flowing.
        seen = mediator.frames_from(applicant.peer_id)
        await mediator.wait_frames(applicant.peer_id, seen + FRAMES)
        assert len(respondent.signals_received) == signals_before

        # The caucus ends: the respondent is called again and sees both.
        await mediator.send({"type": "caucus_end"})
        back = await respondent.wait_for("caucus")
        assert {p["peer_id"] for p in back["peers"]} == {mediator.peer_id, applicant.peer_id}
        for a, b in itertools.permutations(peers, 2):
            await a.wait_frames(b.peer_id, FRAMES)

        await mediator.send({"type": "end"})
        for p in peers:
            await p.wait_for("ended")
        assert server.sql("select status from mediation_mediationsession where id=?", (sid,)) == [
            ("ended",)
        ]
    finally:
        for p in peers:
            await p.close()


def knock_peer(party: ScriptedPeer) -> dict:
    return {"peer_id": party.peer_id, "name": party.welcome["name"], "role": party.welcome["role"]}
