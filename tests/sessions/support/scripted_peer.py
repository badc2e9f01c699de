"""A scripted room client on aiortc: logs in through allauth's app API, takes a ticket,
speaks CONTRACT §4 over the `websockets` library and joins the mesh with a synthetic
camera. Used by the end-to-end tests and bench/signaling/first_frame.py; it follows the
contract the way room.js does (the newcomer calls; `call` ids tell a new call from a
renegotiation)."""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import json
import math
import secrets
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import av
import numpy as np
import websockets
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError
from aiortc.sdp import candidate_from_sdp

VIDEO_CLOCK = 90_000


class SyntheticVideo(MediaStreamTrack):
    """A small moving test picture (cheap to encode: tests run several peers at once)."""

    kind = "video"

    def __init__(self, *, width: int = 160, height: int = 120, fps: int = 15) -> None:
        super().__init__()
        self.width, self.height, self.fps = width, height, fps
        self._start: float | None = None
        self._n = 0

    async def recv(self) -> av.VideoFrame:
        if self._start is None:
            self._start = time.monotonic()
        else:
            self._n += 1
            delay = self._start + self._n / self.fps - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        img = np.zeros((self.height, self.width, 3), dtype=np.uint8)
        x = (self._n * 4) % self.width
        img[:, x : x + 16] = (255, 200, 0)
        frame = av.VideoFrame.from_ndarray(img, format="rgb24")
        frame.pts = int(self._n * VIDEO_CLOCK / self.fps)
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        return frame


class ToneAudio(MediaStreamTrack):
    """A quiet 440 Hz tone, 20 ms frames at 48 kHz."""

    kind = "audio"

    def __init__(self, *, freq: float = 440.0) -> None:
        super().__init__()
        self.freq = freq
        self._start: float | None = None
        self._pts = 0

    async def recv(self) -> av.AudioFrame:
        samples = 960
        if self._start is None:
            self._start = time.monotonic()
        else:
            self._pts += samples
            delay = self._start + self._pts / 48_000 - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        t = (np.arange(samples) + self._pts) / 48_000
        wave = (np.sin(2 * math.pi * self.freq * t) * 6000).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(wave, format="s16", layout="mono")
        frame.sample_rate = 48_000
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, 48_000)
        return frame


@dataclass
class Link:
    """One call with one other peer."""

    pc: RTCPeerConnection
    call: str
    frames: int = 0
    first_frame_at: float | None = None
    tasks: list[asyncio.Task] = field(default_factory=list)


def http_json(url: str, *, body: dict | None = None, token: str = "", method: str = "POST") -> dict:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("X-Session-Token", token)
    with urllib.request.urlopen(req, timeout=30) as res:
        return json.loads(res.read() or b"{}")


class ScriptedPeer:
    def __init__(
        self,
        *,
        base_url: str,
        email: str,
        password: str,
        session_id: int,
        audio: bool = False,
    ) -> None:
        self.base_url = base_url
        self.email = email
        self.password = password
        self.session_id = session_id
        self.audio = audio
        self.token = ""
        self.ws: Any = None
        self.welcome: dict = {}
        self.peer_id = ""
        self.state = ""
        self.ice_servers: list[dict] = []
        self.links: dict[str, Link] = {}
        self.inbox: list[dict] = []
        self._new = asyncio.Event()
        self._reader: asyncio.Task | None = None
        self.video = SyntheticVideo()
        self.tone = ToneAudio() if audio else None
        self.signals_received: list[str] = []  # `from` of every signal, in order
        self.joined_at: float | None = None
        self.connected_at: float | None = None

    # --- HTTP ---
    async def login(self) -> None:
        answer = await asyncio.to_thread(
            http_json,
            f"{self.base_url}/_allauth/app/v1/auth/login",
            body={"email": self.email, "password": self.password},
        )
        self.token = answer["meta"]["session_token"]

    async def api(self, path: str, body: dict | None = None, method: str = "POST") -> dict:
        return await asyncio.to_thread(
            http_json,
            f"{self.base_url}/api/v1{path}",
            body=body,
            token=self.token,
            method=method,
        )

    # --- the socket ---
    async def connect(self) -> dict:
        ticket = await self.api(f"/sessions/{self.session_id}/ticket", {})
        self.joined_at = time.monotonic()
        self.ws = await websockets.connect(f"{ticket['ws_url']}?ticket={ticket['ticket']}")
        self.connected_at = time.monotonic()
        self._reader = asyncio.ensure_future(self._read())
        self.welcome = await self.wait_for("welcome")
        return self.welcome

    async def send(self, message: dict) -> None:
        await self.ws.send(json.dumps(message))

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in self.ws:
                message = json.loads(raw)
                self.inbox.append(message)
                await self._handle(message)
                self._new.set()

    async def wait_for(self, kind: str, within: float = 20, **match: Any) -> dict:
        """The first message of this type (and fields) not yet taken; removes it."""
        deadline = time.monotonic() + within
        while True:
            for i, m in enumerate(self.inbox):
                if m.get("type") == kind and all(m.get(k) == v for k, v in match.items()):
                    return self.inbox.pop(i)
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{self.email}: no {kind} in {within}s; got {self.inbox}")
            self._new.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new.wait(), left)

    # --- the protocol ---
    async def _handle(self, m: dict) -> None:
        kind = m.get("type")
        if kind == "welcome":
            self.peer_id, self.state = m["peer_id"], m["state"]
            self.ice_servers = m.get("ice_servers") or []
            if self.state == "room":
                for p in m["peers"]:
                    await self.call(p["peer_id"])
        elif kind == "admitted":
            self.state = "room"
            for p in m["peers"]:
                await self.call(p["peer_id"])
        elif kind == "peer-joined":
            await self.hang_up(m["peer"]["peer_id"])  # the newcomer calls us
        elif kind == "peer-left":
            await self.hang_up(m["peer_id"])
        elif kind == "caucus":
            visible = {p["peer_id"] for p in m["peers"]}
            for pid in list(self.links):
                if pid not in visible:
                    await self.hang_up(pid)
            call = m.get("call")
            for pid in sorted(visible - set(self.links)):
                if (pid in call) if isinstance(call, list) else self.peer_id < pid:
                    await self.call(pid)
        elif kind == "signal":
            self.signals_received.append(m["from"])
            await self._on_signal(m["from"], m.get("data") or {})
        elif kind == "ended":
            await self.close_links()

    def _new_pc(self, peer_id: str, call: str) -> Link:
        servers = [RTCIceServer(**s) for s in self.ice_servers if "urls" in s]
        # An empty list, not None: None would make aiortc use Google's STUN server.
        pc = RTCPeerConnection(RTCConfiguration(iceServers=servers))
        link = Link(pc=pc, call=call)
        self.links[peer_id] = link

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "video":
                link.tasks.append(asyncio.ensure_future(self._count(link, track)))

        return link

    async def _count(self, link: Link, track: MediaStreamTrack) -> None:
        while True:
            try:
                await track.recv()
            except MediaStreamError:
                return
            link.frames += 1
            if link.first_frame_at is None:
                link.first_frame_at = time.monotonic()

    def _add_tracks(self, pc: RTCPeerConnection) -> None:
        pc.addTrack(self.video)
        if self.tone is not None:
            pc.addTrack(self.tone)

    async def call(self, peer_id: str) -> None:
        await self.hang_up(peer_id)
        link = self._new_pc(peer_id, secrets.token_hex(6))
        self._add_tracks(link.pc)
        await link.pc.setLocalDescription(await link.pc.createOffer())
        desc = link.pc.localDescription
        await self.send(
            {
                "type": "signal",
                "to": peer_id,
                "data": {"sdp": {"type": desc.type, "sdp": desc.sdp}, "call": link.call},
            }
        )

    async def _on_signal(self, sender: str, data: dict) -> None:
        link = self.links.get(sender)
        if "sdp" in data:
            desc = RTCSessionDescription(sdp=data["sdp"]["sdp"], type=data["sdp"]["type"])
            if desc.type == "offer":
                if link is None or link.call != data.get("call"):
                    await self.hang_up(sender)
                    link = self._new_pc(sender, data.get("call") or "call")
                await link.pc.setRemoteDescription(desc)
                if not any(s.track for s in link.pc.getSenders()):
                    self._add_tracks(link.pc)
                await link.pc.setLocalDescription(await link.pc.createAnswer())
                answer = link.pc.localDescription
                await self.send(
                    {
                        "type": "signal",
                        "to": sender,
                        "data": {
                            "sdp": {"type": answer.type, "sdp": answer.sdp},
                            "call": link.call,
                        },
                    }
                )
            elif link is not None and link.pc.signalingState == "have-local-offer":
                await link.pc.setRemoteDescription(desc)
        elif data.get("candidate") and link is not None:
            cand = data["candidate"]
            text = cand.get("candidate", "")
            if text:
                c = candidate_from_sdp(text.split(":", 1)[1])
                c.sdpMid = cand.get("sdpMid")
                c.sdpMLineIndex = cand.get("sdpMLineIndex")
                await link.pc.addIceCandidate(c)

    async def hang_up(self, peer_id: str) -> None:
        link = self.links.pop(peer_id, None)
        if link is not None:
            for task in link.tasks:
                task.cancel()
            await link.pc.close()

    async def close_links(self) -> None:
        for pid in list(self.links):
            await self.hang_up(pid)

    def frames_from(self, peer_id: str) -> int:
        link = self.links.get(peer_id)
        return link.frames if link else 0

    async def wait_frames(self, peer_id: str, count: int, within: float = 30) -> None:
        deadline = time.monotonic() + within
        while self.frames_from(peer_id) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{self.email}: {self.frames_from(peer_id)} frames from {peer_id}"
                )
            await asyncio.sleep(0.1)

    async def close(self) -> None:
        await self.close_links()
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()


def run_async(coro: Any) -> Any:
    """Runs a coroutine to its end on a fresh event loop in a worker thread. Tests use it
    because Playwright's sync API (the session-wide `chromium` fixture) leaves an event
    loop running in the main thread once a browser test ran, and asyncio refuses to start
    another one there."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()
