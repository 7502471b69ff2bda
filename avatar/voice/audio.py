"""Audio on plain arrays: timestamped chunks, a streaming resampler to 16 kHz, a level meter, WAV files."""

from __future__ import annotations

import math
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avatar.errors import SourceError

_KAISER_BETA = 8.0  # stop band about 80 dB down: aliasing stays below the microphone's noise
RATE = 16000  # the keyword spotter's sample rate (pocketsphinx's en-us model is trained at 16 kHz)


@dataclass(frozen=True)
class AudioChunk:
    """Consecutive mono samples and the time of the first one.

    `t` is on the audio clock: seconds since the stream started for files, the pipeline clock for a
    microphone. `pcm` is float32 in -1..1.
    """

    pcm: np.ndarray  # (n,) float32
    t: float
    sr: int = RATE

    @property
    def t_end(self) -> float:
        return self.t + len(self.pcm) / self.sr


class Resampler:
    """Streaming band-limited resampling (Kaiser-windowed sinc) from any rate to `sr_out`.

    Stateful across chunks, so a stream cut into any chunk sizes gives the same samples as one call;
    positions are kept as exact integers so a long stream does not drift. Delay: `half_width` input samples.
    """

    def __init__(self, sr_in: int, sr_out: int = RATE, quality: float = 8.0) -> None:
        if sr_in <= 0 or sr_out <= 0:
            raise SourceError(f"sample rates must be positive, got {sr_in} -> {sr_out}")
        g = math.gcd(sr_in, sr_out)
        self.up, self.down = sr_out // g, sr_in // g  # output n sits at input position n * down / up
        self.sr_in, self.sr_out = sr_in, sr_out
        self.cutoff = min(1.0, sr_out / sr_in) * 0.94  # just under Nyquist of the slower side
        self.half_width = math.ceil(quality / self.cutoff)
        self.reset()

    def reset(self) -> None:
        self._buf = np.zeros(self.half_width, np.float64)  # history; holds input index self._base onwards
        self._base = -self.half_width
        self._n = 0  # next output sample

    def process(self, x: np.ndarray) -> np.ndarray:
        """Resample the next chunk of a stream; returns the output samples that are now complete."""
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        if self.up == self.down:
            return x.astype(np.float32)
        self._buf = np.concatenate([self._buf, x])
        last_in = self._base + len(self._buf) - 1
        # Output n needs input up to floor(n * down / up) + half_width.
        n_stop = ((last_in - self.half_width + 1) * self.up + self.down - 1) // self.down
        n = np.arange(self._n, max(self._n, n_stop), dtype=np.int64)
        out = self._interpolate(n) if n.size else np.zeros(0)
        self._n += n.size
        keep_from = (self._n * self.down) // self.up - self.half_width + 1
        drop = max(0, keep_from - self._base)
        self._buf, self._base = self._buf[drop:], self._base + drop
        return out.astype(np.float32)

    def _interpolate(self, n: np.ndarray) -> np.ndarray:
        k = np.arange(-self.half_width + 1, self.half_width + 1)
        centre = (n * self.down) // self.up
        frac = ((n * self.down) % self.up) / self.up
        taps = centre[:, None] + k[None, :]  # (N, 2W) input indices
        dist = taps - (centre + frac)[:, None]  # how far each tap is from the output's position
        window = np.i0(_KAISER_BETA * np.sqrt(np.clip(1.0 - (dist / (self.half_width + 1)) ** 2, 0.0, 1.0)))
        h = self.cutoff * np.sinc(self.cutoff * dist) * window / np.i0(_KAISER_BETA)
        return np.sum(self._buf[taps - self._base] * h, axis=1)


def resample(x: np.ndarray, sr_in: int, sr_out: int = RATE) -> np.ndarray:
    """A whole signal at another rate (the streaming resampler, flushed)."""
    r = Resampler(sr_in, sr_out)
    out = np.concatenate([r.process(x), r.process(np.zeros(r.half_width + 1))])
    n = round(len(x) * sr_out / sr_in)
    return out[:n].astype(np.float32)


@dataclass(frozen=True)
class LevelConfig:
    """How the microphone level meter reads."""

    floor_db: float = -60.0  # level shown as 0 (dBFS)
    release_s: float = 0.3  # time for the meter to fall by the whole range once sound stops


class LevelMeter:
    """Microphone level 0..1 on a dBFS scale: rises at once, falls smoothly (time is an argument)."""

    def __init__(self, config: LevelConfig = LevelConfig()) -> None:
        self.config = config
        self.reset()

    def reset(self) -> None:
        self.level = 0.0
        self._t: float | None = None

    def process(self, chunk: AudioChunk) -> float:
        rms = float(np.sqrt(np.mean(np.square(chunk.pcm, dtype=np.float64)))) if len(chunk.pcm) else 0.0
        db = 20.0 * math.log10(max(rms, 1e-9))
        target = min(1.0, max(0.0, 1.0 - db / self.config.floor_db))
        dt = 0.0 if self._t is None else max(0.0, chunk.t_end - self._t)
        self._t = chunk.t_end
        fallen = self.level - dt / max(self.config.release_s, 1e-6)
        self.level = max(target, fallen, 0.0)
        return self.level


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """Mono float32 samples in -1..1 and the rate of a 16/24/32-bit PCM WAV file (channels averaged)."""
    try:
        with wave.open(str(path), "rb") as f:
            n_ch, width, sr = f.getnchannels(), f.getsampwidth(), f.getframerate()
            raw = f.readframes(f.getnframes())
    except (OSError, wave.Error, EOFError) as e:
        raise SourceError(f"cannot read WAV file {str(path)!r}: {e} (PCM WAV expected; convert with "
                          f"`sox IN -b 16 OUT.wav`)") from e
    if width == 2:
        x = np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0
    elif width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        x = (np.where(v >= 1 << 23, v - (1 << 24), v) / float(1 << 23)).astype(np.float32)
    elif width == 4:
        x = (np.frombuffer(raw, "<i4") / float(1 << 31)).astype(np.float32)
    else:
        raise SourceError(f"{str(path)!r}: {8 * width}-bit WAV is not supported (16, 24 or 32-bit PCM)")
    return x.reshape(-1, n_ch).mean(axis=1).astype(np.float32), sr


def write_wav(path: str | Path, pcm: np.ndarray, sr: int) -> None:
    """Write mono float samples (-1..1) as 16-bit PCM."""
    data = (np.clip(pcm, -1.0, 1.0) * 32767.0).astype("<i2")
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(sr)
        f.writeframes(data.tobytes())


def chunks(pcm: np.ndarray, sr: int, block_s: float = 0.02, t0: float = 0.0):
    """A signal cut into consecutive AudioChunks of `block_s` seconds, as a microphone would deliver it."""
    n = max(1, round(block_s * sr))
    for i in range(0, len(pcm), n):
        yield AudioChunk(pcm[i : i + n], t0 + i / sr, sr)
