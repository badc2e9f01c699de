"""The pre-join network self-test: an aiortc echo peer that the browser calls.

The browser sends its SDP offer (with every ICE candidate gathered: aiortc does not
trickle), the server answers, and from then on the echo peer sends back every data-channel
message and every media track it receives. The browser measures round-trip time and loss
from unreliable data-channel pings and the bitrate from an echoed bulk transfer; the
server grades the figures (one table, below) and keeps them with the attendance record.

An echo peer is a live network object: it exists only in the process that answered the
offer, and it closes itself after `ECHO_LIFETIME` or when its connection fails. Nothing
about a room is kept here."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay
from django.conf import settings
from django.utils.translation import gettext as _

from odr.errors import DomainError, Invalid

log = logging.getLogger(__name__)

ECHO_LIFETIME = 30.0  # seconds; a self-test takes about five
MAX_SDP = 65_536  # characters; a real offer is a few thousand
MAX_PER_USER = 2  # live echo peers one person may hold (each costs the server codecs)

# Live echo peers of this process and whose they are (keeps them from being collected).
_echo_peers: dict[RTCPeerConnection, int] = {}


class Grade:
    GOOD = "good"
    FAIR = "fair"
    POOR = "poor"


@dataclass(frozen=True)
class Thresholds:
    rtt_ms: float
    loss_pct: float
    bitrate_kbps: float


# A two-way video call needs ~300 kbit/s each way to look good; above 400 ms round trip
# people talk over each other; a few percent loss makes speech choppy.
GOOD = Thresholds(rtt_ms=200, loss_pct=2, bitrate_kbps=1000)
FAIR = Thresholds(rtt_ms=450, loss_pct=8, bitrate_kbps=300)


def grade_network(*, rtt_ms: float, loss_pct: float, bitrate_kbps: float) -> str:
    def meets(t: Thresholds) -> bool:
        return rtt_ms <= t.rtt_ms and loss_pct <= t.loss_pct and bitrate_kbps >= t.bitrate_kbps

    if meets(GOOD):
        return Grade.GOOD
    if meets(FAIR):
        return Grade.FAIR
    return Grade.POOR


def grade_words(grade: str) -> str:
    return {
        Grade.GOOD: _("Good: your connection is fine for a video mediation."),
        Grade.FAIR: _(
            "Fair: video may sometimes freeze. Move closer to the Wi-Fi router or close "
            "other programs that use the network."
        ),
        Grade.POOR: _(
            "Poor: video will not work well. You can still join; turn your camera off to "
            "keep the sound clear, or try another network."
        ),
    }[grade]


def server_rtc_configuration() -> RTCConfiguration:
    """The server's own peers (echo, recorder) sit on the public side: their host address
    is enough, plus the configured STUN servers if any. Never aiortc's default (Google's
    STUN server), which is unreachable from mainland China and would stall every answer
    until it times out."""
    return RTCConfiguration(iceServers=[RTCIceServer(urls=url) for url in settings.ODR_STUN_URLS])


def parse_offer(*, sdp: str, type_: str) -> RTCSessionDescription:
    if type_ != "offer":
        raise Invalid(_("Send an SDP offer."), code="bad_sdp")
    if not sdp.startswith("v=0") or len(sdp) > MAX_SDP:
        raise Invalid(_("The SDP offer is not valid."), code="bad_sdp")
    return RTCSessionDescription(sdp=sdp, type="offer")


async def answer_with_echo(offer: RTCSessionDescription, *, user_id: int) -> RTCSessionDescription:
    """Start an echo peer for `offer` and return its answer (with all its candidates)."""
    if sum(1 for owner in _echo_peers.values() if owner == user_id) >= MAX_PER_USER:
        raise DomainError(
            "too_many_tests",
            _("A network check is already running. Wait a minute and try again."),
            status=429,
        )
    pc = RTCPeerConnection(server_rtc_configuration())
    _echo_peers[pc] = user_id
    relay = MediaRelay()

    @pc.on("datachannel")
    def on_datachannel(channel) -> None:
        @channel.on("message")
        def on_message(message) -> None:
            if channel.readyState == "open":
                channel.send(message)

    @pc.on("track")
    def on_track(track) -> None:
        # Send the track straight back: the browser measures what made the round trip.
        pc.addTrack(relay.subscribe(track))

    @pc.on("connectionstatechange")
    async def on_state() -> None:
        if pc.connectionState in ("failed", "closed"):
            await _close(pc)

    try:
        await pc.setRemoteDescription(offer)
        await pc.setLocalDescription(await pc.createAnswer())
    except (ValueError, AttributeError, TypeError) as exc:
        await _close(pc)
        raise Invalid(_("The SDP offer is not valid."), code="bad_sdp") from exc
    asyncio.get_running_loop().call_later(ECHO_LIFETIME, lambda: asyncio.ensure_future(_close(pc)))
    return pc.localDescription


async def _close(pc: RTCPeerConnection) -> None:
    if _echo_peers.pop(pc, None) is not None:
        await pc.close()
