"""Head pose on MediaPipe's canonical 3D face, turned by known angles and seen through a pinhole camera."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from avatar.tracking.base import Landmarks
from avatar.tracking.calibration import Calibration
from avatar.tracking.solver import FaceSolver
from tests.unit.test_solver import head_rotation

W, H = 640, 480
FOCAL_PX = 600.0  # a webcam's ~56° horizontal field of view
DISTANCE_CM = 55.0  # camera to the middle of the head


def canonical(fixtures: Path) -> np.ndarray:
    """(468, 3) vertices in centimetres: x towards the face's own left, y up, z out of the face."""
    lines = (fixtures / "mediapipe" / "canonical_face_model.obj").read_text().splitlines()
    v = np.array([[float(t) for t in line.split()[1:4]] for line in lines if line.startswith("v ")])
    assert v.shape == (468, 3)
    return v


def photograph(face_cm: np.ndarray, rotation: np.ndarray, shift_cm: tuple[float, float] = (0.0, 0.0)) -> Landmarks:
    """Turn the head about its middle, place it before a pinhole camera, write what MediaPipe would report.

    Camera frame: x right, y up, z towards the camera; the head's middle sits DISTANCE_CM in front of it.
    """
    pivot = np.array([0.0, 0.0, -4.0])  # about the middle of the skull, behind the face surface
    p = (face_cm - pivot) @ rotation.T + pivot  # (468, 3)
    depth = DISTANCE_CM - p[:, 2]  # distance from the camera along its axis
    u = W / 2 + FOCAL_PX * (p[:, 0] + shift_cm[0]) / depth
    v = H / 2 - FOCAL_PX * (p[:, 1] + shift_cm[1]) / depth
    z = -(p[:, 2] * FOCAL_PX / DISTANCE_CM) / W  # MediaPipe: depth on the scale of x, smaller = nearer
    return Landmarks(np.stack([u / W, v / H, z], axis=1).astype(np.float32), W, H)


@pytest.fixture(scope="module")
def face(fixtures: Path) -> np.ndarray:
    return canonical(fixtures)


@pytest.mark.parametrize(
    ("yaw", "pitch", "roll"),
    [(30, 0, 0), (-30, 0, 0), (0, 20, 0), (0, -20, 0), (0, 0, 25), (0, 0, -25), (20, -15, 10), (-25, 10, -20),
     (40, 0, 0), (0, 30, 0)],
)
def test_pose_within_3_degrees(face: np.ndarray, yaw: float, pitch: float, roll: float) -> None:
    solver = FaceSolver(Calibration.from_landmarks([photograph(face, np.eye(3))]))
    params = solver.process(photograph(face, head_rotation(yaw, pitch, roll)))
    assert params["head_yaw"] == pytest.approx(yaw, abs=3.0)
    assert params["head_pitch"] == pytest.approx(pitch, abs=3.0)
    assert params["head_roll"] == pytest.approx(roll, abs=3.0)


def test_frontal_canonical_face_reads_straight_ahead(face: np.ndarray) -> None:
    # The face frame's tilt was measured on this model, so with a zero neutral it reads zero without calibrating.
    zero = Calibration(yaw=0.0, pitch=0.0, roll=0.0)
    params = FaceSolver(zero).process(photograph(face, np.eye(3)))
    for name in ("head_yaw", "head_pitch", "head_roll"):
        assert abs(params[name]) < 1.0, name


def test_pose_does_not_depend_on_distance(face: np.ndarray) -> None:
    solver = FaceSolver(Calibration.from_landmarks([photograph(face, np.eye(3))]))
    turned = head_rotation(25, -10, 15)
    near = solver.process(photograph(face * 1.4, turned))  # a bigger head is a nearer one to the camera
    far = solver.process(photograph(face * 0.7, turned))
    for name in ("head_yaw", "head_pitch", "head_roll"):
        assert near[name] == pytest.approx(far[name], abs=2.0), name
