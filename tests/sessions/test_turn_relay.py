"""Issue 13, point 5: TURN for real. Debian's coturn (`turnserver`, installed by
./dev setup) runs on loopback with the REST secret (`use-auth-secret` +
`static-auth-secret`), the platform's TURN settings point at it, and two Chromium pages
exchange video with `iceTransportPolicy: "relay"` using the time-limited credentials the
platform hands out (sessions.services.ice_servers_for, what `welcome` and the ticket API
send): only relay candidates, frames decoded. Credentials past their expiry get no relay.

Under CI (env CI set) a missing turnserver fails the test instead of skipping it."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.utils import timezone

from sessions.services import access

pytestmark = pytest.mark.browser

TURNSERVER = shutil.which("turnserver") or (
    "/usr/bin/turnserver" if Path("/usr/bin/turnserver").exists() else None
)
REALM = "odr.test"


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def coturn(tmp_path_factory):
    if TURNSERVER is None:
        message = "turnserver (Debian package coturn) is not installed; ./dev setup installs it"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    workdir = tmp_path_factory.mktemp("coturn")
    port = _free_udp_port()
    secret = secrets.token_hex(16)
    relay_base = 49152 + (port % 4000) * 2
    log = workdir / "turnserver.log"
    proc = subprocess.Popen(
        [
            TURNSERVER,
            "-n",  # no configuration file: everything is on this line
            "--listening-ip=127.0.0.1",
            "--relay-ip=127.0.0.1",
            f"--listening-port={port}",
            f"--min-port={relay_base}",
            f"--max-port={relay_base + 60}",
            "--use-auth-secret",
            f"--static-auth-secret={secret}",
            f"--realm={REALM}",
            "--fingerprint",
            "--no-tls",
            "--no-dtls",
            # UDP only (what the tests use): a TCP listener on the same port number can
            # find it taken by another process's connection and fail the start.
            "--no-tcp",
            "--no-cli",
            # Both pages' relays are on 127.0.0.1: coturn refuses loopback peers otherwise.
            "--allow-loopback-peers",
            f"--pidfile={workdir / 'turnserver.pid'}",
            f"--db={workdir / 'turndb'}",
            f"--log-file={log}",
            "--simple-log",
            "--no-stdout-log",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_until_it_answers(proc, port, log)
        yield SimpleNamespace(
            port=port, secret=secret, log=log, relay_ports=range(relay_base, relay_base + 61)
        )
    finally:
        # Also when it never answered: no turnserver is left behind.
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_until_it_answers(proc: subprocess.Popen, port: int, log: Path) -> None:
    """Ready when it answers a STUN binding request on its port."""
    deadline = time.monotonic() + 15
    binding = b"\x00\x01\x00\x00\x21\x12\xa4\x42" + secrets.token_bytes(12)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.settimeout(0.3)
        while True:
            assert proc.poll() is None, f"turnserver exited: {_tail(log)}"
            probe.sendto(binding, ("127.0.0.1", port))
            try:
                probe.recvfrom(2048)
                return
            except OSError:
                assert time.monotonic() < deadline, f"turnserver did not answer: {_tail(log)}"


def _tail(path: Path) -> str:
    return path.read_text(errors="replace")[-2000:] if path.exists() else ""


@pytest.fixture
def platform_turn(coturn, settings):
    """The platform's TURN settings pointed at the test's coturn."""
    settings.ODR_STUN_URLS = []
    settings.ODR_TURN_URLS = [f"turn:127.0.0.1:{coturn.port}?transport=udp"]
    settings.ODR_TURN_SECRET = coturn.secret
    settings.ODR_TURN_TTL = timedelta(hours=1)
    return coturn


# A page that sends an animated canvas (or only receives), with relay-only ICE; it
# gathers every candidate before answering (no trickle needed between two test pages).
START = """async ({iceServers, send, offer}) => {
  const pc = new RTCPeerConnection({iceServers, iceTransportPolicy: "relay"});
  window.pc = pc;
  window.candidates = [];
  window.candidateErrors = [];
  pc.onicecandidate = (e) => {
    if (e.candidate && e.candidate.candidate) candidates.push(e.candidate.candidate);
  };
  pc.onicecandidateerror = (e) => candidateErrors.push(e.errorCode);
  if (send) {
    const canvas = document.createElement("canvas");
    canvas.width = 320; canvas.height = 240;
    document.body.append(canvas);
    const ctx = canvas.getContext("2d");
    let n = 0;
    setInterval(() => { ctx.fillStyle = `hsl(${(n += 7) % 360}, 80%, 50%)`;
      ctx.fillRect(0, 0, 320, 240); ctx.fillStyle = "#fff"; ctx.fillText(String(n), 10, 20); }, 40);
    const stream = canvas.captureStream(25);
    for (const track of stream.getTracks()) pc.addTrack(track, stream);
  } else {
    pc.addTransceiver("video", {direction: "recvonly"});
  }
  if (offer) {
    await pc.setRemoteDescription(offer);
    await pc.setLocalDescription(await pc.createAnswer());
  } else {
    await pc.setLocalDescription(await pc.createOffer());
  }
  await new Promise((resolve) => {
    if (pc.iceGatheringState === "complete") resolve();
    pc.onicegatheringstatechange = () => pc.iceGatheringState === "complete" && resolve();
    setTimeout(resolve, 15000);
  });
  return {description: pc.localDescription.toJSON(), candidates, errors: candidateErrors};
}"""

STATS = """async () => {
  const out = {framesDecoded: 0, pair: null, state: pc.connectionState};
  const stats = await pc.getStats();
  stats.forEach((s) => {
    if (s.type === "inbound-rtp" && s.kind === "video") out.framesDecoded += s.framesDecoded || 0;
    if (s.type === "candidate-pair" && s.nominated && s.state === "succeeded") {
      out.pair = {local: stats.get(s.localCandidateId).candidateType,
                  remote: stats.get(s.remoteCandidateId).candidateType};
    }
  });
  return out;
}"""


def _page(chromium):
    context = chromium.new_context()
    page = context.new_page()
    page.goto("about:blank")
    return context, page


def test_two_chromium_pages_exchange_video_through_coturn_with_the_platforms_credentials(
    platform_turn, chromium
):
    ice = access.ice_servers_for(SimpleNamespace(pk=7))
    [turn] = ice
    # The platform's REST credentials: "<expiry>:<user id>", an hour ahead.
    expiry, user = turn["username"].split(":")
    assert user == "7" and 3500 < int(expiry) - time.time() <= 3600
    sender_ctx, sender = _page(chromium)
    receiver_ctx, receiver = _page(chromium)
    try:
        offer = sender.evaluate(START, {"iceServers": ice, "send": True, "offer": None})
        answer = receiver.evaluate(
            START, {"iceServers": ice, "send": False, "offer": offer["description"]}
        )
        sender.evaluate("(d) => pc.setRemoteDescription(d)", answer["description"])
        # Relay candidates only, on both sides, allocated by the test's coturn (its
        # address and its relay port range).
        for side in (offer, answer):
            assert side["candidates"], (side, _tail(platform_turn.log))
            for candidate in side["candidates"]:
                fields = candidate.split()
                assert fields[7] == "relay" and fields[4] == "127.0.0.1", candidate
                assert int(fields[5]) in platform_turn.relay_ports, candidate
        deadline = time.monotonic() + 45
        while True:
            seen = receiver.evaluate(STATS)
            if seen["framesDecoded"] > 30 and seen["pair"]:
                break
            assert time.monotonic() < deadline, (seen, _tail(platform_turn.log))
            receiver.wait_for_timeout(300)
        assert seen["pair"] == {"local": "relay", "remote": "relay"}
        assert sender.evaluate(STATS)["pair"] == {"local": "relay", "remote": "relay"}
    finally:
        sender_ctx.close()
        receiver_ctx.close()


def test_expired_turn_credentials_get_no_relay(platform_turn, chromium):
    username, password = access.turn_credentials(7, now=timezone.now() - timedelta(hours=2))
    assert int(username.split(":")[0]) < time.time()
    ice = [
        {
            "urls": [f"turn:127.0.0.1:{platform_turn.port}?transport=udp"],
            "username": username,
            "credential": password,
        }
    ]
    context, page = _page(chromium)
    try:
        offer = page.evaluate(START, {"iceServers": ice, "send": True, "offer": None})
    finally:
        context.close()
    # coturn refused the allocation (401): no relay candidate, so no call can be made.
    assert offer["candidates"] == []
    assert 401 in offer["errors"], offer
