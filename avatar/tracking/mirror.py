"""Expression read from the face ("mirror" mode): FACS-style cues to neutral/happy/sad/surprised/angry weights."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from avatar.errors import ConfigError
from avatar.expression.rig import EXPRESSIONS, Expression
from avatar.tracking.cues import FaceCues


@dataclass(frozen=True)
class MirrorConfig:
    """Expression read from the user's face; triggers (hotkeys, spoken words) always override it."""

    enabled: bool = False  # true: EmoteBot's expression follows the user's face while no trigger holds one
    onset: float = 0.25  # an expression's evidence (0..1) below this shows nothing of it
    full: float = 0.6  # evidence at which it fully replaces neutral
    ease_s: float = 0.2  # time constant of the eased weights: single-frame flickers do not show

    def __post_init__(self) -> None:
        if not isinstance(self.enabled, bool):
            raise ConfigError(f"face_expression.enabled must be true or false, got {self.enabled!r}")
        for name in ("onset", "full"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or not 0 <= value <= 1:
                raise ConfigError(f"face_expression.{name} must be a number from 0 to 1, got {value!r}")
        if not isinstance(self.ease_s, (int, float)) or not 0 <= self.ease_s <= 5:
            raise ConfigError(f"face_expression.ease_s must be a number of seconds from 0 to 5, got {self.ease_s!r}")
        if self.full <= self.onset:
            raise ConfigError(f"face_expression.full ({self.full}) must be above face_expression.onset ({self.onset})")


def evidence(c: FaceCues) -> dict[Expression, float]:
    """How strongly the cues match each expression's FACS prototype, 0..1 (not yet weights).

    happy: lip corners up (AU12), more so with raised cheeks (AU6). surprised: brows up (AU1+2) together with
    wide eyes (AU5) or a dropped jaw (AU26). sad: corners down (AU15) with inner brows up (AU1) or lowered
    (AU4, as in crying). angry: brows lowered and drawn together (AU4) with tightened lids (AU7) or pressed
    lips (AU24). A smile rules out sad, angry and surprised (raised brows and an open mouth in a laugh are
    happy); lowered brows rule out surprise.
    """
    brows_up = max(c.inner_brow_raise, c.outer_brow_raise)
    smile = c.lip_corner_pull
    happy = min(1.0, smile * (0.85 + 0.3 * c.cheek_raise))
    surprised = math.sqrt(brows_up * max(c.upper_lid_raise, c.jaw_drop)) * (1.0 - c.brow_lower) * (1.0 - smile)
    sad = c.lip_corner_depress * (0.7 + 0.3 * max(c.inner_brow_raise, c.brow_lower)) * (1.0 - smile)
    angry = c.brow_lower * (0.55 + 0.45 * max(c.lid_tighten, c.lip_press)) * (1.0 - smile)
    return {Expression.HAPPY: happy, Expression.SAD: sad, Expression.SURPRISED: surprised, Expression.ANGRY: angry}


class ExpressionReader:
    """A pure stage: `process(cues)` returns expression weights (every Expression, summing to 1)."""

    def __init__(self, config: MirrorConfig | None = None) -> None:
        self.config = config if config is not None else MirrorConfig()

    def process(self, cues: FaceCues) -> dict[Expression, float]:
        k = self.config
        strength = {
            e: min(1.0, max(0.0, (v - k.onset) / (k.full - k.onset))) for e, v in evidence(cues).items()
        }
        strength[Expression.NEUTRAL] = 1.0 - max(strength.values())
        total = sum(strength.values())
        return {e: strength[e] / total for e in EXPRESSIONS}


def strongest(weights: dict[Expression, float]) -> Expression:
    """The expression with the largest weight (neutral wins ties)."""
    return max(EXPRESSIONS, key=lambda e: (weights.get(e, 0.0), e is Expression.NEUTRAL))


class MirrorSmoother:
    """A stage: eases the face's expression weights over time; `step` returns None while mirroring is off.

    The per-frame reading jumps when a cue crosses a threshold; an exponential ease (time constant `ease_s`,
    time passed in) keeps EmoteBot from flickering, and eases back to neutral while no face is seen.
    """

    def __init__(self, config: MirrorConfig | None = None) -> None:
        self.config = config if config is not None else MirrorConfig()
        self.reset()

    def reset(self) -> None:
        self._w = np.array([1.0 if e is Expression.NEUTRAL else 0.0 for e in EXPRESSIONS])
        self._t: float | None = None

    def step(self, weights: dict[Expression, float] | None, t: float) -> dict[Expression, float] | None:
        if not self.config.enabled:
            return None
        target = np.array([1.0 if e is Expression.NEUTRAL else 0.0 for e in EXPRESSIONS])
        if weights is not None:
            target = np.array([weights.get(e, 0.0) for e in EXPRESSIONS])
        dt = 0.0 if self._t is None else min(max(t - self._t, 0.0), 1.0)
        self._t = t
        k = 1.0 if self.config.ease_s <= 0 else 1.0 - math.exp(-dt / self.config.ease_s)
        self._w = self._w + k * (target - self._w)
        return {e: float(v) for e, v in zip(EXPRESSIONS, self._w / self._w.sum(), strict=True)}
