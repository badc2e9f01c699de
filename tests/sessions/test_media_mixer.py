"""The recorder's mixer and compositor (no network): two participants' audio becomes one
track and, with ODR_RECORD_VIDEO, their pictures one tiled video, written by aiortc's
MediaRecorder to a file that decodes."""

from __future__ import annotations

import asyncio

import av
import numpy as np
from aiortc.contrib.media import MediaRecorder

from sessions.media.recording import AudioMixer, VideoCompositor
from tests.sessions.support.scripted_peer import SyntheticVideo, ToneAudio, run_async


def test_mixer_sums_every_participants_audio_into_one_track():
    run_async(_mixer_sums_every_participants_audio_into_one_track())


async def _mixer_sums_every_participants_audio_into_one_track():
    mixer = AudioMixer()
    mixer.add_input("a", ToneAudio(freq=300))
    mixer.add_input("b", ToneAudio(freq=700))
    for _ in range(10):  # let both inputs fill their buffers
        await mixer.recv()
    frame = await mixer.recv()
    samples = frame.to_ndarray().reshape(-1).astype(np.int32)
    spectrum = np.abs(np.fft.rfft(samples))
    freqs = np.fft.rfftfreq(len(samples), 1 / frame.sample_rate)
    loudest = {round(f) for f in freqs[np.argsort(spectrum)[-2:]]}
    assert loudest == {300, 700}
    mixer.stop()


def test_video_recording_tiles_every_participant_into_a_webm_that_decodes(tmp_path):
    run_async(_video_recording_tiles_every_participant_into_a_webm_that_decodes(tmp_path))


async def _video_recording_tiles_every_participant_into_a_webm_that_decodes(tmp_path):
    path = tmp_path / "session.webm"
    mixer, compositor = AudioMixer(), VideoCompositor()
    for key in ("a", "b"):
        mixer.add_input(key, ToneAudio())
        compositor.add_input(key, SyntheticVideo())
    recorder = MediaRecorder(str(path))
    recorder.addTrack(compositor)  # first, as SessionRecorder does
    recorder.addTrack(mixer)
    await recorder.start()
    await asyncio.sleep(1.5)
    await recorder.stop()
    mixer.stop()
    compositor.stop()
    with av.open(str(path)) as container:
        kinds = {s.type for s in container.streams}
        pictures = sum(1 for _ in container.decode(video=0))
    assert kinds == {"audio", "video"}
    # 10 pictures a second for 1.5 s; a busy machine drops some rather than fall behind.
    assert pictures >= 3
