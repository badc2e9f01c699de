"""Optional recording of a session by a server-side aiortc peer (DESIGN.md §1, §3).

Only when the mediator asked for it AND every participant consented. How the media gets
here: when a `{"type": "recording", "active": true}` message reaches a client in the
room, that client opens ONE extra RTCPeerConnection to this recorder (POST its offer to
`/api/v1/sessions/{id}/recording/offer`) and sends its own microphone (and camera). The
recorder mixes every participant's audio into one track and, when ODR_RECORD_VIDEO is on,
tiles their video into one picture, and writes both with aiortc's MediaRecorder. When it
stops (the mediator stops it, the session ends, or every client has gone), the file is
attached to the case as a Recording with its SHA-256 and size, and the SHA-256 goes into
the audit trail.

The recorder is a live network object: it runs in the Daphne process that started it
(with several processes, route /api/v1/sessions/{id}/recording/* of one session to one
process). Room state itself stays in the database."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRecorder
from aiortc.mediastreams import MediaStreamError
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.cache import cache
from django.core.files import File
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from odr.audit import log_action
from odr.errors import DomainError, Forbidden
from sessions.media.selectors import recording_consent_complete
from sessions.media.selftest import server_rtc_configuration
from sessions.models import MediationSession, Recording, RoomParticipant
from sessions.selectors import MEDIATOR, room_role_of

log = logging.getLogger(__name__)

SAMPLE_RATE = 48_000
AUDIO_PTIME = 0.020  # seconds per mixed audio frame
SAMPLES = int(SAMPLE_RATE * AUDIO_PTIME)
MAX_BUFFER = SAMPLE_RATE // 2  # samples kept per input: a late input must not add delay
VIDEO_FPS = 10
VIDEO_SIZE = (640, 360)
MAX_LAG = 0.2  # seconds the mixed audio may fall behind real time before it skips ahead
IDLE_LIMIT = 20.0  # seconds without any client before the recorder stops itself
WATCH_EVERY = 1.0


def _broadcast(session_id: int, active: bool) -> None:
    from sessions.broadcast import send_to_room_sync

    send_to_room_sync(session_id, {"type": "recording", "active": active})


class AudioMixer(MediaStreamTrack):
    """Sums every input's audio (resampled to 48 kHz mono) into one paced track."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._buffers: dict[str, np.ndarray] = {}
        self._tasks: dict[str, asyncio.Task] = {}
        self._start: float | None = None
        self._pts = 0

    def add_input(self, key: str, track: MediaStreamTrack) -> None:
        self.remove_input(key)
        self._buffers[key] = np.zeros(0, dtype=np.int16)
        self._tasks[key] = asyncio.ensure_future(self._read(key, track))

    def remove_input(self, key: str) -> None:
        task = self._tasks.pop(key, None)
        if task is not None:
            task.cancel()
        self._buffers.pop(key, None)

    async def _read(self, key: str, track: MediaStreamTrack) -> None:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            for out in resampler.resample(frame):
                samples = out.to_ndarray().reshape(-1)
                buf = np.concatenate([self._buffers.get(key, samples[:0]), samples])
                self._buffers[key] = buf[-MAX_BUFFER:]

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        else:
            self._pts += SAMPLES
            delay = self._start + self._pts / SAMPLE_RATE - time.monotonic()
            if delay < -MAX_LAG:
                # Far behind (a busy server): skip ahead instead of racing to catch up.
                self._pts = int((time.monotonic() - self._start) * SAMPLE_RATE)
                self._pts -= self._pts % SAMPLES
            # Always yield: this runs on Daphne's event loop, which must keep serving.
            await asyncio.sleep(max(0.0, delay))
        mix = np.zeros(SAMPLES, dtype=np.int32)
        for key, buf in list(self._buffers.items()):
            chunk = buf[:SAMPLES]
            mix[: len(chunk)] += chunk
            self._buffers[key] = buf[SAMPLES:]
        out = np.clip(mix, -32768, 32767).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(out, format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._pts
        frame.time_base = Fraction(1, SAMPLE_RATE)
        return frame

    def stop(self) -> None:
        for key in list(self._tasks):
            self.remove_input(key)
        super().stop()


class VideoCompositor(MediaStreamTrack):
    """Tiles the latest picture of every input into one 640×360 picture, 10 per second."""

    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        self._latest: dict[str, av.VideoFrame] = {}
        self._tasks: dict[str, asyncio.Task] = {}
        self._start: float | None = None
        self._count = 0

    def add_input(self, key: str, track: MediaStreamTrack) -> None:
        self.remove_input(key)
        self._tasks[key] = asyncio.ensure_future(self._read(key, track))

    def remove_input(self, key: str) -> None:
        task = self._tasks.pop(key, None)
        if task is not None:
            task.cancel()
        self._latest.pop(key, None)

    async def _read(self, key: str, track: MediaStreamTrack) -> None:
        while True:
            try:
                self._latest[key] = await track.recv()
            except MediaStreamError:
                return

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        else:
            self._count += 1
            delay = self._start + self._count / VIDEO_FPS - time.monotonic()
            if delay < 0:
                # Behind (encoding is slower than real time here): drop pictures rather
                # than queue them; the timestamps keep real time.
                self._count = math.ceil((time.monotonic() - self._start) * VIDEO_FPS)
                delay = self._start + self._count / VIDEO_FPS - time.monotonic()
            # Always yield: this runs on Daphne's event loop, which must keep serving.
            await asyncio.sleep(max(0.0, delay))
        width, height = VIDEO_SIZE
        canvas = np.zeros((height, width, 3), dtype=np.uint8)
        frames = list(self._latest.values())
        if frames:
            cols = math.ceil(math.sqrt(len(frames)))
            rows = math.ceil(len(frames) / cols)
            tw, th = (width // cols) & ~1, (height // rows) & ~1
            for i, frame in enumerate(frames):
                r, c = divmod(i, cols)
                tile = frame.reformat(width=tw, height=th, format="rgb24").to_ndarray()
                canvas[r * th : r * th + th, c * tw : c * tw + tw] = tile
        out = av.VideoFrame.from_ndarray(canvas, format="rgb24").reformat(format="yuv420p")
        out.pts = self._count * (90_000 // VIDEO_FPS)
        out.time_base = Fraction(1, 90_000)
        return out

    def stop(self) -> None:
        for key in list(self._tasks):
            self.remove_input(key)
        super().stop()


class SessionRecorder:
    """One running recording: the aiortc peers of the clients, the mixer and the file."""

    def __init__(self, *, session_id: int, recording_id: int, video: bool) -> None:
        self.session_id = session_id
        self.recording_id = recording_id
        self.video = video
        suffix = ".webm" if video else ".ogg"
        handle = tempfile.NamedTemporaryFile(prefix="odr-rec-", suffix=suffix, delete=False)  # noqa: SIM115
        handle.close()
        self.path = Path(handle.name)
        self.mixer = AudioMixer()
        self.compositor = VideoCompositor() if video else None
        self.recorder = MediaRecorder(str(self.path))
        # The video track goes first: MediaRecorder sizes the video stream from its first
        # picture, which must come before the first audio packet opens the container.
        if self.compositor is not None:
            self.recorder.addTrack(self.compositor)
        self.recorder.addTrack(self.mixer)
        self.peers: dict[int, RTCPeerConnection] = {}
        self.tracks_received = 0
        self._last_client = time.monotonic()
        self._watch: asyncio.Task | None = None
        # The channel other processes reach this recorder on, and the task serving it.
        self.route = ""
        self.serving: asyncio.Future | None = None

    async def start(self) -> None:
        await self.recorder.start()
        self._watch = asyncio.ensure_future(self._watchdog())

    async def add_peer(
        self, *, user_id: int, offer: RTCSessionDescription
    ) -> RTCSessionDescription:
        old = self.peers.pop(user_id, None)
        if old is not None:
            await old.close()
        pc = RTCPeerConnection(server_rtc_configuration())
        self.peers[user_id] = pc
        key = f"user-{user_id}"

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            self.tracks_received += 1
            if track.kind == "audio":
                self.mixer.add_input(key, track)
            elif self.compositor is not None:
                self.compositor.add_input(key, track)

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed") and self.peers.get(user_id) is pc:
                self.peers.pop(user_id, None)
                self.mixer.remove_input(key)
                if self.compositor is not None:
                    self.compositor.remove_input(key)
                await pc.close()

        await pc.setRemoteDescription(offer)
        await pc.setLocalDescription(await pc.createAnswer())
        self._last_client = time.monotonic()
        return pc.localDescription

    async def _watchdog(self) -> None:
        """Stops the recording when the session ended or every client is gone."""
        while True:
            await asyncio.sleep(WATCH_EVERY)
            if self.peers:
                self._last_client = time.monotonic()
            over = await sync_to_async(_session_over)(self.session_id)
            if over or time.monotonic() - self._last_client > IDLE_LIMIT:
                await _finish_here(self.session_id, actor=None)
                return

    async def stop(self) -> None:
        if self._watch is not None and self._watch is not asyncio.current_task():
            self._watch.cancel()
        for pc in list(self.peers.values()):
            await pc.close()
        self.peers.clear()
        await self.recorder.stop()
        self.mixer.stop()
        if self.compositor is not None:
            self.compositor.stop()


_recorders: dict[int, SessionRecorder] = {}  # session id -> the recorder this process runs

# Several Daphne processes (issue 13, point 6): the recorder runs in the process that
# started it, and its aiortc peers must be made there. That process keeps, in the cache
# (Redis with REDIS_URL), the channel it listens on for the session's recorder, with an
# expiry it refreshes; any other process asked for an offer or the stop sends the
# request over the channel layer and waits for the answer. A process that died leaves
# no route once the expiry passed, and its recording is closed as abandoned.
ROUTE_KEY = "odr:recorder:{}"
ROUTE_TIMEOUT = 20.0


def _route_expiry() -> float:
    return settings.ODR_ROOM_HEARTBEAT_SECONDS / 2


def recorder_route(session_id: int) -> str | None:
    return cache.get(ROUTE_KEY.format(session_id))


def _publish_route(session_id: int, channel: str) -> None:
    cache.set(ROUTE_KEY.format(session_id), channel, timeout=_route_expiry())


def _forget_route(session_id: int, channel: str) -> None:
    if cache.get(ROUTE_KEY.format(session_id)) == channel:
        cache.delete(ROUTE_KEY.format(session_id))


async def _serve_route(recorder: SessionRecorder) -> None:
    """In the recorder's process: answer the other processes' offers and stops, and keep
    the route alive."""
    layer = get_channel_layer()
    channel = recorder.route
    keep = asyncio.ensure_future(_keep_route(recorder.session_id, channel))
    try:
        while True:
            message = await layer.receive(channel)
            reply = message.get("reply")
            try:
                out = await _on_route_message(recorder, message)
            except DomainError as exc:
                out = {"type": "recorder.error", "code": exc.code, "message": str(exc.message)}
            if reply:
                await layer.send(reply, out)
            if message.get("type") == "recorder.stop":
                return
    finally:
        keep.cancel()
        await sync_to_async(_forget_route, thread_sensitive=False)(recorder.session_id, channel)


async def _keep_route(session_id: int, channel: str) -> None:
    while True:
        await sync_to_async(_publish_route, thread_sensitive=False)(session_id, channel)
        await asyncio.sleep(_route_expiry() / 3)


async def _on_route_message(recorder: SessionRecorder, message: dict) -> dict:
    if message.get("type") == "recorder.offer":
        answer = await recorder.add_peer(
            user_id=int(message["user_id"]),
            offer=RTCSessionDescription(str(message["sdp"]), "offer"),
        )
        return {"type": "recorder.answer", "sdp": answer.sdp}
    if message.get("type") == "recorder.stop":
        actor_id = message.get("actor_id")
        actor = (
            await sync_to_async(get_user_model().objects.get)(pk=actor_id)
            if actor_id is not None
            else None
        )
        await _finish_here(recorder.session_id, actor=actor)
        return {"type": "recorder.stopped"}
    raise DomainError("invalid_request", _("Unknown request to the recorder."))


async def _ask_recorder(session_id: int, message: dict) -> dict | None:
    """Send a request to the process that runs this session's recorder and wait for its
    answer; None when no process runs one."""
    route = await sync_to_async(recorder_route, thread_sensitive=False)(session_id)
    if route is None:
        return None
    layer = get_channel_layer()
    reply = await layer.new_channel()
    await layer.send(route, {**message, "reply": reply})
    try:
        answer = await asyncio.wait_for(layer.receive(reply), ROUTE_TIMEOUT)
    except TimeoutError:
        raise DomainError(
            "recorder_unreachable", _("The recorder did not answer; try again.")
        ) from None
    if answer.get("type") == "recorder.error":
        raise DomainError(answer.get("code", "recorder_error"), answer.get("message", ""))
    return answer


def _session_over(session_id: int) -> bool:
    status = MediationSession.objects.filter(pk=session_id).values_list("status", flat=True)
    return status.first() in (MediationSession.Status.ENDED, MediationSession.Status.CANCELLED)


def recording_active(session: MediationSession) -> bool:
    return Recording.objects.filter(session=session, ended_at__isnull=True).exists()


# --- services (every write) ---


def recording_begin(*, session: MediationSession, actor: AbstractBaseUser) -> Recording:
    """The mediator starts recording: refused unless asked for and every participant
    consented (SPC online mediation rules; DESIGN.md §3)."""
    with transaction.atomic():
        session = (
            MediationSession.objects.select_for_update()
            .select_related("dispute")
            .get(pk=session.pk)
        )
        if room_role_of(session, actor) != MEDIATOR:
            raise Forbidden(_("Only the mediator can start a recording."))
        if session.status in (MediationSession.Status.ENDED, MediationSession.Status.CANCELLED):
            raise DomainError("session_over", _("This session is over."))
        if not session.recording_requested:
            raise DomainError(
                "recording_not_requested", _("Recording was not enabled for this session.")
            )
        if not recording_consent_complete(session):
            raise DomainError(
                "consent_missing",
                _("Every participant must consent to recording before it can start."),
            )
        for stale in Recording.objects.filter(session=session, ended_at__isnull=True):
            if session.pk in _recorders or recorder_route(session.pk) is not None:
                raise DomainError("recording_running", _("A recording is already running."))
            # Its process stopped before the file was saved: close the row honestly.
            stale.ended_at = timezone.now()
            stale.save(update_fields=["ended_at"])
            log_action(
                action="session.recording_abandoned",
                obj=stale,
                actor=actor,
                dispute=session.dispute,
                after={"ended_at": stale.ended_at},
            )
        recording = Recording.objects.create(session=session)
        log_action(
            action="session.recording_started",
            obj=recording,
            actor=actor,
            dispute=session.dispute,
            after={"session": session.pk},
        )
    # The room hears of it from start_recording, once the recorder can take offers.
    return recording


def recording_save(
    *, recording: Recording, path: Path, actor: AbstractBaseUser | None
) -> Recording:
    """Attach the finished file to the case, with its SHA-256 in the audit trail."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    with transaction.atomic():
        recording = (
            Recording.objects.select_for_update()
            .select_related("session__dispute")
            .get(pk=recording.pk)
        )
        if recording.ended_at is not None:
            return recording
        recording.ended_at = timezone.now()
        recording.sha256 = digest.hexdigest()
        recording.size = size
        if size:
            with path.open("rb") as fh:
                recording.file.save(f"session{path.suffix}", File(fh), save=False)
        recording.save()
        log_action(
            action="session.recording_saved",
            obj=recording,
            actor=actor,
            dispute=recording.session.dispute,
            after={
                "sha256": recording.sha256,
                "size": size,
                "file": recording.file.name,
                "started_at": recording.started_at,
                "ended_at": recording.ended_at,
            },
        )
        session_id = recording.session_id
        transaction.on_commit(lambda: _broadcast(session_id, False))
    return recording


# --- the async side (API views run on Daphne's event loop) ---


async def start_recording(*, session: MediationSession, actor: AbstractBaseUser) -> Recording:
    recording = await sync_to_async(recording_begin)(session=session, actor=actor)
    recorder = SessionRecorder(
        session_id=session.pk,
        recording_id=recording.pk,
        video=settings.ODR_RECORD_VIDEO,
    )
    _recorders[session.pk] = recorder
    await recorder.start()
    # Reachable from every process before the room hears of it.
    recorder.route = await get_channel_layer().new_channel()
    await sync_to_async(_publish_route, thread_sensitive=False)(session.pk, recorder.route)
    recorder.serving = asyncio.ensure_future(_serve_route(recorder))
    # Only now may the clients send their offers (before, they would find no recorder).
    await sync_to_async(_broadcast)(session.pk, True)
    return recording


def _may_send_media(session: MediationSession, user: AbstractBaseUser) -> bool:
    return RoomParticipant.objects.filter(
        session=session, user=user, consented_recording_at__isnull=False
    ).exists()


async def recorder_answer(
    *, session: MediationSession, user: AbstractBaseUser, offer: RTCSessionDescription
) -> RTCSessionDescription:
    if not await sync_to_async(_may_send_media)(session, user):
        raise Forbidden(_("You have not consented to recording."))
    recorder = _recorders.get(session.pk)
    if recorder is not None:
        return await recorder.add_peer(user_id=user.pk, offer=offer)
    # Another process runs it: the offer goes there over the channel layer.
    answer = await _ask_recorder(
        session.pk, {"type": "recorder.offer", "sdp": offer.sdp, "user_id": user.pk}
    )
    if answer is None:
        raise DomainError("not_recording", _("No recording is running for this session."))
    return RTCSessionDescription(answer["sdp"], "answer")


async def finish_recording(session_id: int, *, actor: AbstractBaseUser | None) -> Recording | None:
    """Stop the session's recorder, in this process or the one that runs it, and save
    the file."""
    if session_id not in _recorders:
        stopped = await _ask_recorder(
            session_id,
            {"type": "recorder.stop", "actor_id": actor.pk if actor is not None else None},
        )
        if stopped is None:
            return None
        return await sync_to_async(
            lambda: Recording.objects.filter(session_id=session_id).order_by("-started_at").first()
        )()
    return await _finish_here(session_id, actor=actor)


async def _finish_here(session_id: int, *, actor: AbstractBaseUser | None) -> Recording | None:
    """Stop this process's recorder for the session and save the file. The recorder is
    taken out of the registry before the first await, so it is saved exactly once."""
    recorder = _recorders.pop(session_id, None)
    if recorder is None:
        return None
    serving = recorder.serving
    if serving is not None and serving is not asyncio.current_task():
        serving.cancel()
    try:
        await recorder.stop()
        recording = await sync_to_async(Recording.objects.get)(pk=recorder.recording_id)
        return await sync_to_async(recording_save)(
            recording=recording, path=recorder.path, actor=actor
        )
    finally:
        with contextlib.suppress(FileNotFoundError):
            recorder.path.unlink()


def ensure_mediator(*, session: MediationSession, user: AbstractBaseUser) -> None:
    if room_role_of(session, user) != MEDIATOR:
        raise Forbidden(_("Only the mediator can stop a recording."))
