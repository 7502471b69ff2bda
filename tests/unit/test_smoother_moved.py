"""Moved photos for the smoother benchmark: the known path, the warps, and the truth fitted on the path."""

from __future__ import annotations

import numpy as np
import pytest

from avatar.errors import SourceError
from avatar.smoothing.moved import (
    BROW_LIFT,
    EASE_S,
    JAW_DROP,
    REST_S,
    Face,
    Motion,
    face_path,
    find_face,
    known_truth,
    moved_frames,
)

FACE = Face(centre=(80.0, 60.0), width=40.0, height=50.0, mouth_y=70.0, brow_y=45.0, chin_y=85.0)


def _motion(**kw: float) -> Motion:
    one = np.ones(1)
    values = {"roll": 0.0, "dx": 0.0, "dy": 0.0, "scale": 1.0, "jaw": 0.0, "brow": 0.0} | kw
    return Motion(**{k: v * one for k, v in values.items()})


def _square(x: int, y: int) -> np.ndarray:
    img = np.zeros((120, 160, 3), np.uint8)
    img[y - 2 : y + 3, x - 2 : x + 3] = 255
    return img


def _where(frame: np.ndarray) -> tuple[float, float]:
    ys, xs = np.nonzero(frame[..., 0] > 128)
    return float(xs.mean()), float(ys.mean())


def test_the_path_rests_at_the_photos_own_face_first_then_moves_within_its_bounds() -> None:
    m = face_path(300, 30.0, np.random.default_rng(1))
    rest = np.arange(300) / 30.0 < REST_S
    for a, at_rest in ((m.roll, 0), (m.dx, 0), (m.scale, 1), (m.jaw, 0), (m.brow, 0)):
        assert np.all(a[rest] == at_rest)
    assert np.abs(m.roll).max() <= 12 + 1e-9 and np.abs(m.dx).max() <= 0.25 + 1e-9
    assert m.scale.min() >= 0.85 - 1e-9 and m.scale.max() <= 1.15 + 1e-9
    assert m.jaw.min() >= 0 and m.jaw.max() <= 1 and m.brow.max() <= 1
    assert np.ptp(m.roll) > 5 and np.ptp(m.dy) > 0.1 and np.ptp(m.jaw) > 0.3 and np.ptp(m.brow) > 0.3  # it moves
    # smooth: no frame steps more than a fast move's peak speed allows (12° in 0.25 s: ~1.6° a frame)
    assert np.abs(np.diff(m.roll)).max() < 2.5


def test_the_path_holds_still_between_moves() -> None:
    m = face_path(600, 30.0, np.random.default_rng(2))
    after = (np.arange(600) / 30.0 > REST_S + EASE_S)[1:]
    for a in (m.roll, m.jaw):
        still = (np.abs(np.diff(a)) < 1e-9)[after]
        assert 0.3 < still.mean() < 0.95


def test_the_truth_is_what_the_path_explains_not_the_noise() -> None:
    rng = np.random.default_rng(3)
    m = face_path(300, 30.0, rng)
    clean = np.stack([0.1 + 0.02 * m.roll, -0.3 * m.dx + 0.5 * m.jaw**2, np.full(300, 0.2)], axis=1)  # (T, 3)
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
    frame = next(moved_frames(_square(80, 60), _motion(dx=0.5, dy=-0.25), FACE, sigma=2.0, seed=0))
    x, y = _where(frame)
    assert abs(x - 100) < 0.6 and abs(y - 50) < 0.6  # 0.5 and -0.25 face widths of 40 px
    assert 0.5 < frame[:20, :20].std() < 4  # webcam-like noise everywhere


def test_roll_and_zoom_turn_about_the_face_centre() -> None:
    frame = next(moved_frames(_square(100, 60), _motion(roll=90, scale=1.5), FACE, sigma=0.0, seed=0))
    x, y = _where(frame)
    assert abs(x - 80) < 1 and abs(y - 30) < 1  # 20 px right of the centre, turned a quarter anticlockwise, 30 px out


def test_the_jaw_drops_what_is_below_the_lips_and_the_brows_rise() -> None:
    below, above = _square(80, 78), _square(80, 62)  # under and over the lips (y 70)
    x, y = _where(next(moved_frames(below, _motion(jaw=1.0), FACE, sigma=0.0, seed=0)))
    assert abs(x - 80) < 0.5 and abs(y - (78 + JAW_DROP * 50)) < 0.8  # 5 px down, fully below the parting
    _, y = _where(next(moved_frames(above, _motion(jaw=1.0), FACE, sigma=0.0, seed=0)))
    assert abs(y - 62) < 0.3  # the upper lip and all above stay
    _, y = _where(next(moved_frames(_square(80, 45), _motion(brow=1.0), FACE, sigma=0.0, seed=0)))
    assert BROW_LIFT * 50 / 2 < 45 - y <= BROW_LIFT * 50  # the brow line rises, by less than the pull's peak


def test_the_lips_part_along_a_line_through_the_corners_and_the_middle() -> None:
    smile = Face(centre=(80.0, 60.0), width=40.0, height=50.0, mouth_y=72.0, brow_y=45.0, chin_y=85.0,
                 corners=((70.0, 68.0), (90.0, 67.0)))
    y = smile.lip_line(np.array([50.0, 70.0, 80.0, 90.0, 120.0]))
    assert np.allclose(y[1:4], [68.0, 72.0, 67.0]) and y[0] == y[1] and y[4] == y[3]  # level beyond the corners
    assert np.all(FACE.lip_line(np.array([0.0, 80.0])) == 70.0)  # no corners known: level at the middle


def test_a_photo_without_a_face_is_refused_with_its_size() -> None:
    with pytest.raises(SourceError, match="no face found in the 160x120 photo"):
        find_face(np.full((120, 160, 3), 128, np.uint8))
