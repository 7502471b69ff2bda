"""Log-mel spectrogram of 16 kHz audio in numpy: the verifier's input, the same in training and live."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from avatar.voice.audio import RATE


@dataclass(frozen=True)
class MelConfig:
    """Framing and filter bank of the features (stored with the model: a change needs retraining)."""

    n_fft: int = 512  # 32 ms window at 16 kHz
    hop: int = 160  # 10 ms frames, like pocketsphinx
    win: int = 400  # 25 ms analysis window
    n_mels: int = 40
    f_min: float = 60.0
    f_max: float = 7600.0


@lru_cache(maxsize=4)
def mel_filters(c: MelConfig) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) triangular filters, equally spaced on the mel scale."""

    def mel(f):
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    def hz(m):
        return 700.0 * (10.0 ** (np.asarray(m) / 2595.0) - 1.0)

    edges = hz(np.linspace(mel(c.f_min), mel(c.f_max), c.n_mels + 2))
    bins = np.fft.rfftfreq(c.n_fft, 1.0 / RATE)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (bins[None, :] - lo) / (mid - lo)
    down = (hi - bins[None, :]) / (hi - mid)
    return np.maximum(0.0, np.minimum(up, down)).astype(np.float32)


@lru_cache(maxsize=4)
def _window(c: MelConfig) -> np.ndarray:
    w = np.zeros(c.n_fft, np.float32)
    w[: c.win] = np.hanning(c.win + 2)[1:-1]
    return w


def log_mel(pcm: np.ndarray, c: MelConfig = MelConfig()) -> np.ndarray:
    """(frames, n_mels) natural-log mel energies of mono float audio; one frame per `hop` samples."""
    x = np.asarray(pcm, np.float32)
    n = 1 + max(0, len(x) - c.n_fft) // c.hop
    if len(x) < c.n_fft:
        x = np.pad(x, (0, c.n_fft - len(x)))
    x = np.concatenate([x[:1], x[1:] - 0.97 * x[:-1]])  # pre-emphasis, as in speech front ends
    idx = np.arange(c.n_fft)[None, :] + c.hop * np.arange(n)[:, None]
    spec = np.abs(np.fft.rfft(x[idx] * _window(c), axis=1)) ** 2
    return np.log(spec @ mel_filters(c).T + 1e-8).astype(np.float32)


def normalise(feats: np.ndarray) -> np.ndarray:
    """Per-band mean removed over the window (a microphone's colour is a constant offset in log-mel)."""
    return (feats - feats.mean(axis=0, keepdims=True)).astype(np.float32)
