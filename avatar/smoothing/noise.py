"""Tracking noise: estimate it from tracked clips (per face field) and sample it for training data."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from avatar.errors import ModelError, SourceError
from avatar.expression.rig import FACE_FIELD_NAMES, HIGH, LOW, N_FACE, RIG_VERSION

SPAN = (HIGH - LOW)[:N_FACE].astype(np.float64)  # every noise number is in units of the field's range
PROFILE_PATH = Path(__file__).with_name("noise_profile.json")
PROFILE_VERSION = 1

_SG_WINDOW = 9  # frames of the local quadratic fit that stands in for the clean signal
_STILL_SPEED = 0.12  # field ranges per second: slower than this, a field counts as still
_OUTLIER_SIGMAS = 5.0  # a residual this many robust sigmas out is an outlier, not Gaussian noise
_WARM_UP = 10  # frames at the start of a static clip left out
_MIN_SAMPLES = 300  # frames a field needs before its own outlier rate is trusted


@dataclass(frozen=True)
class NoiseProfile:
    """Per-field noise of one tracker back end, in field-range units (value / (high - low))."""

    std: np.ndarray  # (N_FACE,) Gaussian part of the noise on still stretches
    ac1: np.ndarray  # (N_FACE,) lag-1 autocorrelation of that noise (0 = white, < 0 = mostly high frequency)
    outlier_rate: np.ndarray  # (N_FACE,) fraction of frames whose reading jumps > 5 sigmas (a mis-tracked frame)
    # (N_FACE,) RMS beyond the Gaussian core on the videos' still stretches, field ranges: small hops and
    # drift of real tracking (and motion the local fit misses). Measured and reported; training without it
    # did as well on the fixture videos as training with it (benchmarks/smoother.md), so it is not sampled.
    wander: np.ndarray
    correlation: np.ndarray  # (N_FACE, N_FACE) correlation between fields' noise in the same frame
    outlier_scale: float  # median size of such a jump, in sigmas of the field
    dropout_rate: float  # fraction of frames with a face in view where the tracker found none
    dropout_mean_frames: float  # mean length of such a gap, frames
    notes: dict[str, Any] = field(default_factory=dict)  # how it was made and per-source numbers

    def to_dict(self) -> dict[str, Any]:
        per_field = zip(FACE_FIELD_NAMES, self.std, self.ac1, self.outlier_rate, self.wander, strict=True)
        return {
            "version": PROFILE_VERSION,
            "rig_version": RIG_VERSION,
            "units": "field-range units: value / (high - low) of each rig field",
            "fields": {
                name: {"std": round(float(s), 6), "ac1": round(float(a), 4), "outlier_rate": round(float(o), 6),
                       "wander": round(float(w), 6)}
                for name, s, a, o, w in per_field
            },
            "correlation": [[round(float(v), 3) for v in row] for row in self.correlation],
            "outlier_scale": round(self.outlier_scale, 3),
            "dropout_rate": round(self.dropout_rate, 6),
            "dropout_mean_frames": round(self.dropout_mean_frames, 3),
            "notes": self.notes,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NoiseProfile:
        try:
            if d["version"] != PROFILE_VERSION or d["rig_version"] != RIG_VERSION:
                raise ModelError(
                    f"noise profile version {d['version']}/rig {d['rig_version']} does not match "
                    f"{PROFILE_VERSION}/rig {RIG_VERSION}; measure it again (python -m avatar.smoothing.measure_noise)"
                )
            fields = d["fields"]
            return cls(
                std=np.array([fields[n]["std"] for n in FACE_FIELD_NAMES], dtype=np.float64),
                ac1=np.array([fields[n]["ac1"] for n in FACE_FIELD_NAMES], dtype=np.float64),
                outlier_rate=np.array([fields[n]["outlier_rate"] for n in FACE_FIELD_NAMES], dtype=np.float64),
                wander=np.array([fields[n]["wander"] for n in FACE_FIELD_NAMES], dtype=np.float64),
                correlation=np.array(d["correlation"], dtype=np.float64).reshape(N_FACE, N_FACE),
                outlier_scale=float(d["outlier_scale"]),
                dropout_rate=float(d["dropout_rate"]),
                dropout_mean_frames=float(d["dropout_mean_frames"]),
                notes=dict(d.get("notes", {})),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ModelError(f"malformed noise profile: {e!r}; measure it again") from e

    @classmethod
    def load(cls, path: str | Path = PROFILE_PATH) -> NoiseProfile:
        try:
            return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError) as e:
            raise ModelError(f"cannot read noise profile {str(path)!r}: {e}") from e


# --- estimation ------------------------------------------------------------------------------------------


def _savgol_weights(window: int, order: int = 2) -> np.ndarray:
    """Least-squares polynomial smoothing weights for the centre sample (a Savitzky–Golay filter)."""
    k = np.arange(window) - window // 2
    A = np.vander(k, order + 1, increasing=True).astype(np.float64)
    return np.linalg.pinv(A)[0]  # (window,) weights giving the fitted value at k = 0


def local_fit(x: np.ndarray, window: int = _SG_WINDOW) -> np.ndarray:
    """(T, F) local quadratic fit of each column (edges keep the raw values)."""
    w = _savgol_weights(window)
    out = x.astype(np.float64).copy()
    half = window // 2
    for j in range(x.shape[1]):
        out[half:-half, j] = np.convolve(x[:, j], w[::-1], mode="valid")
    return out


@dataclass(frozen=True)
class Clip:
    """One tracked clip: face fields (T, N_FACE) in rig units, whether a face was found, and the frame rate."""

    values: np.ndarray  # (T, N_FACE); rows without a face are ignored
    present: np.ndarray  # (T,) bool
    fps: float
    name: str = ""


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of every run of True."""
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1), strict=True))


def longest_face_run(clip: Clip) -> Clip:
    """The clip cut to its longest run of consecutive frames with a face (the whole clip when it has no gap)."""
    runs = _runs(clip.present)
    if not runs:
        raise SourceError(f"{clip.name or 'clip'}: no frame with a face")
    a, b = max(runs, key=lambda r: r[1] - r[0])
    return Clip(clip.values[a:b], clip.present[a:b], clip.fps, clip.name)


def still_residuals(clip: Clip) -> tuple[np.ndarray, np.ndarray]:
    """Residuals (T, F) of the local fit in field ranges, scaled to noise sigmas, and where each field is still.

    The fit's own share of white noise (its centre weight) is divided out, so the residual's spread estimates
    the noise's. Only runs of consecutive face frames longer than the window are used.
    """
    T = len(clip.values)
    res = np.zeros((T, N_FACE))
    still = np.zeros((T, N_FACE), dtype=bool)
    x = clip.values / SPAN
    gain = 1.0 / math.sqrt(1.0 - _savgol_weights(_SG_WINDOW)[_SG_WINDOW // 2])
    half = _SG_WINDOW // 2
    for a, b in _runs(clip.present):
        if b - a < 3 * _SG_WINDOW:
            continue
        fit = local_fit(x[a:b])
        speed = np.abs(np.gradient(local_fit(fit), axis=0)) * clip.fps
        res[a:b] = (x[a:b] - fit) * gain
        ok = speed < _STILL_SPEED
        ok[:half] = ok[-half:] = False
        still[a:b] = ok
    return res, still


def _robust_std(r: np.ndarray) -> float:
    return float(1.4826 * np.median(np.abs(r - np.median(r)))) if r.size else 0.0


def _ac1(res: list[np.ndarray], valid: list[np.ndarray], j: int) -> float:
    num = den = 0.0
    for r, v in zip(res, valid, strict=True):
        both = v[1:, j] & v[:-1, j]
        num += float(np.sum(r[1:, j][both] * r[:-1, j][both]))
        den += float(np.sum(r[:-1, j][both] ** 2))
    return num / den if den > 0 else 0.0


def _pairwise_correlation(res: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Correlation of each pair of fields over the frames where both are valid, made positive definite."""
    C = np.eye(N_FACE)
    for i in range(N_FACE):
        for j in range(i):
            both = valid[:, i] & valid[:, j]
            if both.sum() > 30:
                c = np.corrcoef(res[both, i], res[both, j])[0, 1]
                C[i, j] = C[j, i] = 0.0 if not np.isfinite(c) else c
    w, U = np.linalg.eigh(C)
    C = (U * np.maximum(w, 1e-3)) @ U.T
    d = np.sqrt(np.diag(C))
    return C / d[:, None] / d[None, :]


def estimate(clips: Sequence[Clip], *, from_residuals: bool = True) -> NoiseProfile:
    """Measure a profile from tracked clips of unclamped field values.

    `from_residuals=True` (real videos): noise = residual of a local fit on still stretches. False (static
    clips: one image repeated, only sensor noise changes): noise = deviation from each clip's median. Frames
    sitting exactly on a field's bound or pinned at a measurement's floor carry no noise and are left out.
    """
    res, valid = [], []
    for c in clips:
        x = c.values / SPAN
        if from_residuals:
            r, v = still_residuals(c)
        else:
            r = np.where(c.present[:, None], x - np.median(x[c.present], axis=0), 0.0)
            v = np.repeat(c.present[:, None], N_FACE, axis=1)
            v[:_WARM_UP] = False  # the tracker's crop settles over the first frames of a clip
        on_bound = (np.abs(c.values - LOW[:N_FACE]) < 1e-7) | (np.abs(c.values - HIGH[:N_FACE]) < 1e-7)
        stuck = np.abs(r) < 1e-9  # a measurement pinned at a floor (closed lips read a gap of exactly 0)
        res.append(r)
        valid.append(v & ~on_bound & ~stuck)
    R, V = np.concatenate(res), np.concatenate(valid)
    std = np.array([_robust_std(R[V[:, j], j]) for j in range(N_FACE)])
    Z = R / np.maximum(std, 1e-9)
    out = V & (np.abs(Z) > _OUTLIER_SIGMAS)
    counts = V.sum(axis=0)
    rate = np.array([out[V[:, j], j].mean() if counts[j] else 0.0 for j in range(N_FACE)])
    few = counts < _MIN_SAMPLES  # too few frames to count rare events: take the typical field's rate
    rate[few] = np.median(rate[~few]) if (~few).any() else 0.0
    drop, spans = _dropouts(clips)
    clipped = np.clip(Z, -2 * _OUTLIER_SIGMAS, 2 * _OUTLIER_SIGMAS) * std  # gross jumps are outliers, not wander
    rms = np.array([np.sqrt(np.mean(clipped[V[:, j], j] ** 2)) if counts[j] else 0.0 for j in range(N_FACE)])
    return NoiseProfile(
        std=std,
        ac1=np.array([_ac1(res, valid, j) for j in range(N_FACE)]),
        outlier_rate=rate,
        wander=np.sqrt(np.maximum(rms**2 - std**2, 0.0)),
        correlation=_pairwise_correlation(R, V & ~out),
        outlier_scale=float(np.median(np.abs(Z[out]))) if out.any() else 2 * _OUTLIER_SIGMAS,
        dropout_rate=drop,
        dropout_mean_frames=spans,
        notes={"frames": int(sum(len(c.values) for c in clips)),
               "valid_frames": {n: int(k) for n, k in zip(FACE_FIELD_NAMES, V.sum(axis=0), strict=True)}},
    )


def _dropouts(clips: Sequence[Clip]) -> tuple[float, float]:
    """Tracker misses inside clips that have a face throughout: gaps between the first and last found face."""
    missed, frames, gaps = 0, 0, []
    for c in clips:
        idx = np.flatnonzero(c.present)
        if idx.size == 0:
            continue
        inner = ~c.present[idx[0] : idx[-1] + 1]
        frames += inner.size
        missed += int(inner.sum())
        gaps += [b - a for a, b in _runs(inner)]
    return (missed / frames if frames else 0.0), (float(np.mean(gaps)) if gaps else 1.0)


def spectrum_bands(clips: Sequence[Clip], bands: Sequence[float] = (0.0, 2.0, 5.0, 10.0, 15.0)) -> np.ndarray:
    """(len(bands)-1, N_FACE) share of noise power in each frequency band (Hz) of static clips."""
    power = np.zeros((len(bands) - 1, N_FACE))
    for c in clips:
        x = c.values[c.present] / SPAN
        if len(x) < 32:
            continue
        x = x - x.mean(axis=0)
        psd = np.abs(np.fft.rfft(x * np.hanning(len(x))[:, None], axis=0)) ** 2
        freqs = np.fft.rfftfreq(len(x), 1.0 / c.fps)
        for i in range(len(bands) - 1):
            power[i] += psd[(freqs >= bands[i]) & (freqs < bands[i + 1])].sum(axis=0)
    return power / np.maximum(power.sum(axis=0, keepdims=True), 1e-30)


# --- sampling --------------------------------------------------------------------------------------------


def sample_noise(profile: NoiseProfile, n: int, rng: np.random.Generator,
                 level: float | np.ndarray = 1.0) -> np.ndarray:
    """(n, N_FACE) noise in field-range units: correlated AR(1) Gaussian noise plus occasional outlier frames.

    `level` scales everything (0 = none), or each field when an (N_FACE,) array: the smoother is trained
    across levels so one model serves cameras noisier or cleaner than the measured one.
    """
    L = np.linalg.cholesky(profile.correlation + 1e-6 * np.eye(N_FACE))
    rho = np.clip(profile.ac1, -0.6, 0.95)
    drive = rng.standard_normal((n, N_FACE)) @ L.T * np.sqrt(1.0 - rho**2)
    out = np.empty((n, N_FACE))
    prev = rng.standard_normal(N_FACE) @ L.T
    for i in range(n):
        prev = rho * prev + drive[i]
        out[i] = prev
    spikes = rng.random((n, N_FACE)) < profile.outlier_rate
    out[spikes] += rng.laplace(0.0, profile.outlier_scale, int(spikes.sum()))
    return out * profile.std * level


def sample_dropouts(profile: NoiseProfile, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n,) bool, True where the tracker misses a frame although the face is there."""
    missed = np.zeros(n, dtype=bool)
    starts = np.flatnonzero(rng.random(n) < profile.dropout_rate / max(profile.dropout_mean_frames, 1.0))
    for s in starts:
        missed[s : s + 1 + int(rng.geometric(1.0 / max(profile.dropout_mean_frames, 1.0))) - 1] = True
    return missed
