"""The expression state machine: phases, cool-down for spoken triggers, requested transition times."""

from __future__ import annotations

import pytest

from avatar.errors import ConfigError
from avatar.expression.events import TriggerEvent, TriggerSource
from avatar.expression.rig import Expression
from avatar.expression.state import ExpressionConfig, ExpressionState, Phase

HAPPY, SAD, NEUTRAL = Expression.HAPPY, Expression.SAD, Expression.NEUTRAL


def said(expr: Expression, t: float, hold: float | None = None) -> TriggerEvent:
    return TriggerEvent(expr, t, TriggerSource.VOICE, expr.value, hold)


def key(expr: Expression, t: float) -> TriggerEvent:
    return TriggerEvent(expr, t, TriggerSource.HOTKEY, expr.value)


def test_phases_go_idle_armed_active_releasing_idle():
    state = ExpressionState(ExpressionConfig(transition_s=0.2))
    state.step([], 0.0)
    assert state.phase is Phase.IDLE
    state.step([said(HAPPY, 1.0, hold=1.0)], 1.1)
    assert state.phase is Phase.ARMED
    state.step([], 1.5)
    assert state.phase is Phase.ACTIVE
    w = state.step([], 2.1)  # the hold ended at 2.0: easing back
    assert state.phase is Phase.RELEASING and 0.0 < w[HAPPY] < 1.0
    assert state.step([], 2.3)[NEUTRAL] == pytest.approx(1.0)
    assert state.phase is Phase.IDLE


def test_cool_down_drops_a_second_spoken_word_but_never_a_key():
    state = ExpressionState(ExpressionConfig(transition_s=0.0, cooldown_s=1.0))
    state.step([said(HAPPY, 0.0)], 0.0)
    w = state.step([said(SAD, 0.5)], 0.5)
    assert w[HAPPY] == 1.0 and state.ignored == 1
    assert state.step([said(SAD, 1.2)], 1.2)[SAD] == 1.0  # after the cool-down it applies
    assert state.step([key(HAPPY, 1.3)], 1.3)[HAPPY] == 1.0  # a hotkey is deliberate: no cool-down


def test_a_spoken_word_cannot_override_a_fresh_hotkey_but_repeating_refreshes_the_hold():
    state = ExpressionState(ExpressionConfig(transition_s=0.0, cooldown_s=2.0))
    state.step([key(SAD, 0.0)], 0.0)
    assert state.step([said(HAPPY, 1.0)], 1.0)[SAD] == 1.0
    state.step([said(SAD, 1.5, hold=1.0)], 1.5)  # same expression: hold refreshed even in the cool-down
    assert state.step([], 2.4)[SAD] == 1.0
    assert state.step([], 2.6)[NEUTRAL] == 1.0


def test_an_event_can_request_its_own_transition_time():
    state = ExpressionState(ExpressionConfig(transition_s=1.0))
    fast = TriggerEvent(HAPPY, 0.0, TriggerSource.TYPED, "happy", transition_s=0.1)
    state.step([fast], 0.0)
    assert state.step([], 0.05)[HAPPY] == pytest.approx(0.5, abs=0.01)
    assert state.step([], 0.1)[HAPPY] == pytest.approx(1.0)


def test_the_transition_starts_at_the_event_time_not_the_frame_time():
    state = ExpressionState(ExpressionConfig(transition_s=0.2))
    w = state.step([said(HAPPY, 0.9)], 1.0)  # the word was heard 0.1 s before this frame
    assert w[HAPPY] == pytest.approx(0.5, abs=0.01)


def test_cooldown_is_validated():
    with pytest.raises(ConfigError, match="cooldown_s"):
        ExpressionConfig(cooldown_s=-1.0)
