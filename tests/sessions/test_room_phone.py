"""Issue 13, points 3 and 4, in headless Chromium against a real Daphne process: the room
on a 390x844 (and 320 px) phone, the caucus banner derived from the server's messages,
sound-only joins, the network adaptation module fed fabricated stats, the audio unlock
for browsers that block autoplay, and axe-core on every room page.

Pages are driven through functions (`page.evaluate` of a function, locators), as in
test_browser_room.py, so the platform's strict CSP applies to everything the page does;
only the axe checks run with the CSP bypassed (axe-core is injected as a script)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.conftest import PHONE
from tests.sessions.support.liveserver import LiveServer
from tests.sessions.test_browser_room import (
    frames_from,
    log_in,
    wait_until,
)

pytestmark = pytest.mark.browser

SMALL_PHONE = {"width": 320, "height": 640}
DESKTOP = {"width": 1280, "height": 800}
LONG_NAME = "欧阳诸葛长名字测试人员甲乙丙丁戊己庚辛壬癸子丑寅卯"
# Set ODR_SCREENSHOTS=/some/dir to keep the phone screenshots the tests take.
SHOTS = os.environ.get("ODR_SCREENSHOTS")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = LiveServer(tmp_path_factory.mktemp("room-phone"))
    live.prepare()
    live.session_ids = live.create_sessions([{}, {}, {}, {}, {}, {}])
    # citizen2 has a name too long for a small picture.
    live.sql(
        "update odr_profile set real_name = ? where user_id ="
        " (select id from auth_user where email = ?)",
        (LONG_NAME, "citizen2@demo.odr"),
    )
    live.start()
    yield live
    live.stop()


@pytest.fixture
def csp_violations():
    """What the watched pages reported against the CSP (log_in watches each page)."""
    seen: list[str] = []
    yield seen
    assert not seen, "CSP violations:\n" + "\n".join(seen)


# The README's pictures of the room (docs/screenshots/take.py sets ODR_SCREENSHOTS_DIR).
README_SHOTS = {"prejoin-390": "room-prejoin.png", "call-390": "room.png"}


def shot(page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"))
    readme = os.environ.get("ODR_SCREENSHOTS_DIR")
    if readme and name in README_SHOTS:
        page.screenshot(path=str(Path(readme) / README_SHOTS[name]))


def phone(chromium, viewport=PHONE, **extra):
    return chromium.new_context(
        viewport=viewport, is_mobile=True, has_touch=True, locale="zh-CN", **extra
    )


def in_viewport(page, selector: str) -> bool:
    return page.evaluate(
        "(sel) => { const r = document.querySelector(sel).getBoundingClientRect();"
        " return r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth"
        " && r.width > 0 && r.height > 0; }",
        selector,
    )


def join(page, url: str, *, audio_only: bool = False) -> str:
    page.goto(url)
    wait_until(page, "() => window.odrRoom && window.odrRoom.selfTest", within=30)
    page.check("#consent-online")
    if audio_only:
        page.check("#audio-only")
    page.click("#join")
    return wait_until(page, "() => window.odrRoom.me.peer_id")


def admit(mediator, party, party_id: str) -> None:
    mediator.click(f"#lobby-list li[data-peer-id='{party_id}'] button.admit")
    party.wait_for_selector("#room-app[data-stage=room]")


def banner(page) -> dict | None:
    return page.evaluate("() => window.odrRoom.caucusBanner")


def test_the_pre_join_page_fits_a_phone_with_consent_and_join_visible_and_no_site_header(
    server, chromium, csp_violations
):
    url = f"{server.base_url}/sessions/{server.session_ids[0]}/room/"
    for viewport in (PHONE, SMALL_PHONE):
        context = phone(chromium, viewport)
        try:
            page = log_in(context, server.base_url, "citizen1@demo.odr", csp_violations)
            page.goto(url)
            result = wait_until(page, "() => window.odrRoom && window.odrRoom.selfTest", within=30)
            assert page.locator(".site-header").count() == 0
            assert page.locator(".site-footer").count() == 0
            if viewport == PHONE:
                # 390x844: the consent box and 加入 are on the first screen, unscrolled.
                assert in_viewport(page, "#join")
                assert in_viewport(page, "#consent-online")
                assert page.inner_text("#join").strip() == "加入"
            # Nothing wider than the screen, even at 320 px.
            assert page.evaluate("() => document.documentElement.scrollWidth <= innerWidth")
            # A party reads the network check in words; the figures are for staff.
            assert page.locator("#selftest-figures").is_hidden()
            assert page.inner_text("#selftest-words").strip()[:2] in ("良好", "一般", "较差")
            assert result["grade"] in ("good", "fair", "poor")
            shot(page, f"prejoin-{viewport['width']}")
        finally:
            context.close()


def test_in_a_call_on_a_phone_the_video_fills_the_screen_without_site_chrome(
    server, chromium, csp_violations
):
    url = f"{server.base_url}/sessions/{server.session_ids[1]}/room/"
    desk = chromium.new_context(viewport=DESKTOP, locale="zh-CN")
    # A phone browser without getDisplayMedia (as on iOS and Android) gets no share button.
    mobile = phone(chromium)
    mobile.add_init_script(
        "delete MediaDevices.prototype.getDisplayMedia;"
        " if (navigator.mediaDevices) delete navigator.mediaDevices.getDisplayMedia;"
    )
    try:
        mediator = log_in(desk, server.base_url, "mediator@demo.odr", csp_violations)
        party = log_in(mobile, server.base_url, "citizen2@demo.odr", csp_violations)
        mediator_id = join(mediator, url)
        # The mediator was shown the network check's figures (the pre-join page is gone).
        assert mediator.evaluate("() => !document.querySelector('#selftest-figures').hidden")
        party_id = join(party, url)
        party.wait_for_selector("#room-app[data-stage=lobby]")
        assert party.locator(".site-header").count() == 0
        shot(party, "lobby-390")
        admit(mediator, party, party_id)
        assert frames_from(party, mediator_id, 10) > 10

        # No site header, menu or footer; the mediator fills the screen above the controls.
        assert party.locator(".site-header").count() == 0
        assert party.locator("nav.site-nav").count() == 0
        big = party.locator(f".tile[data-peer-id='{mediator_id}']")
        assert "focus" in (big.get_attribute("class") or "")
        box = big.bounding_box()
        controls = party.locator("nav.controls").bounding_box()
        assert box["x"] == 0 and box["y"] == 0 and box["width"] == PHONE["width"]
        assert box["height"] == controls["y"] > PHONE["height"] * 0.8
        # The controls are at the thumb: the bottom edge of the screen.
        assert controls["y"] + controls["height"] == PHONE["height"]
        assert in_viewport(party, "#leave")
        # Your own picture is small, not a second full tile.
        mine = party.locator("#tile-local").bounding_box()
        assert mine["width"] < PHONE["width"] / 2
        assert party.locator("#share-toggle").is_hidden()
        assert mediator.locator("#share-toggle").is_visible()

        # A long name ends in an ellipsis inside its picture; the whole name is in the
        # title (and read out); nothing spills beyond the screen.
        name = mediator.locator(f".tile[data-peer-id='{party_id}'] .name")
        assert name.get_attribute("title") == LONG_NAME
        assert name.inner_text() == LONG_NAME
        assert mediator.evaluate(
            "(id) => { const n = document.querySelector(`.tile[data-peer-id='${id}'] .name`);"
            " const t = n.closest('.tile').getBoundingClientRect();"
            " const r = n.getBoundingClientRect();"
            " return getComputedStyle(n).textOverflow === 'ellipsis' && r.right <= t.right; }",
            party_id,
        )
        assert party.evaluate("() => document.documentElement.scrollWidth <= innerWidth")

        # Network quality in words for the party; words and figures for the mediator.
        # (Once a call has settled for some seconds, two getStats readings make a sample.)
        measured = (
            "async () => { await window.odrRoom.networkTick();"
            " return !document.querySelector('#net-indicator').hidden; }"
        )
        wait_until(party, measured)
        wait_until(mediator, measured)
        words = party.inner_text("#net-indicator").strip()
        assert words in ("网络：良好", "网络：一般", "网络：较差"), words
        staff_words = mediator.inner_text("#net-indicator")
        assert "ms" in staff_words and "kbit/s" in staff_words
        shot(party, "call-390")

        # At 320 px every control still fits on the bar, nothing spills sideways.
        party.set_viewport_size(SMALL_PHONE)
        party.wait_for_timeout(300)
        for control in ("#mic-toggle", "#cam-toggle", "#side-toggle", "#leave"):
            assert in_viewport(party, control), control
        assert party.evaluate("() => document.documentElement.scrollWidth <= innerWidth")
        shot(party, "call-320")

        # The way back after the session leads to the case.
        mediator.click("#end-session")
        mediator.click("#end-confirm-yes")
        party.wait_for_selector("#room-app[data-stage=ended]")
        href = party.get_attribute("#back-to-case", "href")
        assert href.startswith("/disputes/") and href != "/"
        assert in_viewport(party, "#back-to-case")
        shot(party, "ended-390")
    finally:
        desk.close()
        mobile.close()


def test_the_caucus_banner_follows_the_server_for_every_participant(
    server, chromium, csp_violations
):
    """Three people: a caucus with the applicant (the respondent waits apart), its end,
    then the mediator drops out and a party comes back before the mediator: with no
    caucus on, nobody is told the mediator is talking privately with the other side."""
    url = f"{server.base_url}/sessions/{server.session_ids[2]}/room/"
    desk = chromium.new_context(viewport=DESKTOP, locale="zh-CN")
    one = phone(chromium)
    two = phone(chromium)
    try:
        mediator = log_in(desk, server.base_url, "mediator@demo.odr", csp_violations)
        applicant = log_in(one, server.base_url, "citizen1@demo.odr", csp_violations)
        respondent = log_in(two, server.base_url, "citizen2@demo.odr", csp_violations)
        mediator_id = join(mediator, url, audio_only=True)
        a_id = join(applicant, url, audio_only=True)
        admit(mediator, applicant, a_id)
        r_id = join(respondent, url, audio_only=True)
        admit(mediator, respondent, r_id)
        for page in (mediator, applicant, respondent):
            assert banner(page) is None

        mediator.check(f"#caucus-list input[value='{a_id}']")
        mediator.click("#caucus-start")
        assert wait_until(applicant, "() => window.odrRoom.caucusBanner")["kind"] == "caucus"
        assert wait_until(respondent, "() => window.odrRoom.caucusBanner")["kind"] == "apart"
        assert wait_until(mediator, "() => window.odrRoom.caucusBanner")["kind"] == "caucus"
        shot(respondent, "caucus-apart-390")
        shot(applicant, "caucus-in-390")
        shot(mediator, "caucus-mediator-desktop")
        mediator.click("#caucus-end")
        for page in (mediator, applicant, respondent):
            wait_until(page, "() => window.odrRoom.caucusBanner === null")

        # The mediator's connection drops; the applicant reloads and comes back first.
        mediator.close()
        wait_until(
            respondent, "(id) => !window.odrRoom.peers.some((p) => p.peer_id === id)", mediator_id
        )
        for page in (applicant, respondent):
            assert banner(page)["kind"] == "waiting"
            assert "单独" not in banner(page)["text"]
        applicant.reload()
        join(applicant, url, audio_only=True)
        applicant.wait_for_selector("#room-app[data-stage=room]")
        wait_until(applicant, "(id) => window.odrRoom.peers.some((p) => p.peer_id === id)", r_id)
        shown = banner(applicant)
        assert shown["kind"] == "waiting" and "单独" not in shown["text"]

        # The mediator returns: everyone is together, no banner anywhere.
        mediator = desk.new_page()
        join(mediator, url, audio_only=True)
        for page in (applicant, respondent):
            wait_until(
                page, "(id) => window.odrRoom.peers.some((p) => p.peer_id === id)", mediator_id
            )
            wait_until(page, "() => window.odrRoom.caucusBanner === null")
    finally:
        desk.close()
        one.close()
        two.close()


def test_a_party_can_join_with_sound_only_and_sends_no_video(server, chromium, csp_violations):
    url = f"{server.base_url}/sessions/{server.session_ids[3]}/room/"
    desk = chromium.new_context(viewport=DESKTOP, locale="zh-CN")
    mobile = phone(chromium)
    try:
        mediator = log_in(desk, server.base_url, "mediator@demo.odr", csp_violations)
        party = log_in(mobile, server.base_url, "citizen1@demo.odr", csp_violations)
        mediator_id = join(mediator, url)
        party_id = join(party, url, audio_only=True)
        admit(mediator, party, party_id)
        # The party still sees the mediator…
        assert frames_from(party, mediator_id, 15) > 15
        sending = wait_until(
            party,
            "async (id) => { const s = (await window.odrRoom.sending())[id];"
            " return s && s.bytes.audio > 2000 ? s : null; }",
            mediator_id,
        )
        # …but sends no video track and no video bytes; the mediator decodes nothing.
        assert sending["kinds"] == ["audio"] and sending["bytes"]["video"] == 0
        assert party.evaluate("() => window.odrRoom.network.audioOnly") is True
        assert mediator.evaluate("async () => window.odrRoom.framesDecoded()")[party_id] == 0
        assert party.locator("#net-banner").is_visible()
        # The mediator sees the party's initial where the picture would be.
        no_video = "(id) => document.querySelector(`.tile[data-peer-id='${id}']`)"
        no_video += ".classList.contains('no-video')"
        assert mediator.evaluate(no_video, party_id) is True

        # Video again, from the banner's button: now it is sent, at a lowered step.
        party.click("#net-video-again")
        assert frames_from(mediator, party_id, 10) > 10
        wait_until(mediator, f"(id) => !({no_video})(id)", party_id)
        encodings = party.evaluate("() => window.odrRoom.videoEncodings()")
        assert encodings and encodings[0][0]["maxBitrate"] < 900_000

        # A network that cannot carry video: the lowest step first, then sound only by
        # itself after three poor readings, and the party is told.
        hopeless = {"lossPct": 25, "rttMs": 900, "availableKbps": 60}
        for _ in range(2):
            party.evaluate("(s) => window.odrRoom.applyNetworkSample(s)", hopeless)
        assert party.evaluate("() => window.odrRoom.videoEncodings()")[0] == [
            {"maxBitrate": 120_000, "scaleResolutionDownBy": 4}
        ]
        assert party.locator("#net-audio-only").is_visible()
        party.evaluate("(s) => window.odrRoom.applyNetworkSample(s)", hopeless)
        assert party.evaluate("() => window.odrRoom.network.audioOnly") is True
        assert "只用声音" in party.inner_text("#net-banner-words")
        kinds = party.evaluate(
            "async (id) => (await window.odrRoom.sending())[id].kinds", mediator_id
        )
        assert kinds == ["audio"]
        assert party.locator("#net-video-again").is_visible()
    finally:
        desk.close()
        mobile.close()


ADAPT = """async () => {
  const room = document.querySelector("script[src*='room.js']").src;
  const m = await import(new URL("netadapt.js", room));
  // Two getStats reports 3 s apart: what a call on a weak line looks like.
  const before = [
    {id: "in-a", type: "inbound-rtp", kind: "audio", packetsReceived: 1000, packetsLost: 10},
    {id: "in-v", type: "inbound-rtp", kind: "video", packetsReceived: 5000, packetsLost: 50},
  ];
  const after = [
    {id: "in-a", type: "inbound-rtp", kind: "audio", packetsReceived: 1140, packetsLost: 20},
    {id: "in-v", type: "inbound-rtp", kind: "video", packetsReceived: 5400, packetsLost: 90},
    {id: "ri-v", type: "remote-inbound-rtp", kind: "video", fractionLost: 0.05,
     roundTripTime: 0.31},
    {id: "cp", type: "candidate-pair", nominated: true, state: "succeeded",
     currentRoundTripTime: 0.32, availableOutgoingBitrate: 260000},
    {id: "cp-old", type: "candidate-pair", nominated: false, state: "failed",
     currentRoundTripTime: 2, availableOutgoingBitrate: 1},
  ];
  const sample = m.sampleFrom(before, after);
  const run = (samples) => {
    let state = m.initialState();
    return samples.map((s) => { const out = m.decide(state, s); state = out.state; return out; });
  };
  const good = {lossPct: 0, rttMs: 40, availableKbps: 2000};
  const weak = {lossPct: 1, rttMs: 120, availableKbps: 300};
  const lossy = {lossPct: 12, rttMs: 120, availableKbps: 2000};
  const hopeless = {lossPct: 25, rttMs: 900, availableKbps: 60};
  return {
    sample,
    grades: [good, weak, lossy, hopeless].map(m.grade),
    worst: m.worst([good, weak, {lossPct: 3, rttMs: null, availableKbps: null}]),
    down: run([good, weak]).map((o) => [o.level, o.maxBitrate, o.scaleResolutionDownBy]),
    lossDown: run([good, lossy, lossy]).map((o) => o.level),
    upSlowly: run([weak, good, good, good, good, good, good]).map((o) => o.level),
    fallBack: run([hopeless, hopeless, hopeless, hopeless, good]).map((o) =>
      [o.level, o.audioOnly, o.fellBack, o.offerAudioOnly]),
    offer: run([{lossPct: 9, rttMs: 100, availableKbps: 2000}]).map((o) => o.offerAudioOnly),
    encodings: m.encodingsFor([{rid: "a", active: true}], m.LADDER[2]),
  };
}"""


def test_the_adaptation_lowers_the_video_then_falls_back_to_sound_from_getstats_figures(
    server, chromium, csp_violations
):
    context = phone(chromium)
    try:
        page = log_in(context, server.base_url, "citizen1@demo.odr", csp_violations)
        page.goto(f"{server.base_url}/sessions/{server.session_ids[4]}/room/")
        out = page.evaluate(ADAPT)
    finally:
        context.close()
    # Loss both ways over the interval (the worst), the selected pair's RTT and estimate.
    # Inbound: 50 lost of 590 expected = 8.47 %; outbound: 5 % reported by the far end.
    assert out["sample"]["lossPct"] == pytest.approx(100 * 50 / 590)
    assert out["sample"]["rttMs"] == pytest.approx(320)
    assert out["sample"]["availableKbps"] == pytest.approx(260)
    assert out["grades"] == ["good", "fair", "poor", "poor"]
    assert out["worst"] == {"lossPct": 3, "rttMs": 120, "availableKbps": 300}
    # 300 kbit/s available: down to the step whose cap fits (220 kbit/s, half size).
    assert out["down"] == [[0, 900_000, 1], [2, 220_000, 2]]
    # Heavy loss steps down one level a sample even when the estimate is high.
    assert out["lossDown"] == [0, 1, 2]
    # Up one step only after three good samples in a row.
    assert out["upSlowly"] == [2, 2, 2, 1, 1, 1, 0]
    # Hopeless: the lowest step at once, then sound only after three poor samples, said
    # once (fellBack), and it stays sound only until the person asks for video.
    assert out["fallBack"] == [
        [3, False, False, True],
        [3, False, False, True],
        [3, True, True, False],
        [3, True, False, False],
        [3, True, False, False],
    ]
    assert out["offer"] == [True]
    assert out["encodings"] == [
        {"rid": "a", "active": True, "maxBitrate": 220_000, "scaleResolutionDownBy": 2}
    ]


BLOCK_AUTOPLAY = """
(() => {
  // As iOS Safari and WeChat do: play() with sound is refused until the page is touched.
  window.__blockAutoplay = true;
  const play = HTMLMediaElement.prototype.play;
  HTMLMediaElement.prototype.play = function () {
    if (window.__blockAutoplay && !this.muted) {
      return Promise.reject(new DOMException("play() needs a gesture", "NotAllowedError"));
    }
    return play.call(this);
  };
})();
"""


def test_a_browser_that_blocks_autoplay_gets_a_button_that_starts_the_sound(
    server, chromium, csp_violations
):
    url = f"{server.base_url}/sessions/{server.session_ids[5]}/room/"
    desk = chromium.new_context(viewport=DESKTOP, locale="zh-CN")
    mobile = phone(chromium)
    mobile.add_init_script(BLOCK_AUTOPLAY)
    try:
        mediator = log_in(desk, server.base_url, "mediator@demo.odr", csp_violations)
        party = log_in(mobile, server.base_url, "citizen1@demo.odr", csp_violations)
        mediator_id = join(mediator, url, audio_only=True)
        party_id = join(party, url, audio_only=True)
        admit(mediator, party, party_id)
        party.wait_for_selector("#audio-unlock:not([hidden])")
        assert in_viewport(party, "#audio-unlock")
        shot(party, "audio-unlock-390")
        paused = "(id) => document.querySelector(`.tile[data-peer-id='${id}'] video`).paused"
        assert party.evaluate(paused, mediator_id) is True
        party.evaluate("() => { window.__blockAutoplay = false; }")
        party.click("#audio-unlock")
        party.wait_for_selector("#audio-unlock", state="hidden")
        wait_until(party, "(id) => !(" + paused + ")(id)", mediator_id)
    finally:
        desk.close()
        mobile.close()


def serious(page) -> list[str]:
    """axe-core's serious and critical violations on the page as it stands."""
    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): "
        + "; ".join(f"{n['target']} {n.get('failureSummary', '')}" for n in v["nodes"][:5])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_axe_finds_nothing_serious_on_any_room_page(server, chromium):
    url = f"{server.base_url}/sessions/{server.session_ids[4]}/room/"
    desk = chromium.new_context(viewport=DESKTOP, locale="zh-CN", bypass_csp=True)
    mobile = phone(chromium, bypass_csp=True)
    found: dict[str, list[str]] = {}
    try:
        mediator = log_in(desk, server.base_url, "mediator@demo.odr", [])
        party = log_in(mobile, server.base_url, "citizen2@demo.odr", [])
        party.goto(url)
        wait_until(party, "() => window.odrRoom && window.odrRoom.selfTest", within=30)
        found["pre-join (party, phone)"] = serious(party)
        mediator.goto(url)
        wait_until(mediator, "() => window.odrRoom && window.odrRoom.selfTest", within=30)
        found["pre-join (mediator)"] = serious(mediator)
        mediator.check("#consent-online")
        mediator.click("#join")
        mediator.wait_for_selector("#room-app[data-stage=room]")
        party.check("#consent-online")
        party.click("#join")
        party.wait_for_selector("#room-app[data-stage=lobby]")
        found["lobby (party)"] = serious(party)
        party_id = wait_until(party, "() => window.odrRoom.me.peer_id")
        mediator.wait_for_selector(f"#lobby-list li[data-peer-id='{party_id}']")
        found["room with the lobby list (mediator)"] = serious(mediator)
        admit(mediator, party, party_id)
        mediator_id = wait_until(mediator, "() => window.odrRoom.me.peer_id")
        frames_from(party, mediator_id, 5)
        party.evaluate("async () => { await window.odrRoom.networkTick(); }")
        found["room in a call (party, phone)"] = serious(party)
        party.click("#side-toggle")
        found["room with the chat open (party, phone)"] = serious(party)
        found["room in a call (mediator)"] = serious(mediator)
        mediator.click("#end-session")
        mediator.click("#end-confirm-yes")
        party.wait_for_selector("#room-app[data-stage=ended]")
        found["after the session (party)"] = serious(party)
        party.reload()
        party.wait_for_selector("#room-app[data-stage=ended]")
        found["after the session, opened again"] = serious(party)
    finally:
        desk.close()
        mobile.close()
    assert found and not any(found.values()), found
