"""One Euro filter (Casiez et al., CHI 2012): a speed-adaptive low-pass, vectorised over fields."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from avatar.errors import ConfigError


@dataclass(frozen=True)
class OneEuroConfig:
    """The filter's three knobs, as in the paper."""

    min_cutoff: float = 1.0  # Hz; lower = less jitter when still, more lag
    beta: float = 0.1  # speed coefficient; higher = less lag when moving
    d_cutoff: float = 1.0  # Hz; cut-off of the derivative estimate

    def __post_init__(self) -> None:
        for name in ("min_cutoff", "d_cutoff"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"one_euro.{name} must be > 0 Hz, got {getattr(self, name)}")
        if self.beta < 0:
            raise ConfigError(f"one_euro.beta must be >= 0, got {self.beta}")


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2.0 * math.pi * np.asarray(cutoff))
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """`step(x, t) -> x_hat` with the time passed in; a repeated or backwards timestamp holds the output."""

    def __init__(self, config: OneEuroConfig = OneEuroConfig()) -> None:
        self.config = config
        self.reset()

    def reset(self) -> None:
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t: float | None = None

    def step(self, x: np.ndarray, t: float) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self._x is None or self._t is None or self._dx is None:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), t
            return x.copy()
        dt = t - self._t
        if dt <= 0:
            return self._x.copy()
        c = self.config
        dx = (x - self._x) / dt  # from the previous *filtered* value, as the authors' reference does
        a_d = _alpha(c.d_cutoff, dt)
        self._dx = self._dx + a_d * (dx - self._dx)
        a = _alpha(c.min_cutoff + c.beta * np.abs(self._dx), dt)
        self._x = self._x + a * (x - self._x)
        self._t = t
        return self._x.copy()
