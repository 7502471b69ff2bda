"""Expression switches through expression state → mapper → GRU smoother: eased, on time, no overshoot."""

from __future__ import annotations

import numpy as np
import pytest

from avatar.expression.events import TriggerEvent, TriggerSource
from avatar.expression.mapper import Mapper
from avatar.expression.rig import N_FACE, Expression, FaceParams
from avatar.expression.state import ExpressionConfig, ExpressionState
from avatar.smoothing.smoother import Smoother, SmootherConfig, SmoothMethod
from avatar.smoothing.units import SPAN_FACE

FPS = 30.0


def chain(transition_s: float, triggers: dict[int, Expression], frames: int) -> dict[Expression, np.ndarray]:
    """Weights out of the smoother per frame, with a noisy still face going in."""
    state, mapper = ExpressionState(ExpressionConfig(transition_s=transition_s)), Mapper()
    smoother = Smoother(SmootherConfig())
    assert smoother.method is SmoothMethod.GRU
    rng = np.random.default_rng(0)
    out: dict[Expression, list[float]] = {e: [] for e in Expression}
    for i in range(frames):
        t = i / FPS
        face = FaceParams((rng.normal(0, 0.01, N_FACE) * SPAN_FACE).astype(np.float32))
        events = [TriggerEvent(triggers[i], t, TriggerSource.HOTKEY)] if i in triggers else []
        code = smoother.step(mapper.process(face, state.step(events, t)), t)
        for e, w in code.weights.items():
            out[e].append(w)
    return {e: np.array(v) for e, v in out.items()}


@pytest.mark.parametrize("transition_s", [0.15, 0.25, 0.5, 1.0])
def test_a_trigger_step_becomes_a_monotone_ease_of_the_requested_duration(transition_s: float) -> None:
    w = chain(transition_s, {30: Expression.HAPPY}, 30 + int(transition_s * FPS) + 30)[Expression.HAPPY]
    after = w[30:]
    assert np.all(w[:30] == 0.0)
    assert np.all(np.diff(after) >= -1e-6)  # monotone
    assert after.max() <= 1.0 + 1e-6  # no overshoot at all (the bar allows 5 %)
    reached = np.flatnonzero(after >= 0.99)[0] / FPS
    assert abs(reached - transition_s) <= 1.0 / FPS + 1e-9  # the requested duration, ± 1 frame
    assert 0.0 < after[1] < 0.2  # eased in: a gentle start, not a jump


def test_an_interrupted_switch_turns_smoothly_towards_the_new_expression() -> None:
    w = chain(0.5, {30: Expression.HAPPY, 38: Expression.SAD}, 90)
    sad, happy = w[Expression.SAD][38:], w[Expression.HAPPY][38:]
    assert np.all(np.diff(sad) >= -1e-6) and np.all(np.diff(happy) <= 1e-6)
    assert sad[-1] == pytest.approx(1.0) and happy[-1] == pytest.approx(0.0)
    total = sum(v for v in w.values())
    assert np.allclose(total, 1.0, atol=1e-5)
