"""Moved photos for the smoother benchmark: the known head path, the warp, and the truth fitted on the path."""

from __future__ import annotations

import numpy as np

from avatar.smoothing.moved import EASE_S, REST_S, Motion, head_path, known_truth, moved_frames


def test_the_path_rests_at_the_photos_pose_first_then_moves_within_its_bounds() -> None:
    m = head_path(300, 30.0, np.random.default_rng(1))
    rest = np.arange(300) / 30.0 < REST_S
    assert np.all(m.roll[rest] == 0) and np.all(m.dx[rest] == 0) and np.all(m.scale[rest] == 1)
    assert np.abs(m.roll).max() <= 12 + 1e-9 and np.abs(m.dx).max() <= 0.25 + 1e-9
    assert m.scale.min() >= 0.85 - 1e-9 and m.scale.max() <= 1.15 + 1e-9
    assert np.ptp(m.roll) > 5 and np.ptp(m.dy) > 0.1  # it does move
    # smooth: no frame steps more than a fast move's peak speed allows (here 12° at 0.25 s -> ~1.6° a frame)
    assert np.abs(np.diff(m.roll)).max() < 2.5


def test_the_path_holds_still_between_moves() -> None:
    m = head_path(600, 30.0, np.random.default_rng(2))
    after = np.arange(600) / 30.0 > REST_S + EASE_S
    still = (np.abs(np.diff(m.roll)) < 1e-9)[after[1:]]
    assert 0.3 < still.mean() < 0.95


def test_the_truth_is_what_the_path_explains_not_the_noise() -> None:
    rng = np.random.default_rng(3)
    m = head_path(300, 30.0, rng)
    clean = np.stack([0.1 + 0.02 * m.roll, -0.3 * m.dx + 0.5 * m.dy, np.full(300, 0.2)], axis=1)  # (T, 3)
    noisy = clean + rng.normal(0, 0.03, clean.shape)
    present = np.ones(300, dtype=bool)
    present[100:110] = False
    noisy[100:110] = 9.0  # what a lost face reads must not pull the fit
    truth = known_truth(noisy, present, m)
    assert np.abs(truth - clean)[present].max() < 0.03  # within the noise everywhere, a tenth of it on average
    assert np.sqrt(np.mean((truth - clean)[present] ** 2)) < 0.006
    # a field the path does not move stays flat within a fraction of the noise: too little to count as moving
    assert np.std(truth[:, 2]) < 0.01


def test_the_photo_moves_by_the_known_shift_and_gets_pixel_noise() -> None:
    img = np.zeros((120, 160, 3), np.uint8)
    img[58:63, 78:83] = 255  # a white square at (80, 60)
    one = np.ones(1)
    m = Motion(roll=0 * one, dx=0.5 * one, dy=-0.25 * one, scale=one)
    frame = next(moved_frames(img, m, centre=(80.0, 60.0), face_width=40.0, sigma=2.0, seed=0))
    ys, xs = np.nonzero(frame[..., 0] > 128)
    assert abs(xs.mean() - 100) < 0.6 and abs(ys.mean() - 50) < 0.6  # 0.5 and -0.25 face widths of 40 px
    assert 0.5 < frame[:20, :20].std() < 4  # webcam-like noise everywhere


def test_roll_and_zoom_turn_about_the_face_centre() -> None:
    img = np.zeros((120, 160, 3), np.uint8)
    img[58:63, 98:103] = 255  # 20 px right of the centre (80, 60)
    one = np.ones(1)
    m = Motion(roll=90 * one, dx=0 * one, dy=0 * one, scale=1.5 * one)
    frame = next(moved_frames(img, m, centre=(80.0, 60.0), face_width=40.0, sigma=0.0, seed=0))
    ys, xs = np.nonzero(frame[..., 0] > 128)
    assert abs(xs.mean() - 80) < 1 and abs(ys.mean() - 30) < 1  # turned a quarter anticlockwise, 30 px out
