"""Rig contract, expression state machine and mapper, on plain values."""

from __future__ import annotations

import numpy as np
import pytest

from avatar.errors import ConfigError, RigError
from avatar.expression.events import TriggerEvent, TriggerSource
from avatar.expression.mapper import Mapper, MapperConfig
from avatar.expression.rig import FIELD_NAMES, N_FIELDS, Expression, FaceParams, RigCode, parse_code
from avatar.expression.state import ExpressionConfig, ExpressionState


def test_rig_code_clamps_and_reports_out_of_range_and_nan():
    code, report = parse_code({"head_yaw": 90.0, "jaw_open": float("nan"), "happy": 2.0})
    assert code["head_yaw"] == 45.0 and code["jaw_open"] == 0.0
    assert code["happy"] == pytest.approx(1.0) and code["neutral"] == 0.0
    assert "head_yaw" in report and "jaw_open" in report


def test_rig_code_refuses_unknown_fields_listing_valid_ones():
    with pytest.raises(RigError) as e:
        RigCode.from_dict({"smile": 1.0})
    assert "smile" in str(e.value) and "mouth_smile" in str(e.value)


def test_weights_always_sum_to_one():
    code = RigCode.rest().replace(neutral=0.0, happy=0.9, sad=0.3)
    assert code.values.shape == (N_FIELDS,)
    assert sum(code.weights.values()) == pytest.approx(1.0)
    assert code.dominant is Expression.HAPPY and code["happy"] == pytest.approx(0.75)
    assert set(code.to_dict()) == set(FIELD_NAMES)


def ev(expr: Expression, t: float, hold: float | None = None) -> TriggerEvent:
    return TriggerEvent(expr, t, TriggerSource.TYPED, expr.value, hold)


def test_switch_is_a_monotone_eased_transition_of_the_set_duration():
    state = ExpressionState(ExpressionConfig(transition_s=0.3))
    state.step([ev(Expression.HAPPY, 1.0)], 1.0)
    ts = np.arange(1.0, 1.5, 1 / 60)
    happy = [state.step([], t)[Expression.HAPPY] for t in ts]
    assert happy[0] == pytest.approx(0.0)
    assert np.all(np.diff(happy) >= -1e-9) and max(happy) <= 1.0 + 1e-6
    assert state.step([], 1.3)[Expression.HAPPY] == pytest.approx(1.0)
    assert state.step([], 1.15)[Expression.HAPPY] == pytest.approx(0.5, abs=0.01)


def test_timed_hold_returns_to_neutral_and_latch_stays():
    state = ExpressionState(ExpressionConfig(transition_s=0.0))
    state.step([ev(Expression.SAD, 0.0, hold=2.0)], 0.0)
    assert state.step([], 1.9)[Expression.SAD] == 1.0
    assert state.step([], 2.1)[Expression.NEUTRAL] == 1.0
    state.step([ev(Expression.ANGRY, 3.0)], 3.0)
    assert state.step([], 100.0)[Expression.ANGRY] == 1.0


def test_switch_mid_transition_starts_from_the_current_blend():
    state = ExpressionState(ExpressionConfig(transition_s=1.0))
    state.step([ev(Expression.HAPPY, 0.0)], 0.0)
    mid = state.step([], 0.5)
    after = state.step([ev(Expression.SAD, 0.5)], 0.5)
    assert after[Expression.HAPPY] == pytest.approx(mid[Expression.HAPPY])


def test_config_errors_name_the_field():
    with pytest.raises(ConfigError, match="transition_s"):
        ExpressionConfig(transition_s=-1)
    with pytest.raises(RigError, match="allowed"):
        ExpressionConfig(start="bored")


def test_mapper_gain_position_lock_and_mirror():
    face = FaceParams.from_dict({"head_yaw": 10.0, "head_x": 0.3, "eye_blink_left": 1.0})
    w = {Expression.HAPPY: 1.0}
    assert Mapper(MapperConfig(gain=2.0)).process(face, w)["head_yaw"] == pytest.approx(20.0)
    assert Mapper(MapperConfig(follow_head_position=False)).process(face, w)["head_x"] == 0.0
    mirrored = Mapper(MapperConfig(mirror=True)).process(face, w)
    assert mirrored["head_yaw"] == pytest.approx(-10.0)
    assert mirrored["eye_blink_right"] == 1.0 and mirrored["eye_blink_left"] == 0.0
    assert mirrored["happy"] == pytest.approx(1.0)


def test_face_expression_shows_until_a_trigger_overrides_it():
    state = ExpressionState(ExpressionConfig(transition_s=0.0))
    face = {Expression.HAPPY: 0.7, Expression.NEUTRAL: 0.3}
    w = state.step([], 0.0, face)
    assert w[Expression.HAPPY] == pytest.approx(0.7) and sum(w.values()) == pytest.approx(1.0)
    w = state.step([ev(Expression.ANGRY, 1.0)], 1.0, face)
    assert w[Expression.ANGRY] == pytest.approx(1.0) and w[Expression.HAPPY] == 0.0
    w = state.step([ev(Expression.NEUTRAL, 2.0)], 2.0, face)
    assert w[Expression.HAPPY] == pytest.approx(0.7)
