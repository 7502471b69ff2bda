"""Expression state: trigger events in, eased expression weights out, through an explicit state machine."""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

import numpy as np

from avatar.errors import ConfigError
from avatar.expression.events import TriggerEvent, TriggerSource
from avatar.expression.rig import EXPRESSIONS, Expression


@dataclass(frozen=True)
class ExpressionConfig:
    """How expression switches behave."""

    transition_s: float = 0.25  # duration of the eased blend from one expression to the next
    hold_s: float = 0.0  # default hold after a trigger; 0 latches until the next trigger
    start: str = "neutral"  # expression shown before any trigger
    cooldown_s: float = 1.0  # after a switch, spoken triggers for another expression wait this long (typed
    #                          and hotkey triggers always apply): a stray word cannot flip the face back at once

    def __post_init__(self) -> None:
        if not 0.0 <= self.transition_s <= 5.0:
            raise ConfigError(f"expression.transition_s must be within 0..5 seconds, got {self.transition_s}")
        if self.hold_s < 0:
            raise ConfigError(f"expression.hold_s must be >= 0 (0 = latch), got {self.hold_s}")
        if not 0.0 <= self.cooldown_s <= 60.0:
            raise ConfigError(f"expression.cooldown_s must be within 0..60 seconds, got {self.cooldown_s}")
        Expression.parse(self.start)


class Phase(enum.Enum):
    """Where the state machine is (STYLE point 5)."""

    IDLE = "idle"  # no trigger holds an expression: the start expression (or the face's) shows
    ARMED = "armed"  # a trigger switched the target: easing into it, cool-down running
    ACTIVE = "active"  # fully in the triggered expression until its hold ends or another trigger comes
    RELEASING = "releasing"  # easing back to neutral (a hold ended, or a neutral trigger)


# Spoken words are guesses; keys and typed text are deliberate, so they are never held back by a cool-down.
_DEBOUNCED = frozenset({TriggerSource.VOICE})


def ease(x: float) -> float:
    """Smoothstep: monotone from 0 to 1 with zero slope at both ends, no overshoot."""
    x = min(1.0, max(0.0, x))
    return x * x * (3.0 - 2.0 * x)


def one_hot(expression: Expression) -> np.ndarray:
    w = np.zeros(len(EXPRESSIONS), dtype=np.float32)
    w[EXPRESSIONS.index(expression)] = 1.0
    return w


@dataclass(frozen=True)
class _State:
    start_weights: np.ndarray  # weights when the current transition began
    target: Expression
    t_switch: float
    duration: float  # of the current transition
    t_release: float | None  # when a timed hold returns to neutral
    last: TriggerEvent | None
    cooldown_until: float = -1e9


class ExpressionState:
    """Debounced expression switching: latch or timed hold, cool-down for spoken triggers, eased transitions."""

    def __init__(self, config: ExpressionConfig = ExpressionConfig()) -> None:
        self.config = config
        self.reset()

    def reset(self) -> None:
        start = Expression.parse(self.config.start)
        self._s = _State(one_hot(start), start, -1e9, self.config.transition_s, None, None)
        self.ignored = 0  # spoken triggers dropped by the cool-down, for logs and tests
        self._t = -1e9

    @property
    def target(self) -> Expression:
        return self._s.target

    @property
    def last_trigger(self) -> TriggerEvent | None:
        return self._s.last

    @property
    def phase(self) -> Phase:
        """The phase at the time of the last step."""
        return self.phase_at(self._t)

    def phase_at(self, t: float) -> Phase:
        s = self._s
        moving = t < s.t_switch + s.duration
        if s.target is Expression.NEUTRAL or s.last is None:
            return Phase.RELEASING if moving and s.last is not None else Phase.IDLE
        return Phase.ARMED if moving else Phase.ACTIVE

    def weights_at(self, t: float) -> np.ndarray:
        s = self._s
        k = 1.0 if s.duration <= 0 else ease((t - s.t_switch) / s.duration)
        return (s.start_weights + (one_hot(s.target) - s.start_weights) * k).astype(np.float32)

    def _switch(self, to: Expression, t: float, release: float | None, last: TriggerEvent | None,
                duration: float | None = None, cooldown_until: float = -1e9) -> None:
        dur = self.config.transition_s if duration is None else duration
        self._s = _State(self.weights_at(t), to, t, dur, release, last, cooldown_until)

    def _apply(self, ev: TriggerEvent) -> None:
        hold = ev.hold_s if ev.hold_s is not None else (self.config.hold_s or None)
        release = ev.t + hold if hold else None
        if ev.expression is self._s.target:  # the same request again: refresh the hold, keep the blend going
            self._s = replace(self._s, t_release=release, last=ev)
        elif ev.source in _DEBOUNCED and ev.t < self._s.cooldown_until:
            self.ignored += 1
        else:
            self._switch(ev.expression, ev.t, release, ev, ev.transition_s, ev.t + self.config.cooldown_s)

    def step(
        self, events: list[TriggerEvent], t: float, face: dict[Expression, float] | None = None
    ) -> dict[Expression, float]:
        """Apply the events that arrived up to `t`, then return the blend weights at `t`.

        `face` is the expression read from the user's face ("mirror" mode), if any: it shows while no
        trigger holds an expression other than neutral; a trigger always wins over it.
        """
        for ev in sorted(events, key=lambda e: e.t):
            self._apply(ev)
        s = self._s
        if s.t_release is not None and t >= s.t_release:
            self._switch(Expression.NEUTRAL, s.t_release, None, s.last, cooldown_until=s.cooldown_until)
        self._t = t
        w = self.weights_at(t)
        if face is not None and self._s.target is Expression.NEUTRAL:
            # The neutral share of the triggered blend follows the face; the triggered part stays.
            mirror = np.array([max(0.0, face.get(e, 0.0)) for e in EXPRESSIONS], dtype=np.float32)
            if mirror.sum() > 1e-6:
                k = w[EXPRESSIONS.index(Expression.NEUTRAL)]
                w = w + k * (mirror / mirror.sum() - one_hot(Expression.NEUTRAL))
        return {e: float(w[i]) for i, e in enumerate(EXPRESSIONS)}
