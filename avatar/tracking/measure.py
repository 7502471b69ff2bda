"""Raw geometric measurements of one face (pose, eyes, brows, mouth), independent of any calibration.

Everything is measured in the face's own frame (x across the eyes towards the user's left, y up the face,
z out of it) after converting MediaPipe's normalised coordinates back to square pixel units, so head roll,
yaw and pitch do not leak into the 2D distances; lengths are divided by the face width so distance to the
camera does not matter either. When the tracker reports a head transform (the Tasks back end), the pose is read
from it instead of from the landmark frame.
"""

from __future__ import annotations

import math

import numpy as np

from avatar.tracking import landmarks as mesh
from avatar.tracking.base import Landmarks

# The frame's "up" runs from the nose base to the forehead, which on MediaPipe's canonical face leans back by
# this much (the forehead sits 1.58 cm behind the nose base over 10.35 cm of height). Undoing it makes a
# face that looks straight into the camera read pitch 0 before any calibration.
FRAME_TILT_DEG = 8.66

# The Tasks head transform (a perspective fit of the canonical face) reads pitch this much higher than the
# landmark frame on the same frames: the median difference over ten fixture clips (spread about 1°). Removing
# it lets one calibration profile and the default neutral serve both back ends.
TRANSFORM_PITCH_OFFSET_DEG = 4.0

# What measure() returns, in this order; Calibration stores the neutral value of each.
MEASUREMENTS: tuple[str, ...] = (
    "yaw",  # degrees, face-frame orientation (same signs as head_yaw/head_pitch/head_roll)
    "pitch",
    "roll",
    "center_x",  # face centre, normalised image coordinates (fraction of width / height)
    "center_y",
    "face_width",  # cheek-to-cheek 3D distance as a fraction of the image width
    "eye_open_left",  # lid gap / eye width (the user's left eye, image right)
    "eye_open_right",
    "gaze_x",  # iris offset from the eye centre in half eye widths, mean of both eyes, + = image right
    "gaze_y",  # + = up
    "brow_left",  # brow height above the eye corners, face widths
    "brow_right",
    "brow_inner",  # inner brow ends' height above the inner eye corners, face widths (drops in a frown)
    "brow_gap",  # distance between the inner brow ends, face widths
    "mouth_open",  # inner-lip gap, face widths
    "mouth_width",  # lip-corner distance, face widths
    "mouth_corner",  # lip-corner height above the inner-lip centre, face widths (+ = corners up)
    "mouth_round",  # outer-lip height / lip-corner distance
)


def rotation_from_angles(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """(3, 3) rotation for head angles in degrees, in a camera frame with x right, y up, z towards the camera.

    Yaw turns about y, then pitch about x, then roll about z (intrinsic). Signs follow the rig: + yaw moves
    the nose to image right, + pitch moves it up, + roll moves the top of the head to image right.
    """
    a, b, c = math.radians(yaw), -math.radians(pitch), -math.radians(roll)
    ry = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    rx = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    rz = np.array([[math.cos(c), -math.sin(c), 0], [math.sin(c), math.cos(c), 0], [0, 0, 1]])
    return ry @ rx @ rz


def angles_from_rotation(r: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees: the inverse of rotation_from_angles."""
    b = math.asin(max(-1.0, min(1.0, -float(r[1, 2]))))
    yaw = math.degrees(math.atan2(float(r[0, 2]), float(r[2, 2])))
    roll = -math.degrees(math.atan2(float(r[1, 0]), float(r[1, 1])))
    return yaw, -math.degrees(b), roll


_UNTILT = rotation_from_angles(0.0, -FRAME_TILT_DEG, 0.0)


def face_frame(p: np.ndarray) -> np.ndarray:
    """(3, 3) rotation whose columns are the face's x, y, z axes in camera space, from square-unit points."""
    x = (p[mesh.LEFT_EYE_OUTER] - p[mesh.RIGHT_EYE_OUTER]) + (
        p[mesh.LEFT_EYE_INNER] - p[mesh.RIGHT_EYE_INNER]
    )
    x /= math.sqrt(float(x @ x)) + 1e-12
    up = p[mesh.FOREHEAD] - p[mesh.NOSE_BASE]
    y = up - float(up @ x) * x
    y /= math.sqrt(float(y @ y)) + 1e-12
    z = (x[1] * y[2] - x[2] * y[1], x[2] * y[0] - x[0] * y[2], x[0] * y[1] - x[1] * y[0])
    return np.array([x, y, z]).T @ _UNTILT


_CENTER = np.array(mesh.CENTER_POINTS)

Rows = list[list[float]]  # landmark index -> [x, y, z]; plain floats, which are quicker than numpy scalars


def measure(lm: Landmarks) -> dict[str, float]:
    """Every raw measurement of one face (see MEASUREMENTS); a pure function of the landmarks."""
    p = lm.to_square()  # (N, 3) pixels, y up, z towards the camera
    frame = face_frame(p)
    if lm.transform is not None:
        yaw, pitch, roll = angles_from_rotation(lm.transform[:3, :3])
        pitch -= TRANSFORM_PITCH_OFFSET_DEG
    else:
        yaw, pitch, roll = angles_from_rotation(frame)
    width_px = float(np.linalg.norm(p[mesh.CHEEK_LEFT] - p[mesh.CHEEK_RIGHT]))
    centre = lm.points[_CENTER, :2].mean(axis=0)
    # Face coordinates in face widths: rotation and distance to the camera removed.
    q: Rows = ((p - p[_CENTER].mean(axis=0)) @ frame / max(width_px, 1e-9)).tolist()
    out = {"yaw": yaw, "pitch": pitch, "roll": roll}
    out.update(center_x=float(centre[0]), center_y=float(centre[1]), face_width=width_px / lm.image_width)
    out["eye_open_left"] = _eye_open(
        q, mesh.LEFT_EYE_OUTER, mesh.LEFT_EYE_INNER, mesh.LEFT_EYE_UPPER, mesh.LEFT_EYE_LOWER
    )
    out["eye_open_right"] = _eye_open(
        q, mesh.RIGHT_EYE_OUTER, mesh.RIGHT_EYE_INNER, mesh.RIGHT_EYE_UPPER, mesh.RIGHT_EYE_LOWER
    )
    out["gaze_x"], out["gaze_y"] = _gaze(q) if lm.has_irises else (0.0, 0.0)
    out.update(_brows(q))
    out.update(_mouth(q))
    return out


def _dist2(a: list[float], b: list[float]) -> float:
    """Distance in the face plane (x, y), ignoring depth, which MediaPipe estimates least well."""
    return max(math.hypot(a[0] - b[0], a[1] - b[1]), 1e-9)


def _eye_open(q: Rows, outer: int, inner: int, upper: tuple[int, ...], lower: tuple[int, ...]) -> float:
    gap = sum(q[u][1] - q[lo][1] for u, lo in zip(upper, lower, strict=True)) / len(upper)
    return gap / _dist2(q[outer], q[inner])


def _gaze(q: Rows) -> tuple[float, float]:
    """Iris centre against the midpoint of its eye corners, in half eye widths, mean of both eyes."""
    gx = gy = 0.0
    for iris, outer, inner in (
        (mesh.LEFT_IRIS_CENTER, mesh.LEFT_EYE_OUTER, mesh.LEFT_EYE_INNER),
        (mesh.RIGHT_IRIS_CENTER, mesh.RIGHT_EYE_OUTER, mesh.RIGHT_EYE_INNER),
    ):
        half = _dist2(q[outer], q[inner]) / 2
        gx += (q[iris][0] - (q[outer][0] + q[inner][0]) / 2) / half / 2
        gy += (q[iris][1] - (q[outer][1] + q[inner][1]) / 2) / half / 2
    return gx, gy


def _brows(q: Rows) -> dict[str, float]:
    def height(brow: tuple[int, ...], outer: int, inner: int) -> float:
        return sum(q[i][1] for i in brow) / len(brow) - (q[outer][1] + q[inner][1]) / 2

    inner = (q[mesh.LEFT_BROW_INNER][1] + q[mesh.RIGHT_BROW_INNER][1]) / 2
    return {
        "brow_left": height(mesh.LEFT_BROW, mesh.LEFT_EYE_OUTER, mesh.LEFT_EYE_INNER),
        "brow_right": height(mesh.RIGHT_BROW, mesh.RIGHT_EYE_OUTER, mesh.RIGHT_EYE_INNER),
        "brow_inner": inner - (q[mesh.LEFT_EYE_INNER][1] + q[mesh.RIGHT_EYE_INNER][1]) / 2,
        "brow_gap": _dist2(q[mesh.LEFT_BROW_INNER], q[mesh.RIGHT_BROW_INNER]),
    }


def _mouth(q: Rows) -> dict[str, float]:
    width = _dist2(q[mesh.MOUTH_LEFT], q[mesh.MOUTH_RIGHT])
    upper, lower = q[mesh.UPPER_LIP_INNER][1], q[mesh.LOWER_LIP_INNER][1]
    corners_y = (q[mesh.MOUTH_LEFT][1] + q[mesh.MOUTH_RIGHT][1]) / 2
    return {
        "mouth_open": max(0.0, upper - lower),
        "mouth_width": width,
        "mouth_corner": corners_y - (upper + lower) / 2,
        "mouth_round": (q[mesh.UPPER_LIP_OUTER][1] - q[mesh.LOWER_LIP_OUTER][1]) / width,
    }
