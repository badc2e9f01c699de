"""Two headless Chromium pages (fake camera and microphone) join a room from the UI, one
as the mediator on a desktop, one as a party on a phone, against a real Daphne process:
pre-join check and network self-test, consent, lobby, admission, video decoded both ways
(frames counted from getStats), then the mediator's caucus and end buttons."""

from __future__ import annotations

import json

import pytest

from sessions.media.liveserver import LiveServer
from tests.conftest import PHONE

PASSWORD = "odr-demo-2026"
DESKTOP = {"width": 1280, "height": 800}
FRAMES = 30

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = LiveServer(tmp_path_factory.mktemp("browser-room"))
    live.prepare()
    live.session_ids = live.create_sessions([{}])
    live.start()
    yield live
    live.stop()


def log_in(context, base_url: str, email: str):
    page = context.new_page()
    page.goto(f"{base_url}/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form [type=submit]")
    page.wait_for_url(lambda url: "/accounts/login" not in url)
    return page


def pre_join(page, url: str) -> dict:
    """Opens the room, waits for the self-test, consents and presses Join."""
    page.goto(url)
    page.wait_for_function("window.odrRoom && window.odrRoom.selfTest", timeout=30_000)
    result = page.evaluate("window.odrRoom.selfTest")
    assert page.locator("#selftest").get_attribute("data-grade") == result["grade"]
    page.check("#consent-online")
    page.click("#join")
    return result


def frames_from(page, peer_id: str, count: int) -> None:
    page.wait_for_function(
        "async ([id, n]) => ((await window.odrRoom.framesDecoded())[id] || 0) > n",
        arg=[peer_id, count],
        timeout=45_000,
        polling=500,
    )


def test_mediator_and_party_join_from_the_ui_see_each_other_caucus_and_end(server, chromium):
    sid = server.session_ids[0]
    room_url = f"{server.base_url}/sessions/{sid}/room/"
    desk = chromium.new_context(viewport=DESKTOP, locale="zh-CN")
    phone = chromium.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN")
    try:
        mediator = log_in(desk, server.base_url, "mediator@demo.odr")
        party = log_in(phone, server.base_url, "citizen1@demo.odr")

        pre_join(mediator, room_url)
        mediator.wait_for_selector("#room-app[data-stage=room]")
        mediator.wait_for_function("window.odrRoom.me.peer_id")
        selftest = pre_join(party, room_url)
        party.wait_for_selector("#room-app[data-stage=lobby]")
        party_id = (
            party.evaluate("window.odrRoom.me.peer_id")
            or party.wait_for_function("window.odrRoom.me.peer_id").json_value()
        )
        mediator_id = mediator.evaluate("window.odrRoom.me.peer_id")

        # The self-test result is kept with the participant (and the attendance row).
        kept = server.sql(
            "select p.self_test from mediation_roomparticipant p join auth_user u "
            "on u.id = p.user_id where p.session_id = ? and u.email = ?",
            (sid, "citizen1@demo.odr"),
        )
        assert json.loads(kept[0][0])["grade"] == selftest["grade"]

        # The mediator admits the party from the lobby list.
        mediator.click(f"#lobby-list li[data-peer-id='{party_id}'] button.admit")
        party.wait_for_selector("#room-app[data-stage=room]")
        assert mediator.locator("#lobby-list li").count() == 0

        # Each page decodes the other's video.
        frames_from(mediator, party_id, FRAMES)
        frames_from(party, mediator_id, FRAMES)
        mediator.wait_for_selector(f".tile[data-peer-id='{party_id}'][data-state=connected]")
        party.wait_for_selector(f".tile[data-peer-id='{mediator_id}'][data-state=connected]")

        # Caucus: the mediator chooses the party; both see it, the server keeps it.
        mediator.check(f"#caucus-list input[value='{party_id}']")
        mediator.click("#caucus-start")
        mediator.wait_for_selector("#caucus-banner:not([hidden])")
        party.wait_for_selector("#caucus-banner:not([hidden])")
        mediator.wait_for_selector("#caucus-end:not([hidden])")
        caucus = server.sql(
            "select caucus_peer_ids from mediation_mediationsession where id = ?", (sid,)
        )
        assert json.loads(caucus[0][0]) == [party_id]
        mediator.click("#caucus-end")
        party.wait_for_selector("#caucus-banner", state="hidden")
        mediator.wait_for_selector("#caucus-banner", state="hidden")
        caucus = server.sql(
            "select caucus_peer_ids from mediation_mediationsession where id = ?", (sid,)
        )
        assert json.loads(caucus[0][0]) == []

        # End: the mediator confirms; everyone sees the end; the server records it.
        mediator.click("#end-session")
        mediator.click("#end-confirm-yes")
        party.wait_for_selector("#room-app[data-stage=ended]")
        mediator.wait_for_selector("#room-app[data-stage=ended]")
        status = server.sql("select status from mediation_mediationsession where id = ?", (sid,))
        assert status == [("ended",)]
    finally:
        desk.close()
        phone.close()
