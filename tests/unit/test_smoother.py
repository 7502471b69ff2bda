"""The smoother stage with the shipped GRU: jitter, following, strength, bad input and the One Euro fallback."""

from __future__ import annotations

import logging
import shutil

import numpy as np
import pytest

from avatar.errors import ConfigError
from avatar.expression.rig import FIELD_INDEX, HIGH, LOW, N_FACE, Expression, RigCode
from avatar.runtime.manifest import SHIPPED_ENGINES
from avatar.smoothing.gru import GruFilter, GruStep, load_gru
from avatar.smoothing.noise import NoiseProfile
from avatar.smoothing.smoother import Smoother, SmootherConfig, SmoothMethod
from avatar.smoothing.units import REST_FACE, SPAN_FACE

YAW, BLINK, BLINK_RIGHT = FIELD_INDEX["head_yaw"], FIELD_INDEX["eye_blink_left"], FIELD_INDEX["eye_blink_right"]


@pytest.fixture(scope="module")
def model() -> GruStep:
    return load_gru()  # the live back end: numpy


PROFILE_STD = NoiseProfile.load().std  # the measured webcam noise per field, field ranges


def noisy_still(n: int, level: float = 1.0, seed: int = 0) -> np.ndarray:
    """(n, N_FACE) readings of a still face a little off rest, with `level` × the measured noise."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(0, 1, (n, N_FACE)) * PROFILE_STD * level
    return np.clip(REST_FACE + (0.1 + noise) * SPAN_FACE, LOW[:N_FACE], HIGH[:N_FACE])


def run(f: GruFilter, xs: np.ndarray, fps: float = 30.0, face: np.ndarray | None = None) -> np.ndarray:
    state, out = f.initial(), np.empty_like(xs)
    for i, x in enumerate(xs):
        state, out[i] = f.step(state, x, i / fps, True if face is None else bool(face[i]))
    return out


def jitter(y: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.diff(y / SPAN_FACE, 2, axis=0)) ** 2)))


def test_config_is_validated() -> None:
    assert SmootherConfig().method == "gru"
    with pytest.raises(ConfigError, match=r"smoother\.method must be one of gru, one-euro, none"):
        SmootherConfig(method="kalman")
    with pytest.raises(ConfigError, match=r"smoother\.strength"):
        SmootherConfig(strength=5.0)


def test_the_default_smoother_is_the_shipped_gru() -> None:
    s = Smoother(SmootherConfig())
    assert s.method is SmoothMethod.GRU and s.fallback is None


def test_gru_removes_most_jitter_when_still(model: GruStep) -> None:
    xs = noisy_still(150)
    y = run(GruFilter(model), xs)
    assert jitter(y[30:]) < 0.25 * jitter(xs[30:])
    # and it stays where the face is: no drift away from the mean reading
    assert np.abs((y[60:].mean(0) - xs[60:].mean(0)) / SPAN_FACE).max() < 0.02


def test_gru_follows_a_head_turn_a_blink_and_a_wink(model: GruStep) -> None:
    xs = noisy_still(120)
    xs[30:, YAW] += 30.0  # a fast head turn (a step) at frame 30
    xs[60:64, BLINK] = xs[60:64, BLINK_RIGHT] = [0.5, 1.0, 1.0, 0.5]  # a quick blink: 130 ms
    xs[90:96, BLINK] = [0.4, 0.9, 1.0, 0.8, 0.5, 0.25]  # a wink: one eye only
    y = run(GruFilter(model), xs)
    assert abs(y[40, YAW] - xs[40:, YAW].mean()) < 2.0  # there within 10 frames
    assert y[58:68, BLINK].max() > 0.9 and y[58:68, BLINK_RIGHT].max() > 0.9  # the blink is kept
    assert y[88:100, BLINK].max() > 0.6  # most of a wink is kept (rarer, so the model is less sure of it)


def test_more_strength_smooths_more(model: GruStep) -> None:
    xs = noisy_still(150, level=2.0)
    weak, strong = run(GruFilter(model, 0.5), xs), run(GruFilter(model, 2.0), xs)
    assert jitter(strong[30:]) < jitter(weak[30:])


def test_strength_zero_and_none_pass_through() -> None:
    code = RigCode(np.concatenate([noisy_still(1)[0], [1, 0, 0, 0, 0]]).astype(np.float32))
    for config in (SmootherConfig(strength=0.0), SmootherConfig(method="none")):
        assert np.array_equal(Smoother(config).step(code, 0.0).values, code.values)


def test_expression_weights_pass_untouched() -> None:
    s = Smoother(SmootherConfig())
    for i, x in enumerate(noisy_still(20)):
        w = {Expression.HAPPY: i / 19, Expression.NEUTRAL: 1 - i / 19}
        code = RigCode.compose(RigCode(np.concatenate([x, np.zeros(5)]).astype(np.float32)).face, w)
        out = s.step(code, i / 30)
        assert np.array_equal(out.values[N_FACE:], code.values[N_FACE:])


def test_nan_fields_hold_their_last_value(model: GruStep, caplog: pytest.LogCaptureFixture) -> None:
    s = Smoother(SmootherConfig(), model=model)
    xs = noisy_still(40)
    codes = [RigCode(np.concatenate([x, [1, 0, 0, 0, 0]]).astype(np.float32)) for x in xs]
    for i in range(30):
        s.step(codes[i], i / 30)
    before = s.step(codes[30], 1.0)
    with caplog.at_level(logging.WARNING):
        for i in range(31, 40):
            bad = codes[i].values.copy()
            bad[YAW] = np.nan
            out = s.step(RigCode(bad), i / 30)
            assert np.isfinite(out.values).all()
            assert abs(out["head_yaw"] - before["head_yaw"]) < 1.0
    assert sum("non-finite" in r.message for r in caplog.records) == 1  # logged once, not per frame


def test_repeated_and_backwards_timestamps_hold_the_output(model: GruStep) -> None:
    f = GruFilter(model)
    state, _ = f.step(f.initial(), noisy_still(1)[0], 0.0)
    state, y = f.step(state, noisy_still(1, seed=1)[0], 1 / 30)
    for t in (1 / 30, 0.0, float("nan")):
        state2, y2 = f.step(state, noisy_still(1, seed=2)[0] + 5.0, t)
        assert np.array_equal(y2, y) and state2 is state


def test_face_lost_holds_then_eases_to_the_new_face(model: GruStep) -> None:
    f = GruFilter(model, ease_s=0.2)
    xs = noisy_still(120)
    xs[60:, YAW] += 25.0  # the face comes back somewhere else
    face = np.ones(120, dtype=bool)
    face[20:60] = False  # 1.3 s out of view: longer than reset_after_s
    y = run(f, xs, face=face)
    assert np.allclose(y[20:60], y[19], atol=1e-6)  # held while lost
    steps = np.abs(np.diff(y[59:80, YAW]))
    assert steps.max() < 25.0 / 3  # no jump: an ease over about 6 frames
    assert abs(y[80, YAW] - xs[80:, YAW].mean()) < 1.5  # and there after the ease


def test_dropped_frames_and_irregular_time_stay_stable(model: GruStep) -> None:
    xs = noisy_still(100)
    rng = np.random.default_rng(4)
    t = np.cumsum(rng.choice([1 / 30, 2 / 30, 5 / 30, 0.001], size=100, p=[0.7, 0.15, 0.05, 0.1]))
    f = GruFilter(model)
    state, out = f.initial(), []
    for x, ti in zip(xs, t, strict=True):
        state, y = f.step(state, x, float(ti))
        out.append(y)
    err = np.abs((np.array(out[20:]) - xs[20:].mean(0)) / SPAN_FACE)
    assert np.isfinite(err).all() and err.max() < 0.1


def test_missing_model_falls_back_to_one_euro_with_one_warning(tmp_path, caplog) -> None:
    with caplog.at_level(logging.WARNING):
        s = Smoother(SmootherConfig(engines=str(tmp_path)))
    assert s.method is SmoothMethod.ONE_EURO and "no 'smoother' model" in (s.fallback or "")
    assert sum("One Euro" in r.message for r in caplog.records) == 1
    xs = noisy_still(60)
    out = [s.step(RigCode(np.concatenate([x, [1, 0, 0, 0, 0]]).astype(np.float32)), i / 30).face.values
           for i, x in enumerate(xs)]
    assert jitter(np.array(out)[20:]) < jitter(xs[20:])  # still smooths


def test_corrupt_model_is_refused_and_falls_back(tmp_path) -> None:
    for name in ("manifest.json", "smoother_gru.onnx"):
        shutil.copy(SHIPPED_ENGINES / name, tmp_path / name)
    data = bytearray((tmp_path / "smoother_gru.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / "smoother_gru.onnx").write_bytes(bytes(data))
    s = Smoother(SmootherConfig(engines=str(tmp_path)))
    assert s.method is SmoothMethod.ONE_EURO and "corrupt" in (s.fallback or "")
