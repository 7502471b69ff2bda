"""Without a calibration profile: learn the user's neutral face and ranges online from running medians."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from avatar.errors import ConfigError
from avatar.expression.rig import FaceParams
from avatar.tracking.base import BLENDSHAPE_NAMES, Landmarks
from avatar.tracking.calibration import DEFAULT_BLENDSHAPES, Calibration
from avatar.tracking.measure import MEASUREMENTS, measure

# Resting is not the middle of everything: blinks and speech are brief departures to one side (eyes shut, mouth
# open), so those neutrals sit at a lower quantile of their closing measure; everything else uses the median.
_QUANTILES = {"eye_open_left": 0.65, "eye_open_right": 0.65, "mouth_open": 0.35}
_BLEND_QUANTILES = {"eyeBlinkLeft": 0.35, "eyeBlinkRight": 0.35, "jawOpen": 0.35}
_Q = np.array([_QUANTILES.get(name, 0.5) for name in MEASUREMENTS])
_BQ = np.array([_BLEND_QUANTILES.get(name, 0.5) for name in BLENDSHAPE_NAMES])

# Fields whose range adapts: the ones people use with very different strength. Blinks have a physical range
# and brow furrow / funnel are too rare to learn from a few seconds.
ADAPTIVE_FIELDS: tuple[str, ...] = ("jaw_open", "mouth_smile", "brow_raise_left", "brow_raise_right", "gaze_x")
# A face reading strongly on any of these (once a neutral is known) is making an expression, not resting.
_GATE_FIELDS: tuple[str, ...] = ("jaw_open", "mouth_smile", "mouth_funnel", "brow_raise_left", "brow_raise_right",
                                 "brow_furrow", "eye_blink_left", "eye_blink_right")


@dataclass(frozen=True)
class NormaliserConfig:
    """How the online neutral and ranges are learnt."""

    window_s: float = 30.0  # the neutral is the median of this much recent face time
    sample_hz: float = 10.0  # samples kept per second once warmed up (every frame before that)
    warmup_samples: int = 12  # the first neutral comes after this many frames with a face (~0.4 s at 30 fps)
    update_s: float = 0.5  # how often the neutral and ranges are recomputed
    adapt_ranges: bool = True  # False: neutral only, the solver's default ranges
    range_evidence: float = 0.35  # a field must have moved this far (rig units) before its range adapts
    gain_limits: tuple[float, float] = (0.7, 1.4)  # how much an adapted range may shrink or stretch the field
    expressive: float = 0.5  # a reading this far from neutral (rig units) on any field is an expression...
    expressive_keep: int = 4  # ...and only one in this many such samples counts towards the neutral

    def __post_init__(self) -> None:
        checks = {"window_s": self.window_s, "sample_hz": self.sample_hz, "update_s": self.update_s,
                  "range_evidence": self.range_evidence}
        for name, value in checks.items():
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise ConfigError(f"normaliser {name} must be a number > 0, got {value!r}")
        if not isinstance(self.expressive_keep, int) or self.expressive_keep < 1:
            raise ConfigError(f"normaliser expressive_keep must be an integer >= 1, got {self.expressive_keep!r}")
        if not isinstance(self.warmup_samples, int) or self.warmup_samples < 1:
            raise ConfigError(f"normaliser warmup_samples must be an integer >= 1, got {self.warmup_samples!r}")
        low, high = self.gain_limits
        if not 0 < low <= 1 <= high:
            raise ConfigError(f"normaliser gain_limits must be (low <= 1, high >= 1), got {self.gain_limits!r}")


class OnlineNormaliser:
    """A stage: `step(lm, raw, t)` takes each tracked face and returns the calibration to solve the next with.

    The neutral is the running median of every measurement (and blendshape score) over the last `window_s`
    seconds (a lower quantile for blinks and mouth opening): people rest their face most of the time, so that
    is their neutral, wherever they sit and however their face is shaped. `raw` is the solver's reading before
    per-user gains: a field whose spread shows the user moves it much less (or more) than the default range
    gets a gain, within `gain_limits`. Once a neutral is known, samples that read as a strong expression count
    for the neutral only one time in `expressive_keep`: a long grin does not become the new neutral, yet a
    neutral learnt during an expression still corrects itself.
    """

    def __init__(self, config: NormaliserConfig | None = None, tracker: str = "") -> None:
        self.config = config if config is not None else NormaliserConfig()
        self.tracker = tracker
        self.reset()

    def reset(self) -> None:
        self._rows: deque[tuple[float, np.ndarray, np.ndarray | None]] = deque()  # (t, measurements, blend)
        self._fields: deque[tuple[float, np.ndarray]] = deque()  # (t, ADAPTIVE_FIELDS readings): every sample
        self._expressive = 0  # expressive samples seen, for keeping one in expressive_keep
        self._t_sample = -math.inf
        self._t_update = -math.inf
        self.calibration: Calibration | None = None  # None until warmed up: use the default meanwhile

    @property
    def samples(self) -> int:
        return len(self._rows)

    def step(self, lm: Landmarks, raw: FaceParams, t: float) -> Calibration | None:
        """Record this face (when a sample is due) and return the current learnt calibration, or None yet."""
        k = self.config
        if len(self._rows) < k.warmup_samples or t - self._t_sample >= 1.0 / k.sample_hz:
            self._t_sample = t
            self._fields.append((t, np.array([raw[name] for name in ADAPTIVE_FIELDS], dtype=np.float64)))
            if self._counts_for_neutral(raw):
                m = measure(lm)
                self._rows.append((t, np.array([m[name] for name in MEASUREMENTS], dtype=np.float64), lm.blendshapes))
            for rows in (self._rows, self._fields):
                while rows and rows[0][0] < t - k.window_s:
                    rows.popleft()
        if len(self._rows) >= k.warmup_samples and t - self._t_update >= k.update_s:
            self._t_update = t
            self.calibration = self._learn()
        return self.calibration

    def _counts_for_neutral(self, raw: FaceParams) -> bool:
        if self.calibration is None or max(abs(raw[f]) for f in _GATE_FIELDS) <= self.config.expressive:
            return True
        self._expressive += 1
        return self._expressive % self.config.expressive_keep == 0

    def _learn(self) -> Calibration:
        rows = np.array([r[1] for r in self._rows])  # (n, len(MEASUREMENTS))
        neutral = _quantiles(rows, _Q)
        shapes = [r[2] for r in self._rows if r[2] is not None]
        blend = tuple(float(v) for v in _quantiles(np.array(shapes), _BQ)) if shapes else DEFAULT_BLENDSHAPES
        values: dict[str, Any] = dict(zip(MEASUREMENTS, (float(v) for v in neutral), strict=True))
        try:
            cal = Calibration(**values, blendshapes=blend, tracker=self.tracker)
        except ConfigError:  # an implausible stretch (a face half out of frame): keep what we had
            return self.calibration if self.calibration is not None else Calibration.default()
        return cal.with_gains(self._gains()) if self.config.adapt_ranges else cal

    def _gains(self) -> dict[str, float]:
        """Per-field gains from how far each field has strayed from its median (95th percentile)."""
        fields = np.array([r[1] for r in self._fields])  # (n, len(ADAPTIVE_FIELDS))
        spread = np.percentile(np.abs(fields - np.median(fields, axis=0)), 95, axis=0)
        low, high = self.config.gain_limits
        gains = {}
        for name, s in zip(ADAPTIVE_FIELDS, spread, strict=True):
            if s >= self.config.range_evidence:
                gains[name] = float(min(high, max(low, 0.9 / s)))
        return gains



def _quantiles(rows: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Column j's quantile q[j] of (n, k) rows."""
    ordered = np.sort(rows, axis=0)
    pos = q * (len(rows) - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, len(rows) - 1)
    cols = np.arange(rows.shape[1])
    return ordered[lo, cols] + (pos - lo) * (ordered[hi, cols] - ordered[lo, cols])
