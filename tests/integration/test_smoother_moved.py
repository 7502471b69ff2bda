"""A fixture photo moved along a known head path and tracked by the real live tracker: the benchmark's truth."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from avatar.expression.rig import FIELD_INDEX
from avatar.smoothing.moved import face_path, known_truth, track_moved

ROLL, HEAD_X, SCALE = FIELD_INDEX["head_roll"], FIELD_INDEX["head_x"], FIELD_INDEX["head_scale"]
JAW, BROW = FIELD_INDEX["jaw_open"], FIELD_INDEX["brow_raise_left"]


def test_the_tracked_head_follows_the_known_path_and_the_fit_leaves_only_noise(fixtures: Path) -> None:
    photo = cv2.imread(str(fixtures / "images" / "labeled" / "sadtalker_sad1.png"))
    motion = face_path(150, 30.0, np.random.default_rng(4))  # a draw that moves all five within 5 s
    assert np.ptp(motion.roll) > 5 and np.ptp(motion.dx) > 0.1 and np.ptp(motion.scale) > 0.05
    assert np.ptp(motion.jaw) > 0.5 and np.ptp(motion.brow) > 0.5
    clip = track_moved(photo, motion, 30.0, seed=1, name="sad1")
    assert clip.present.all()
    for field, applied in ((ROLL, motion.roll), (HEAD_X, motion.dx), (SCALE, motion.scale), (JAW, motion.jaw),
                           (BROW, motion.brow)):
        assert abs(np.corrcoef(clip.values[:, field], applied)[0, 1]) > 0.9  # the tracker sees the move
    truth = known_truth(clip.values, clip.present, motion)
    residual = clip.values - truth
    # what the path explains is nearly all of the head's movement; what is left is the tracker's noise
    for field in (ROLL, HEAD_X, SCALE, JAW, BROW):
        assert residual[:, field].std() < 0.3 * clip.values[:, field].std(), field
    # the neutral was read while the path rested at the photo's own pose: the head starts near zero roll
    assert abs(truth[:10, ROLL]).max() < 2.0
