"""Noise profile estimation and sampling, synthetic trajectories and the smoother metrics."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from avatar.errors import ConfigError, ModelError, SourceError
from avatar.expression.rig import FIELD_INDEX, HIGH, LOW, N_FACE
from avatar.smoothing.metrics import blink_ratios, lag_frames, score
from avatar.smoothing.noise import Clip, NoiseProfile, estimate, longest_face_run, sample_noise
from avatar.smoothing.synth import Realism, blinks, clean_track, hold_missing, min_jerk, synth_track
from avatar.smoothing.units import SPAN_FACE, normalise

BLINK = FIELD_INDEX["eye_blink_left"]


def test_the_shipped_profile_loads_and_says_how_it_was_made() -> None:
    p = NoiseProfile.load()
    assert p.std.shape == (N_FACE,) and (p.std > 0).all() and (p.std < 0.1).all()
    assert np.allclose(p.correlation, p.correlation.T) and np.allclose(np.diag(p.correlation), 1.0)
    assert "measure_noise" in p.notes["made_by"]
    assert NoiseProfile.from_dict(p.to_dict()).to_dict() == p.to_dict()


def test_a_profile_for_another_rig_is_refused() -> None:
    d = NoiseProfile.load().to_dict()
    d["rig_version"] = 99
    with pytest.raises(ModelError, match="measure it again"):
        NoiseProfile.from_dict(d)


def _ar1(rng: np.random.Generator, n: int, rho: float, sigma: float) -> np.ndarray:
    x = np.zeros(n)
    for i in range(1, n):
        x[i] = rho * x[i - 1] + np.sqrt(1 - rho**2) * rng.normal()
    return sigma * x


def test_estimate_recovers_noise_of_static_clips() -> None:
    rng = np.random.default_rng(0)
    sigma = np.linspace(0.002, 0.02, N_FACE)
    clips = []
    for _ in range(4):
        noise = np.stack([_ar1(rng, 400, -0.3, s) for s in sigma], axis=1)
        clips.append(Clip(0.3 * (HIGH - LOW)[:N_FACE] * 0.1 + noise * SPAN_FACE, np.ones(400, bool), 30.0))
    p = estimate(clips, from_residuals=False)
    assert np.allclose(p.std, sigma, rtol=0.12)
    assert np.allclose(p.ac1, -0.3, atol=0.08)


def test_estimate_separates_noise_from_slow_motion() -> None:
    rng = np.random.default_rng(1)
    t = np.arange(600) / 30.0
    motion = 0.2 * np.sin(2 * np.pi * 0.05 * t)[:, None] * SPAN_FACE  # slow sway, "still" by the threshold
    noise = rng.normal(0, 0.005, (600, N_FACE)) * SPAN_FACE
    p = estimate([Clip(motion + noise, np.ones(600, bool), 30.0)])
    assert np.allclose(p.std, 0.005, rtol=0.15)


def test_sampled_noise_has_the_profile_spread_and_correlation() -> None:
    p = NoiseProfile.load()
    n = sample_noise(p, 20000, np.random.default_rng(2))
    robust = 1.4826 * np.median(np.abs(n), axis=0)  # the Gaussian core, without the outlier frames
    assert np.allclose(robust / p.std, 1.0, atol=0.1)
    assert (n.std(0) >= 0.95 * p.std).all()
    core = sample_noise(replace(p, outlier_rate=np.zeros(N_FACE)), 20000, np.random.default_rng(2))
    ac = np.array([np.corrcoef(core[1:, j], core[:-1, j])[0, 1] for j in range(N_FACE)])
    assert np.allclose(ac, np.clip(p.ac1, -0.6, 0.95), atol=0.08)
    assert np.array_equal(n, sample_noise(p, 20000, np.random.default_rng(2)))  # seeded


def test_a_clip_is_cut_to_its_longest_run_with_a_face() -> None:
    values = np.arange(10 * N_FACE, dtype=float).reshape(10, N_FACE)
    present = np.array([1, 1, 0, 1, 1, 1, 0, 0, 1, 1], dtype=bool)
    cut = longest_face_run(Clip(values, present, 25.0, "v.mov"))
    assert cut.present.all() and cut.fps == 25.0 and cut.name == "v.mov"
    np.testing.assert_array_equal(cut.values, values[3:6])
    whole = Clip(values, np.ones(10, dtype=bool), 30.0)
    assert longest_face_run(whole).values.shape == (10, N_FACE)
    with pytest.raises(SourceError, match="no frame with a face"):
        longest_face_run(Clip(values, np.zeros(10, dtype=bool), 30.0, "empty.mp4"))


def test_min_jerk_is_monotone_from_0_to_1() -> None:
    u = np.linspace(-0.5, 1.5, 201)
    s = min_jerk(u)
    assert s[0] == 0 and s[-1] == 1 and np.all(np.diff(s) >= 0)


def test_blinks_close_faster_than_they_open_and_come_every_few_seconds() -> None:
    t = np.arange(0, 60, 1 / 120)
    left, right = blinks(t, np.random.default_rng(3))
    peaks = np.flatnonzero((left[1:-1] >= 0.8) & (left[1:-1] > left[:-2]) & (left[1:-1] >= left[2:])) + 1
    assert 6 <= len(peaks) <= 40
    for k in peaks[:5]:
        up = np.flatnonzero(left[:k] < 0.05)[-1]
        down = k + np.flatnonzero(left[k:] < 0.05)[0]
        assert (k - up) < (down - k)  # closing is quicker than opening
        assert 0.05 < (down - up) / 120 < 0.5  # a whole blink lasts a tenth to half a second
    assert np.corrcoef(left, right)[0, 1] > 0.9  # both eyes blink together


def test_clean_tracks_are_seeded_and_every_field_moves() -> None:
    t = np.arange(300) / 30
    a, b = clean_track(t, np.random.default_rng(4)), clean_track(t, np.random.default_rng(4))
    assert np.array_equal(a, b)
    assert np.std(normalise(a), axis=0).min() > 0.005


def test_synthetic_tracks_are_clamped_like_the_solver_output() -> None:
    tr = synth_track(NoiseProfile.load(), 300, np.random.default_rng(8), level=1.0)
    for v in (tr.clean, tr.noisy):
        assert (v >= LOW[:N_FACE] - 1e-9).all() and (v <= HIGH[:N_FACE] + 1e-9).all()


def test_realism_is_off_by_default_and_changes_noise_and_sway_when_on() -> None:
    p = NoiseProfile.load()
    plain = synth_track(p, 300, np.random.default_rng(8), level=1.0, p_lost=0.0)
    same = synth_track(p, 300, np.random.default_rng(8), level=1.0, p_lost=0.0, realism=Realism())
    assert np.array_equal(plain.noisy, same.noisy)  # evaluation clips do not change with the option
    quiet = Realism(field_scale=(0.1, 0.1))
    r = synth_track(p, 300, np.random.default_rng(8), level=1.0, p_lost=0.0, realism=quiet)
    noise = lambda tr: np.median(np.abs(np.diff(normalise(tr.noisy) - normalise(tr.clean), axis=0)))  # noqa: E731
    assert noise(r) < 0.3 * noise(plain)
    t = np.arange(300) / 30
    sway = Realism(sway=3.0).sway_track(t, p, np.random.default_rng(1))
    amp = np.abs(sway).max(axis=0) / SPAN_FACE
    assert (amp <= 3.0 * 3 / np.sqrt(1.5) * p.std + 1e-12).all() and amp.max() > 0.5 * p.std.min()
    speed = np.abs(np.diff(sway, axis=0)).max(axis=0) * 30 / SPAN_FACE
    assert (speed <= 2 * np.pi * 2.0 * amp * 3 / np.sqrt(1.5) + 1e-12).all()  # slow: at most 2 Hz


def test_realism_jumps_are_instant_steps_that_stay() -> None:
    t = np.arange(1800) / 30  # one minute
    assert not Realism().jump_track(t, np.random.default_rng(0)).any()
    off = Realism(jumps=6.0).jump_track(t, np.random.default_rng(0)) / SPAN_FACE
    steps = np.abs(np.diff(off, axis=0))
    n = (steps > 0).sum(axis=0)
    assert 1 <= n.mean() <= 12 and steps.max() <= 0.5  # about 6 a field, each at most half the range
    assert (steps > 0).mean() < 0.01  # piecewise constant: nothing moves between the steps


def test_realism_bursts_make_the_noise_come_and_go_at_the_same_mean_power() -> None:
    t = np.arange(6000) / 30
    env = Realism(bursts=0.7).burst_envelope(t, np.random.default_rng(3))
    assert env.shape == (len(t), N_FACE) and (env > 0).all()
    assert np.mean(env**2) == pytest.approx(1.0, rel=0.25)  # the profile's level on average
    # in bursts: a loud stretch stays loud for a while (log level correlated 4 frames apart: tau >= 0.3 s) ...
    log_level = np.log(env)
    assert all(np.corrcoef(log_level[4:, j], log_level[:-4, j])[0, 1] > 0.5 for j in range(N_FACE))
    # ... and partly together across fields (half of the log level is shared)
    assert 0.2 < np.corrcoef(log_level[:, 0], log_level[:, 9])[0, 1] < 0.8
    # off, a track is drawn exactly as before the option existed
    a = synth_track(NoiseProfile.load(), 200, np.random.default_rng(1), level=1.0, realism=Realism(jumps=1.0))
    b = synth_track(NoiseProfile.load(), 200, np.random.default_rng(1), level=1.0,
                    realism=Realism(jumps=1.0, bursts=0.0))
    assert np.array_equal(a.noisy, b.noisy)
    c = synth_track(NoiseProfile.load(), 200, np.random.default_rng(1), level=1.0,
                    realism=Realism(jumps=1.0, bursts=0.7))
    assert np.array_equal(a.clean, c.clean) and not np.array_equal(a.noisy, c.noisy)


def test_synthetic_tracks_hold_readings_where_the_face_is_missing() -> None:
    tr = synth_track(NoiseProfile.load(), 400, np.random.default_rng(5), p_lost=1.0)
    assert not tr.present.all() and tr.present[0]
    for i in np.flatnonzero(~tr.present):
        assert np.array_equal(tr.noisy[i], tr.noisy[i - 1])
    assert np.all(np.diff(tr.t) > 0)
    v = np.arange(5.0)[:, None]
    assert hold_missing(v, np.array([1, 0, 0, 1, 0], bool))[:, 0].tolist() == [0, 0, 0, 3, 3]


def test_lag_is_found_to_a_fraction_of_a_frame() -> None:
    t = np.arange(400) / 30
    truth = np.sin(2 * np.pi * 0.7 * t) + 0.5 * np.sin(2 * np.pi * 1.9 * t)
    late = np.sin(2 * np.pi * 0.7 * (t - 2.5 / 30)) + 0.5 * np.sin(2 * np.pi * 1.9 * (t - 2.5 / 30))
    assert lag_frames(truth, truth) == pytest.approx(0.0, abs=0.05)
    assert lag_frames(late, truth) == pytest.approx(2.5, abs=0.3)


def test_blink_amplitude_kept_and_jitter_scores() -> None:
    t = np.arange(0, 20, 1 / 30)
    left, right = blinks(t, np.random.default_rng(6))
    truth = np.zeros((len(t), N_FACE))
    truth[:, BLINK], truth[:, FIELD_INDEX["eye_blink_right"]] = left, right
    assert np.allclose(blink_ratios(truth, truth, t), 1.0)
    assert np.allclose(blink_ratios(truth * 0.5, truth, t), 0.5)
    noisy = truth + np.random.default_rng(7).normal(0, 0.01, truth.shape)
    clean_s, noisy_s = score([truth], [truth], [t]), score([noisy], [truth], [t])
    assert clean_s.jitter < 1e-4 and noisy_s.jitter == pytest.approx(0.01 * np.sqrt(6), rel=0.1)
    assert noisy_s.rmse == pytest.approx(0.01, rel=0.1)


def test_jitter_is_measured_where_the_given_still_masks_say() -> None:
    t = np.arange(300) / 30.0
    truth = np.zeros((300, N_FACE))
    y = truth.copy()
    y[150:, 0] = np.random.default_rng(8).normal(0, 0.01, 150)  # field 0 shakes in the second half only
    first, second = np.zeros((300, N_FACE), bool), np.zeros((300, N_FACE), bool)
    first[2:140], second[160:298] = True, True
    assert score([y], [truth], [t], still=[first]).jitter == 0.0
    shaky = score([y], [truth], [t], still=[second]).jitter
    assert shaky == pytest.approx(0.01 * np.sqrt(6) / 4, rel=0.2)  # one field of sixteen shakes: RMS / 4
    assert shaky == pytest.approx(score([y], [truth], [t]).jitter * np.sqrt(2), rel=0.2)  # the default: all frames


def test_train_smoother_flags_default_to_the_shipped_settings_and_set_every_field() -> None:
    from avatar.cli import build_parser
    from avatar.smoothing.commands import train_config
    from avatar.smoothing.train_config import TrainConfig

    parser = build_parser()
    assert train_config(parser.parse_args(["train", "smoother"])) == TrainConfig()
    args = parser.parse_args(["train", "smoother", "--seed", "3", "--lr", "0.001", "--jitter-weight", "2",
                              "--still-weight", "0", "--field-scale", "0.5", "1.5", "--hop-rate", "0.1",
                              "--sway", "0", "--jumps", "2", "--bursts", "0.5"])
    assert train_config(args) == TrainConfig(seed=3, lr=0.001, jitter_weight=2.0, still_weight=0.0,
                                             field_scale_lo=0.5, field_scale_hi=1.5, hop_rate=0.1, sway=0.0,
                                             jumps=2.0, bursts=0.5)
    with pytest.raises(ConfigError, match="field_scale_lo"):
        train_config(parser.parse_args(["train", "smoother", "--field-scale", "2", "1"]))
