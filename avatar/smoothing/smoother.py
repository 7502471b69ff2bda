"""The smoother stage: removes tracker jitter from the face fields of each RigCode (GRU, One Euro or none)."""

from __future__ import annotations

import enum
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avatar.errors import ConfigError, ModelError
from avatar.expression.rig import HIGH, LOW, N_FACE, RigCode
from avatar.runtime.manifest import SHIPPED_ENGINES
from avatar.smoothing.gru import BACKENDS, GruFilter, GruState, GruStep, load_gru
from avatar.smoothing.one_euro import OneEuroConfig, OneEuroFilter
from avatar.smoothing.units import REST_FACE

log = logging.getLogger(__name__)

MAX_STRENGTH = 3.0  # the GRU was trained on noise up to 3× the measured webcam noise


class SmoothMethod(enum.Enum):
    GRU = "gru"
    ONE_EURO = "one-euro"
    NONE = "none"


@dataclass(frozen=True)
class SmootherConfig:
    """Which filter smooths the face fields, and how hard."""

    method: str = "gru"  # gru (the trained recurrent smoother) | one-euro | none
    # 0 = off .. 3. gru: how noisy to take the tracking to be, as a multiple of a webcam measured in room
    # light (2 for a dark room or a poor camera); one-euro: divides min_cutoff.
    strength: float = 1.0
    # one-euro: the grid search of benchmarks/smoother.py found 0.75 Hz / 15 about halves the lag of the old
    # 1.5 / 4 on synthetic clips and the fixture videos alike, and keeps blinks (95 % against 87 % on video)
    min_cutoff: float = 0.75  # one-euro: Hz, in field-range units: lower = steadier when still
    beta: float = 15.0  # one-euro: higher = follows fast moves (blinks, head turns) with less lag
    d_cutoff: float = 1.0  # one-euro: Hz, the derivative's cut-off
    engines: str = ""  # folder holding manifest.json and the GRU model; empty = EmoteBot's own engines/
    runtime: str = "numpy"  # gru back end: numpy (0.14 ms a frame in the threaded pipeline) | onnxruntime (0.32)

    def __post_init__(self) -> None:
        try:
            SmoothMethod(self.method)
        except ValueError:
            allowed = ", ".join(m.value for m in SmoothMethod)
            raise ConfigError(f"smoother.method must be one of {allowed}; got {self.method!r}") from None
        if not (isinstance(self.strength, int | float) and 0.0 <= self.strength <= MAX_STRENGTH):
            raise ConfigError(f"smoother.strength must be within 0..{MAX_STRENGTH:g}, got {self.strength!r}")
        OneEuroConfig(self.min_cutoff, self.beta, self.d_cutoff)
        if self.runtime not in BACKENDS:
            raise ConfigError(f"smoother.runtime must be one of {', '.join(BACKENDS)}; got {self.runtime!r}")

    @property
    def engines_dir(self) -> Path:
        return Path(self.engines).expanduser() if self.engines else SHIPPED_ENGINES


_SPAN = (HIGH - LOW)[:N_FACE].astype(np.float64)


class Smoother:
    """`step(code, t, face=True) -> code`; expression weights pass untouched (the expression state eases them).

    A missing or corrupt GRU model falls back to One Euro with one warning. Non-finite fields hold their
    last value; a repeated or backwards timestamp holds the output; while `face` is False the output holds.
    """

    def __init__(self, config: SmootherConfig = SmootherConfig(), model: GruStep | None = None) -> None:
        self.config = config
        self.method = SmoothMethod(config.method)
        self.fallback: str | None = None  # why the GRU is not used, when it was asked for and is not
        self._gru: GruFilter | None = None
        if self.method is SmoothMethod.GRU:
            try:
                self._gru = GruFilter(model or load_gru(config.engines_dir, config.runtime), config.strength)
            except ModelError as e:
                self.fallback = str(e)
                self.method = SmoothMethod.ONE_EURO
                log.warning("GRU smoother unavailable, smoothing with One Euro instead: %s", e)
        cutoff = config.min_cutoff / max(config.strength, 1e-3)
        self._euro = OneEuroFilter(OneEuroConfig(cutoff, config.beta, config.d_cutoff))
        self._warned_nan = False
        self.reset()

    def reset(self) -> None:
        self._euro.reset()
        self._state: GruState | None = self._gru.initial() if self._gru is not None else None
        self._last: np.ndarray | None = None  # last output's face fields

    def step(self, code: RigCode, t: float, face: bool = True) -> RigCode:
        if self.method is SmoothMethod.NONE or self.config.strength <= 0:
            return code
        v = code.values.copy()
        x = v[:N_FACE].astype(np.float64)
        if not np.isfinite(x).all() and not self._warned_nan:
            self._warned_nan = True
            log.warning("the smoother got non-finite face fields; holding their last values (logged once)")
        if self._gru is not None and self._state is not None:
            self._state, y = self._gru.step(self._state, x, t, face)
        else:
            y = self._euro_step(x, t, face)
        self._last = y
        v[:N_FACE] = y.astype(np.float32)
        return RigCode(v)

    def _euro_step(self, x: np.ndarray, t: float, face: bool) -> np.ndarray:
        held = self._last if self._last is not None else np.where(np.isfinite(x), x, REST_FACE)
        if not face or not math.isfinite(t):
            return held.copy()
        x = np.where(np.isfinite(x), x, held)
        # Filter in units of each field's range so one set of knobs suits degrees and 0..1 fields alike.
        return self._euro.step(x / _SPAN, t) * _SPAN
