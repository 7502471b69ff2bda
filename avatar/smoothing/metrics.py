"""How well a smoother did against the truth: jitter when still, lag, error, blink amplitude kept.

All inputs are (T, F) arrays in field-range units (value / (high − low)) with per-frame timestamps; the
numbers are pooled over fields so the smoother and its baselines are compared on the same footing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from avatar.expression.rig import FIELD_INDEX

BLINK_FIELDS = (FIELD_INDEX["eye_blink_left"], FIELD_INDEX["eye_blink_right"])
_STILL_SPEED = 0.02  # field ranges per second: the truth moves slower than this on a "still stretch"
_MOVING_STD = 0.02  # a field must move at least this much (std, field ranges) to measure its lag
_MAX_LAG = 8  # frames searched either side for the cross-correlation peak


@dataclass(frozen=True)
class Scores:
    """One smoother's numbers on a set of clips."""

    jitter: float  # RMS second difference on still stretches, field ranges per frame²
    lag_ms: float  # median cross-correlation lag against the truth (+ = behind)
    rmse: float  # RMS error against the truth over frames with a face
    blink_kept: float  # mean share of each blink's amplitude the output keeps (1 = all)

    def to_dict(self) -> dict[str, float]:
        return {"jitter": round(self.jitter, 7), "lag_ms": round(self.lag_ms, 2), "rmse": round(self.rmse, 6),
                "blink_kept": round(self.blink_kept, 4)}


def still_mask(truth: np.ndarray, t: np.ndarray) -> np.ndarray:
    """(T, F) True where the truth barely moves at that frame and its two neighbours."""
    dt = np.maximum(np.diff(t), 1e-6)[:, None]
    slow = np.abs(np.diff(truth, axis=0)) / dt < _STILL_SPEED  # (T-1, F) between frames i and i+1
    mask = np.zeros(truth.shape, dtype=bool)
    mask[1:-1] = slow[:-1] & slow[1:]
    return mask


def second_differences(y: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Values of y[i-1] − 2 y[i] + y[i+1] where mask[i] holds."""
    d2 = np.zeros_like(y)
    d2[1:-1] = y[:-2] - 2.0 * y[1:-1] + y[2:]
    return d2[mask]


def lag_frames(y: np.ndarray, truth: np.ndarray) -> float | None:
    """Delay of y behind truth in frames: the peak of the cross-correlation of their frame-to-frame changes.

    Changes rather than values make the peak sharp (a slow signal correlates with itself over many
    frames); a parabola through the peak and its neighbours gives a fraction of a frame.
    """
    a, b = np.diff(y), np.diff(truth)
    a, b = a - a.mean(), b - b.mean()
    if np.std(b) < 1e-9 or np.std(a) < 1e-9:
        return None
    n = len(a)
    lags = np.arange(-_MAX_LAG, _MAX_LAG + 1)
    cc = np.array([np.dot(a[max(k, 0) : n + min(k, 0)], b[max(-k, 0) : n - max(k, 0)]) for k in lags])
    i = int(np.argmax(cc))
    if 0 < i < len(cc) - 1:
        den = cc[i - 1] - 2 * cc[i] + cc[i + 1]
        frac = 0.5 * (cc[i - 1] - cc[i + 1]) / den if den < 0 else 0.0
        return float(lags[i] + frac)
    return float(lags[i])


def blink_ratios(y: np.ndarray, reference: np.ndarray, t: np.ndarray) -> list[float]:
    """Output amplitude / reference amplitude for each blink in the reference's eye fields."""
    fps = (len(t) - 1) / max(t[-1] - t[0], 1e-6)
    before, after = max(2, int(0.25 * fps)), max(2, int(0.2 * fps))
    ratios = []
    for j in BLINK_FIELDS:
        r, o = reference[:, j], y[:, j]
        i = before
        while i < len(r) - after:
            base = r[i - before : i].min()
            if r[i] - base >= 0.4 and r[i] >= r[i - 1] and r[i] >= r[i + 1]:
                peak = int(i + np.argmax(r[i : i + after]))
                out = o[peak - 2 : peak + after].max() - o[peak - before : peak].min()
                ratios.append(float(out / (r[peak] - base)))
                i = peak + after
            i += 1
    return ratios


def score(outputs: Sequence[np.ndarray], truths: Sequence[np.ndarray], times: Sequence[np.ndarray],
          present: Sequence[np.ndarray] | None = None,
          blink_refs: Sequence[np.ndarray] | None = None, still: Sequence[np.ndarray] | None = None) -> Scores:
    """Pool the numbers over clips. `blink_refs` defaults to the truths (real videos pass the raw tracking);
    `still` (T, F) masks, where jitter is measured, default to where the truths are still (with a face)."""
    d2, err, lags, blinks = [], [], [], []
    for k, (y, c, t) in enumerate(zip(outputs, truths, times, strict=True)):
        p = np.ones(len(t), dtype=bool) if present is None else present[k]
        d2.append(second_differences(y, still_mask(c, t) & p[:, None] if still is None else still[k]))
        err.append((y - c)[p].ravel())
        fps = (len(t) - 1) / max(t[-1] - t[0], 1e-6)
        for j in range(c.shape[1]):
            if p.mean() > 0.97 and np.std(c[:, j]) > _MOVING_STD:  # no face-lost span in the way
                lag = lag_frames(y[:, j], c[:, j])
                if lag is not None:
                    lags.append(1000.0 * lag / fps)
        blinks += blink_ratios(y, c if blink_refs is None else blink_refs[k], t)
    all_d2, all_err = np.concatenate(d2), np.concatenate(err)
    return Scores(
        jitter=float(np.sqrt(np.mean(all_d2**2))) if all_d2.size else float("nan"),
        lag_ms=float(np.median(lags)) if lags else float("nan"),
        rmse=float(np.sqrt(np.mean(all_err**2))) if all_err.size else float("nan"),
        blink_kept=float(np.mean(blinks)) if blinks else float("nan"),
    )
