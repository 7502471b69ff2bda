"""The smoother stage: removes tracker jitter from the face fields of each RigCode."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

from avatar.errors import ConfigError
from avatar.expression.rig import HIGH, LOW, N_FACE, RigCode
from avatar.smoothing.one_euro import OneEuroConfig, OneEuroFilter


class SmoothMethod(enum.Enum):
    ONE_EURO = "one-euro"
    NONE = "none"


@dataclass(frozen=True)
class SmootherConfig:
    """Which filter smooths the face fields, and how hard."""

    method: str = "one-euro"  # one-euro | none
    min_cutoff: float = 1.5  # Hz, in field-range units: lower = steadier when still
    beta: float = 4.0  # higher = follows fast moves (blinks, head turns) with less lag
    d_cutoff: float = 1.0  # Hz, the derivative's cut-off

    def __post_init__(self) -> None:
        try:
            SmoothMethod(self.method)
        except ValueError:
            allowed = ", ".join(m.value for m in SmoothMethod)
            raise ConfigError(f"smoother.method must be one of {allowed}; got {self.method!r}") from None
        OneEuroConfig(self.min_cutoff, self.beta, self.d_cutoff)


_SPAN = (HIGH - LOW)[:N_FACE]


class Smoother:
    """`step(code, t) -> code`; expression weights pass untouched (the expression state eases them)."""

    def __init__(self, config: SmootherConfig = SmootherConfig()) -> None:
        self.config = config
        self.method = SmoothMethod(config.method)
        self._filter = OneEuroFilter(OneEuroConfig(config.min_cutoff, config.beta, config.d_cutoff))

    def reset(self) -> None:
        self._filter.reset()

    def step(self, code: RigCode, t: float) -> RigCode:
        if self.method is SmoothMethod.NONE:
            return code
        v = code.values.copy()
        # Filter in units of each field's range so one set of knobs suits degrees and 0..1 fields alike.
        v[:N_FACE] = (self._filter.step(v[:N_FACE] / _SPAN, t) * _SPAN).astype(np.float32)
        return RigCode(v)
