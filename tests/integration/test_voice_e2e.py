"""Spoken "happy" through the audio path while a fixture video plays through the pipeline: EmoteBot turns happy."""

from __future__ import annotations

import logging
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pytest

from avatar.app import run_app
from avatar.capture.base import SourceConfig, open_source
from avatar.cli import _apply_flags, build_parser
from avatar.frames import Frame
from avatar.output.sinks.null import NullSink
from avatar.pipeline import Pipeline, PipelineConfig
from avatar.processing import FrameProcessor, StageConfigs
from avatar.voice import mic as mic_module
from avatar.voice.audio import read_wav, write_wav
from avatar.voice.config import VoiceConfig
from avatar.voice.listener import VoiceListener
from avatar.voice.live import start_listening
from avatar.voice.mic import MicConfig, MicStream, MicUnavailableError, register_backend
from avatar.voice.spotter import KeywordSpotter
from avatar.voice.synth import say_espeak
from tests.conftest import require_tool

LEAD_IN_S = 0.6  # silence before the sentence, so the avatar settles first


class WavPlayer:
    """A microphone back end that plays a WAV file through the stream's callback, block by block.

    `play_until(t)` delivers the blocks that end by audio time t (simulated time: the test drives it);
    `start()` plays in real time from its own thread, like PortAudio does.
    """

    name = "wav-player"
    path: Path | None = None

    def __init__(self) -> None:
        self.pcm, self.sr = read_wav(WavPlayer.path)
        self.on_block = None
        self.pos = 0
        self.now = 0.0  # audio time of the last sample delivered
        self._thread: threading.Thread | None = None

    def open(self, device: str, block_s: float, on_block) -> int:
        self.on_block, self.block = on_block, max(1, round(block_s * self.sr))
        return self.sr

    def close(self) -> None:
        self.on_block = None

    def play_until(self, t: float) -> None:
        while self.on_block is not None and (self.pos + self.block) / self.sr <= t:
            data = self.pcm[self.pos : self.pos + self.block]
            if len(data) < self.block:
                data = np.pad(data, (0, self.block - len(data)))  # then silence, as a live microphone
            self.pos += self.block
            self.now = self.pos / self.sr
            self.on_block(data[:, None])

    def start(self, clock) -> None:
        def loop() -> None:
            t0 = clock()
            while self.on_block is not None:
                self.play_until(clock() - t0)
                time.sleep(self.block / self.sr / 2)

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()


@pytest.fixture
def sentence(tmp_path):
    """ "… okay, I feel happy today, thanks …" by espeak-ng, written as a 22.05 kHz WAV; when "happy" ends."""
    require_tool("espeak-ng")
    speech = say_espeak("okay, I feel happy today, thanks", "en-us", rate=165)
    pad = np.zeros(int(LEAD_IN_S * speech.sr), np.float32)
    path = tmp_path / "sentence.wav"
    write_wav(path, np.concatenate([pad, speech.pcm, pad, pad]), speech.sr)
    return path, LEAD_IN_S + speech.find("happy").t_end


@pytest.fixture
def player_backend(sentence):
    saved = dict(mic_module._BACKENDS)
    mic_module._BACKENDS.clear()
    WavPlayer.path = sentence[0]
    players: list[WavPlayer] = []

    def make() -> WavPlayer:
        players.append(WavPlayer())
        return players[-1]

    register_backend("wav-player", make)
    yield players
    mic_module._BACKENDS.clear()
    mic_module._BACKENDS.update(saved)


class SpeakingVideo:
    """A fixture video whose frames carry the trigger events heard in the audio up to each frame's time.

    The audio clock and the video's media clock both start at 0, so a detection's t_emit is a media time.
    """

    def __init__(self, video, player: WavPlayer, listener: VoiceListener, heard: list) -> None:
        self.video, self.player, self.listener, self.heard = video, player, listener, heard
        self.name, self.fps = video.name, video.fps

    def open(self) -> None:
        self.video.open()

    def read(self) -> Frame | None:
        frame = self.video.read()
        if frame is not None:
            self.player.play_until(frame.t_media)  # the microphone callback, in simulated time
            self.listener.run_once(0)  # front end → spotter → events
            frame.events.extend(self.heard)
            self.heard.clear()
        return frame

    def close(self) -> None:
        self.video.close()


def record_frames(pipeline: Pipeline) -> list[tuple[float, float]]:
    seen: list[tuple[float, float]] = []
    pipeline.observers.append(lambda frame, code: seen.append((frame.t_media, code["happy"])))
    return seen


def small_processor() -> FrameProcessor:
    from avatar.output.compositor import CompositorConfig
    from avatar.runtime.engines import EngineConfig

    return FrameProcessor(StageConfigs(engine=EngineConfig(size=64), compositor=CompositorConfig(width=128,
                                                                                                  height=128)))


def test_spoken_happy_turns_emotebot_happy_within_300_ms_of_the_word_end(fixtures, sentence, player_backend):
    _, t_word_end = sentence
    stream = MicStream(MicConfig(block_s=0.02))
    stream.open()
    player = player_backend[0]
    stream.clock = lambda: player.now  # callbacks are stamped on the audio clock (simulated time)
    heard: list = []
    listener = VoiceListener(stream, KeywordSpotter.from_config(VoiceConfig()), heard.append)
    video = open_source(SourceConfig(source=str(fixtures / "videos" / "lp_d9.mp4"), realtime=False))
    source = SpeakingVideo(video, player, listener, heard)
    source.open()
    sink = NullSink()
    sink.open(128, 128, source.fps)
    frames = int((t_word_end + 1.0) * source.fps)
    pipeline = Pipeline(source, small_processor(), [sink], PipelineConfig(lossless=True, max_frames=frames))
    seen = record_frames(pipeline)
    pipeline.run()
    source.close()
    assert [d.phrase for d in listener.detections] == ["happy"]
    d = listener.detections[0]
    assert abs(d.t_end - t_word_end) < 0.15  # the spotter found the word where espeak put it
    before = [w for t, w in seen if t <= t_word_end]
    assert before and max(before) < 0.01  # nothing happy before the word was said
    turned = next(t for t, w in seen if w > 0.05)
    print(f"word end {t_word_end:.3f} detected end {d.t_end:.3f} emitted {d.t_emit:.3f} turned {turned:.3f}")
    assert turned - t_word_end <= 0.3, f"turned happy {1000 * (turned - t_word_end):.0f} ms after the word"
    assert seen[-1][1] > 0.99


def test_live_threads_carry_a_spoken_trigger_into_the_pipeline(fixtures, sentence, player_backend, caplog):
    _, t_word_end = sentence
    config = _apply_flags(build_parser().parse_args([
        "run", "--source", str(fixtures / "videos" / "lp_d9.mp4"), "--sink", "null", "--hud", "--size", "64",
        "--output-size", "128x128", "--duration", f"{t_word_end + 1.2:.2f}", "--mic"]))
    config = config.override("source", realtime=True).override("pipeline", lossless=False)
    from avatar.app import build_pipeline

    with ExitStack() as stack:
        pipeline = build_pipeline(config, None, stack)
        seen = record_frames(pipeline)
        levels: list[float] = []
        pipeline.observers.append(lambda frame, code: levels.append(pipeline.mic_level()))
        player_backend[0].start(pipeline.clock)
        pipeline.run()
    assert pipeline.processor.state.last_trigger.word == "happy"
    assert max(levels) > 0.3  # the HUD's microphone meter moved while the sentence played
    happy_at = [t for t, w in seen if w > 0.5]
    assert happy_at and happy_at[0] > t_word_end - 0.2  # not before it was said (real time: 0.2 s slack)


def test_no_microphone_means_one_warning_and_the_video_goes_on(fixtures, caplog):
    class Absent:
        name = "absent"

        def open(self, device, block_s, on_block):
            raise MicUnavailableError("PortAudio is missing (test)")

        def close(self):
            pass

    saved = dict(mic_module._BACKENDS)
    mic_module._BACKENDS.clear()
    register_backend("absent", Absent)
    try:
        config = _apply_flags(build_parser().parse_args([
            "run", "--source", str(fixtures / "videos" / "lp_d0.mp4"), "--sink", "null", "--fast", "--mic",
            "--max-frames", "10", "--size", "64", "--output-size", "128x128"]))
        with caplog.at_level(logging.WARNING):
            stats = run_app(config, None)
    finally:
        mic_module._BACKENDS.clear()
        mic_module._BACKENDS.update(saved)
    warnings = [r for r in caplog.records if "voice triggers off" in r.getMessage()]
    assert len(warnings) == 1 and "PortAudio is missing" in warnings[0].getMessage()
    assert stats.frames_out == 10


def test_listener_start_returns_none_without_a_microphone():
    saved = dict(mic_module._BACKENDS)
    mic_module._BACKENDS.clear()
    try:
        with ExitStack() as stack:
            assert start_listening(VoiceConfig(), lambda ev: None, stack) is None
    finally:
        mic_module._BACKENDS.update(saved)
