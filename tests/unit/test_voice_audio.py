"""Audio on plain arrays: resampling, the level meter, WAV files, the microphone adapter with fake back ends."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest

from avatar.voice.audio import AudioChunk, LevelMeter, Resampler, chunks, read_wav, resample, write_wav
from avatar.voice.listener import FrontEnd
from avatar.voice.mic import MicConfig, MicStream, MicUnavailableError, RawBlock, register_backend, unregister_backend
from tests.conftest import require_tool


@pytest.mark.parametrize("sr", [48000, 44100, 22050, 8000])
def test_resampling_keeps_a_tone_and_any_chunking_gives_the_same_samples(sr):
    t = np.arange(sr) / sr
    x = np.sin(2 * np.pi * 1000 * t).astype(np.float32)
    whole = resample(x, sr)
    assert len(whole) == 16000
    ref = np.sin(2 * np.pi * 1000 * np.arange(16000) / 16000)
    assert np.max(np.abs(whole[100:-100] - ref[100:-100])) < 2e-3  # no delay, no gain error
    r, rng, parts, i = Resampler(sr), np.random.default_rng(0), [], 0
    while i < len(x):
        n = int(rng.integers(1, 700))
        parts.append(r.process(x[i : i + n]))
        i += n
    streamed = np.concatenate(parts)
    assert np.allclose(streamed, whole[: len(streamed)], atol=1e-6)


def test_resampling_removes_what_16_khz_cannot_carry():
    sr = 48000
    x = np.sin(2 * np.pi * 11000 * np.arange(sr) / sr)  # above 8 kHz: would alias to 5 kHz
    assert np.sqrt(np.mean(resample(x, sr)[500:-500] ** 2)) < 1e-3


def test_level_meter_rises_at_once_and_falls_with_time():
    meter = LevelMeter()
    loud = AudioChunk(np.full(320, 0.5, np.float32), 0.0)
    assert meter.process(loud) == pytest.approx(0.9, abs=0.01)  # -6 dBFS on a 60 dB scale
    quiet = np.zeros(320, np.float32)
    after = meter.process(AudioChunk(quiet, 0.02))
    assert 0.8 < after < 0.95  # 20 ms of silence lowers it a little, not to zero
    assert meter.process(AudioChunk(quiet, 1.0)) == 0.0


def test_wav_round_trip_and_chunks(tmp_path):
    x = (np.sin(np.arange(1600) / 10) * 0.5).astype(np.float32)
    write_wav(tmp_path / "a.wav", x, 8000)
    y, sr = read_wav(tmp_path / "a.wav")
    assert sr == 8000 and np.allclose(x, y, atol=1e-4)
    parts = list(chunks(y, sr, 0.02, t0=1.0))
    assert len(parts) == 10 and parts[3].t == pytest.approx(1.06) and parts[-1].t_end == pytest.approx(1.2)


class FakeBackend:
    """A microphone that delivers what the test pushes, through the stream's own callback."""

    name = "fake"
    instances: ClassVar[list[FakeBackend]] = []

    def __init__(self) -> None:
        self.on_block = None
        FakeBackend.instances.append(self)

    def open(self, device, block_s, on_block):
        if device == "broken":
            raise MicUnavailableError("fake: no such device")
        self.on_block = on_block
        return 48000

    def close(self):
        self.on_block = None


@pytest.fixture
def fake_mic():
    from avatar.voice import mic as mic_module

    saved = dict(mic_module._BACKENDS)
    mic_module._BACKENDS.clear()
    register_backend("fake", FakeBackend)
    FakeBackend.instances = []
    yield FakeBackend
    unregister_backend("fake")
    mic_module._BACKENDS.update(saved)


def test_callback_copies_stamps_and_never_blocks(fake_mic):
    ticks = iter(np.arange(0.0, 100.0, 0.01))
    stream = MicStream(MicConfig(queue_blocks=2), clock=lambda: float(next(ticks)))
    stream.open()
    dev = fake_mic.instances[-1]
    buf = np.ones((960, 2), np.float32)
    dev.on_block(buf)
    buf[:] = 7.0  # the device reuses its buffer: the queued block must not change
    dev.on_block(buf)
    dev.on_block(buf)  # queue full: dropped and counted, not waited for
    assert stream.overflows == 1
    first = stream.read(0)
    assert first.sr == 48000 and np.all(first.pcm == 1.0) and first.pcm.shape == (960,)
    assert first.t_start == pytest.approx(first.t_end - 0.02)
    assert stream.read(0).pcm[0] == 7.0 and stream.read(0) is None


def test_every_back_end_failing_gives_one_error_with_every_reason(fake_mic):
    class Missing:
        name = "missing"

        def open(self, device, block_s, on_block):
            raise MicUnavailableError("PortAudio is missing")

        def close(self):
            pass

    register_backend("missing", Missing)
    with pytest.raises(MicUnavailableError) as e:
        MicStream(MicConfig(device="broken")).open()
    assert "fake: no such device" in str(e.value) and "PortAudio is missing" in str(e.value)
    unregister_backend("missing")


def test_front_end_resamples_onto_a_sample_counting_clock():
    front = FrontEnd(48000)
    out = [front.process(RawBlock(np.zeros(960, np.float32), t, 48000)) for t in (10.02, 10.045, 10.06)]
    assert out[0].t == pytest.approx(10.0) and out[0].sr == 16000
    # the second block arrived late (jitter) but the audio clock counts samples, so chunks stay contiguous
    assert out[1].t == pytest.approx(out[0].t_end) and out[2].t == pytest.approx(out[1].t_end)


def test_synthesised_test_speech_is_the_same_every_time():
    require_tool("espeak-ng")
    from avatar.voice.synth import say_espeak

    first = say_espeak("now he is angry again", "en-us+m3", rate=160)
    say_espeak("something else first", "en-gb-x-rp", rate=200, pitch=80)  # the library keeps state between calls
    again = say_espeak("now he is angry again", "en-us+m3", rate=160)
    assert first.pcm.size > 0 and np.array_equal(first.pcm, again.pcm)
    assert [w.word for w in first.words] == ["now", "he", "is", "angry", "again"] and first.words == again.words
