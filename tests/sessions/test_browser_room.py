"""Two headless Chromium pages (fake camera and microphone) join a room from the UI, one
as the mediator on a desktop, one as a party on a phone, against a real Daphne process:
pre-join check and network self-test, consent, lobby, admission, video decoded both ways
(frames counted from getStats), then the mediator's caucus and end buttons.

All of it under the platform's strict Content-Security-Policy (issue 11, L1): no inline
script or style, no eval, `connect-src 'self'` for the room's WebSocket. The pages are
driven only through functions (`page.evaluate` of a function, locators), which the page's
CSP does not see, never through strings the page would have to eval; every page a test
opens is watched, and a CSP violation reported in its console fails the test."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.conftest import PHONE
from tests.sessions.support.liveserver import LiveServer
from tests.sessions.support.scripted_peer import http_json

PASSWORD = "odr-demo-2026"
DESKTOP = {"width": 1280, "height": 800}
FRAMES = 30

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = LiveServer(tmp_path_factory.mktemp("browser-room"))
    live.prepare()
    live.session_ids = live.create_sessions([{}, {"recording": True}, {}])
    live.start()
    yield live
    live.stop()


CSP_WORDS = ("Content Security Policy", "Content-Security-Policy", "Refused to")


@pytest.fixture
def csp_violations():
    """What the watched pages reported against the CSP; a test that drove a page which
    broke the policy fails at its end."""
    seen: list[str] = []
    yield seen
    assert not seen, "CSP violations:\n" + "\n".join(seen)


def watch_csp(page, seen: list[str]) -> None:
    def on_console(message) -> None:
        if any(word in message.text for word in CSP_WORDS):
            seen.append(f"{page.url}: {message.text}")

    page.on("console", on_console)


def log_in(context, base_url: str, email: str, csp: list[str]):
    page = context.new_page()
    watch_csp(page, csp)
    page.goto(f"{base_url}/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form [type=submit]")
    page.wait_for_url(lambda url: "/accounts/login" not in url)
    return page


def pre_join(page, url: str) -> dict:
    """Opens the room, waits for the self-test, consents and presses Join."""
    page.goto(url)
    result = wait_until(page, "() => window.odrRoom && window.odrRoom.selfTest", within=30)
    assert page.locator("#selftest").get_attribute("data-grade") == result["grade"]
    page.check("#consent-online")
    page.click("#join")
    return result


def wait_until(page, script: str, arg=None, within: float = 45) -> object:
    """Polls a page function (it may be async) until it returns something truthy.
    `script` is a function, called through the DevTools protocol: the page's CSP, which
    forbids eval, does not apply to it, as it would to `wait_for_function` with an
    expression (evaluated with `new Function` inside the page); and a returned promise is
    awaited, which wait_for_function does not do."""
    deadline = time.monotonic() + within
    while True:
        value = page.evaluate(script, arg)
        if value:
            return value
        assert time.monotonic() < deadline, f"still {value!r} after {within}s: {script}"
        page.wait_for_timeout(500)


def frames_from(page, peer_id: str, count: int) -> int:
    """Waits until the page decoded more than `count` video frames from that peer
    (inbound-rtp framesDecoded from getStats) and returns the number."""
    return wait_until(
        page,
        "async ([id, n]) => { const f = (await window.odrRoom.framesDecoded())[id] || 0;"
        " return f > n ? f : 0; }",
        [peer_id, count],
    )


def test_mediator_and_party_join_from_the_ui_see_each_other_caucus_and_end(
    server, chromium, csp_violations
):
    sid = server.session_ids[0]
    room_url = f"{server.base_url}/sessions/{sid}/room/"
    desk = chromium.new_context(viewport=DESKTOP, locale="zh-CN")
    phone = chromium.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN")
    try:
        mediator = log_in(desk, server.base_url, "mediator@demo.odr", csp_violations)
        party = log_in(phone, server.base_url, "citizen1@demo.odr", csp_violations)

        pre_join(mediator, room_url)
        mediator.wait_for_selector("#room-app[data-stage=room]")
        mediator_id = wait_until(mediator, "() => window.odrRoom.me.peer_id")
        selftest = pre_join(party, room_url)
        party.wait_for_selector("#room-app[data-stage=lobby]")
        party_id = wait_until(party, "() => window.odrRoom.me.peer_id")

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
        assert frames_from(mediator, party_id, FRAMES) > FRAMES
        assert frames_from(party, mediator_id, FRAMES) > FRAMES
        mediator.wait_for_selector(f".tile[data-peer-id='{party_id}'][data-state=connected]")
        party.wait_for_selector(f".tile[data-peer-id='{mediator_id}'][data-state=connected]")

        # Chat crosses the room; mute and camera toggles act on the local tracks.
        mediator.fill("#chat-input", "您好，我们开始调解。")
        mediator.press("#chat-input", "Enter")
        party.wait_for_selector("#chat-log li:has-text('您好，我们开始调解。')", state="attached")
        party.click("#mic-toggle")
        party.click("#cam-toggle")
        assert party.evaluate("() => window.odrRoom.local") == {
            "audio": False,
            "video": False,
            "screen": False,
        }
        assert party.get_attribute("#mic-toggle", "aria-pressed") == "true"
        party.click("#mic-toggle")
        party.click("#cam-toggle")
        assert party.evaluate("() => window.odrRoom.local")["audio"] is True

        # A dropped connection comes back to the same place: still admitted, and the
        # party calls the mediator again (a new call: frames count from zero again).
        first_call = party.evaluate(
            "(id) => window.odrRoom.peers.find((x) => x.peer_id === id).call", mediator_id
        )
        party.evaluate("() => window.odrRoom.dropConnection()")
        wait_until(
            party,
            "([id, old]) => { const p = window.odrRoom.peers.find((x) => x.peer_id === id);"
            " return window.odrRoom.state === 'room' && p && p.call !== old"
            " && p.pc === 'connected' && document.querySelector('#conn-indicator').hidden; }",
            [mediator_id, first_call],
        )
        assert party.evaluate("() => window.odrRoom.me.peer_id") == party_id
        assert frames_from(mediator, party_id, FRAMES) > FRAMES
        state = server.sql(
            "select state, connected from mediation_roomparticipant where peer_id = ?",
            (party_id,),
        )
        assert state == [("room", 1)]

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


def test_mediator_records_from_the_room_and_every_client_shows_the_indicator(
    server, chromium, csp_violations
):
    """Both parties consented (through the API); the mediator consents on the page, starts
    the recording with the Record button, the page sends its media to the server's
    recorder, and Stop leaves a file whose SHA-256 is on the Recording row."""
    sid = server.session_ids[1]

    for email in ("citizen1@demo.odr", "citizen2@demo.odr"):
        login = http_json(
            f"{server.base_url}/_allauth/app/v1/auth/login",
            body={"email": email, "password": PASSWORD},
        )
        http_json(
            f"{server.base_url}/api/v1/sessions/{sid}/consent",
            body={"online": True, "recording": True},
            token=login["meta"]["session_token"],
        )
    desk = chromium.new_context(viewport=DESKTOP, locale="zh-CN")
    try:
        mediator = log_in(desk, server.base_url, "mediator@demo.odr", csp_violations)
        mediator.goto(f"{server.base_url}/sessions/{sid}/room/")
        mediator.check("#consent-online")
        mediator.check("#consent-recording")
        mediator.click("#join")
        wait_until(mediator, "() => window.odrRoom.me.peer_id")
        assert mediator.locator("#rec-indicator").is_hidden()
        mediator.click("#rec-toggle")
        mediator.wait_for_selector("#rec-indicator:not([hidden])")
        mediator.wait_for_selector("#rec-toggle[aria-pressed=true]")
        # The page's own connection to the recorder carries its microphone and camera.
        sent = wait_until(
            mediator,
            "async () => { const s = await window.odrRoom.recorderStats();"
            " return s.connected && s.audioBytesSent > 20000 ? s : null; }",
        )
        assert sent["videoBytesSent"] > 0
        mediator.click("#rec-toggle")
        mediator.wait_for_selector("#rec-indicator", state="hidden")
    finally:
        desk.close()
    [(file, sha256, size)] = server.sql(
        "select file, sha256, size from mediation_recording where session_id = ?", (sid,)
    )
    data = (Path(server.env["ODR_DATA_DIR"]) / "media" / file).read_bytes()
    assert size == len(data) > 2000 and hashlib.sha256(data).hexdigest() == sha256


def test_the_room_and_session_pages_run_under_the_csp_and_a_violation_would_be_seen(
    server, chromium, csp_violations
):
    """The room page, the session record and the minutes editor load and run under the
    strict CSP with nothing refused; and the watch is not blind: an inline script added to
    the room page is refused by the browser and reported."""
    sid = server.session_ids[2]
    desk = chromium.new_context(viewport=DESKTOP, locale="zh-CN")
    try:
        mediator = log_in(desk, server.base_url, "mediator@demo.odr", csp_violations)
        for path in (f"/sessions/{sid}/", f"/sessions/{sid}/minutes/"):
            response = mediator.goto(f"{server.base_url}{path}")
            assert response.status == 200
            assert "script-src 'self'" in response.headers["content-security-policy"]
        mediator.fill("textarea[name=minutes]", "申请人陈述借款经过。")
        mediator.click("#minutes-form button.primary")
        expect(mediator.locator(".messages")).to_contain_text("笔录已保存")
        response = mediator.goto(f"{server.base_url}/sessions/{sid}/room/")
        assert "connect-src 'self'" in response.headers["content-security-policy"]
        # The module ran (it exposes the room for these tests) and the catalogue loaded.
        wait_until(mediator, "() => window.odrRoom && window.odrRoom.selfTest", within=30)
        assert mediator.evaluate("() => typeof window.gettext") == "function"
        assert not csp_violations, csp_violations

        blocked: list[str] = []
        watch_csp(mediator, blocked)
        mediator.evaluate(
            "() => { const s = document.createElement('script');"
            " s.textContent = 'window.inlineRan = true'; document.body.append(s); }"
        )
        for _ in range(50):
            if blocked:
                break
            mediator.wait_for_timeout(100)
        assert mediator.evaluate("() => window.inlineRan === true") is False
        assert blocked, "an inline script ran or went unreported: the CSP watch is blind"
        # That refusal was this check's own doing, not the page's.
        csp_violations.clear()
    finally:
        desk.close()
