"""The face solver on synthetic landmarks: a hand-made 3D face moved, turned and deformed by known amounts."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from avatar.errors import ConfigError, SourceError
from avatar.tracking import landmarks as mesh
from avatar.tracking.facemesh import Landmarks, TrackerConfig
from avatar.tracking.measure import MEASUREMENTS
from avatar.tracking.solver import Calibration, FaceSolver, SolverConfig

W, H = 640, 480  # not square on purpose: the solver must undo MediaPipe's per-axis normalisation
PX_PER_CM = 14.0  # a 15 cm wide face about 210 px wide: a webcam at arm's length


def _along(
    indices: tuple[int, ...], points: list[tuple[float, float, float]]
) -> dict[int, tuple[float, ...]]:
    return dict(zip(indices, points, strict=True))


# A generic face in centimetres: x towards the user's left (image right), y up, z towards the camera. Only the
# points the solver reads are placed; mirrored pairs are given for the user's right side (x < 0).
_RIGHT_SIDE = {
    mesh.RIGHT_EYE_OUTER: (-4.4, 2.7, 3.2),
    mesh.RIGHT_EYE_INNER: (-1.8, 2.6, 3.8),
    **_along(mesh.RIGHT_EYE_UPPER, [(-3.8, 3.0, 3.7), (-3.2, 3.1, 3.9), (-2.5, 3.0, 3.9)]),
    **_along(mesh.RIGHT_EYE_LOWER, [(-3.8, 2.3, 3.6), (-3.2, 2.2, 3.8), (-2.5, 2.3, 3.8)]),
    mesh.RIGHT_IRIS_CENTER: (-3.1, 2.7, 4.0),
    **_along(
        mesh.RIGHT_IRIS_RIM, [(-2.55, 2.7, 4.0), (-3.1, 3.25, 4.0), (-3.65, 2.7, 4.0), (-3.1, 2.15, 4.0)]
    ),
    **_along(
        mesh.RIGHT_BROW,
        [(-5.6, 4.2, 2.8), (-4.8, 4.8, 3.6), (-3.9, 5.0, 4.4), (-2.8, 4.9, 4.9), (-1.4, 4.8, 5.3)],
    ),
    mesh.CHEEK_RIGHT: (-7.6, 0.7, -2.4),
    mesh.MOUTH_RIGHT: (-2.4, -4.3, 4.3),
}
_MIDLINE = {
    mesh.FOREHEAD: (0.0, 8.2, 4.5),
    mesh.NOSE_BRIDGE: (0.0, 3.3, 5.2),
    mesh.NOSE_BASE: (0.0, -2.1, 6.0),
    1: (0.0, -1.1, 7.5),  # nose tip: not read by the solver, used here to check which way the head turned
    mesh.UPPER_LIP_OUTER: (0.0, -3.4, 6.0),
    mesh.UPPER_LIP_INNER: (0.0, -4.0, 5.3),
    mesh.LOWER_LIP_INNER: (0.0, -4.05, 5.3),
    mesh.LOWER_LIP_OUTER: (0.0, -5.4, 5.5),
    mesh.CHIN: (0.0, -9.4, 4.3),
}
_MIRROR = {
    mesh.RIGHT_EYE_OUTER: mesh.LEFT_EYE_OUTER,
    mesh.RIGHT_EYE_INNER: mesh.LEFT_EYE_INNER,
    mesh.RIGHT_IRIS_CENTER: mesh.LEFT_IRIS_CENTER,
    mesh.CHEEK_RIGHT: mesh.CHEEK_LEFT,
    mesh.MOUTH_RIGHT: mesh.MOUTH_LEFT,
    **dict(zip(mesh.RIGHT_EYE_UPPER, mesh.LEFT_EYE_UPPER, strict=True)),
    **dict(zip(mesh.RIGHT_EYE_LOWER, mesh.LEFT_EYE_LOWER, strict=True)),
    **dict(zip(mesh.RIGHT_IRIS_RIM, mesh.LEFT_IRIS_RIM, strict=True)),
    **dict(zip(mesh.RIGHT_BROW, mesh.LEFT_BROW, strict=True)),
}


def face_cm() -> np.ndarray:
    """(478, 3) neutral face in centimetres; unused points sit on the nose bridge."""
    pts = np.tile(np.array(_MIDLINE[mesh.NOSE_BRIDGE]), (mesh.N_LANDMARKS, 1))
    for i, xyz in {**_RIGHT_SIDE, **_MIDLINE}.items():
        pts[i] = xyz
    for right, left in _MIRROR.items():
        pts[left] = pts[right] * (-1.0, 1.0, 1.0)
    return pts


def rot(axis: str, deg: float) -> np.ndarray:
    """Right-handed rotation about a camera axis (x right, y up, z towards the camera)."""
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return {
        "x": np.array([[1, 0, 0], [0, c, -s], [0, s, c]]),
        "y": np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]),
        "z": np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]),
    }[axis]


def head_rotation(yaw: float = 0.0, pitch: float = 0.0, roll: float = 0.0) -> np.ndarray:
    # +yaw turns the nose towards +x (image right); looking up turns it towards +y, which about x is negative;
    # tilting the top of the head towards +x is a negative turn about z.
    return rot("y", yaw) @ rot("x", -pitch) @ rot("z", -roll)


def project(
    cm: np.ndarray,
    rotation: np.ndarray | None = None,
    shift_px: tuple[float, float] = (0.0, 0.0),
    scale: float = 1.0,
) -> Landmarks:
    """Pose a face before the camera; write it as MediaPipe does (normalised x, y; z on the scale of x)."""
    r = np.eye(3) if rotation is None else rotation
    centre = cm[list(mesh.CENTER_POINTS)].mean(axis=0)
    px = ((cm - centre) @ r.T) * PX_PER_CM * scale  # (478, 3) pixels, y up, z towards the camera
    x = (W / 2 + shift_px[0] + px[:, 0]) / W
    y = (H / 2 - shift_px[1] - px[:, 1]) / H  # image rows grow downwards
    z = -px[:, 2] / W  # MediaPipe: smaller z is nearer the camera
    return Landmarks(np.stack([x, y, z], axis=1).astype(np.float32), W, H)


NEUTRAL = face_cm()
SOLVER = FaceSolver(Calibration.from_landmarks([project(NEUTRAL)]))


def solve(cm: np.ndarray = NEUTRAL, **pose: object) -> dict[str, float]:
    return SOLVER.process(project(cm, **pose)).to_dict()  # type: ignore[arg-type]


def test_neutral_face_reads_rest() -> None:
    params = solve()
    for name, value in params.items():
        assert value == pytest.approx(1.0 if name == "head_scale" else 0.0, abs=1e-3), name


@pytest.mark.parametrize(
    ("yaw", "pitch", "roll"),
    [
        (25, 0, 0),
        (-25, 0, 0),
        (0, 20, 0),
        (0, -20, 0),
        (0, 0, 30),
        (0, 0, -30),
        (20, -15, 10),
        (-30, 10, -25),
    ],
)
def test_head_pose_recovered_with_rig_signs(yaw: float, pitch: float, roll: float) -> None:
    lm = project(NEUTRAL, head_rotation(yaw, pitch, roll))
    # The test's own convention, checked on the picture: the nose tip moves the way the rig says.
    front = project(NEUTRAL)
    nose_dx = (lm.points[1, 0] - front.points[1, 0]) * W
    if yaw and not pitch and not roll:
        assert np.sign(nose_dx) == np.sign(yaw)
    if pitch and not yaw and not roll:
        nose_up = (front.points[1, 1] - lm.points[1, 1]) * H  # rows grow downwards
        assert np.sign(nose_up) == np.sign(pitch)
    if roll and not yaw and not pitch:
        top_dx = (lm.points[mesh.FOREHEAD, 0] - front.points[mesh.FOREHEAD, 0]) * W
        assert np.sign(top_dx) == np.sign(roll)
    params = SOLVER.process(lm)
    assert params["head_yaw"] == pytest.approx(yaw, abs=2.0)
    assert params["head_pitch"] == pytest.approx(pitch, abs=2.0)
    assert params["head_roll"] == pytest.approx(roll, abs=2.0)


def test_pose_relative_to_a_turned_neutral() -> None:
    turned = head_rotation(yaw=10, pitch=-8)
    solver = FaceSolver(Calibration.from_landmarks([project(NEUTRAL, turned)]))
    params = solver.process(project(NEUTRAL, head_rotation(yaw=20) @ turned))
    assert params["head_yaw"] == pytest.approx(20, abs=2.0)
    assert params["head_pitch"] == pytest.approx(0, abs=2.0)
    assert params["head_roll"] == pytest.approx(0, abs=2.0)


def test_default_calibration_reads_a_frontal_face_as_frontal() -> None:
    params = FaceSolver().process(project(NEUTRAL))
    for name in ("head_yaw", "head_roll"):
        assert abs(params[name]) < 3.0, name
    assert abs(params["head_pitch"]) < 8.0  # the default neutral is a typical webcam face, not this mannequin


def test_pose_is_clamped_to_the_rig_range() -> None:
    assert SOLVER.process(project(NEUTRAL, head_rotation(yaw=70)))["head_yaw"] == pytest.approx(45.0)


def test_translation_and_scale() -> None:
    face_px = float(np.linalg.norm(NEUTRAL[mesh.CHEEK_LEFT] - NEUTRAL[mesh.CHEEK_RIGHT])) * PX_PER_CM
    params = solve(shift_px=(0.5 * face_px, 0.25 * face_px))  # right and up
    assert params["head_x"] == pytest.approx(0.5, abs=0.01)
    assert params["head_y"] == pytest.approx(0.25, abs=0.01)
    assert params["head_scale"] == pytest.approx(1.0, abs=0.01)
    params = solve(scale=1.5)
    assert params["head_scale"] == pytest.approx(1.5, abs=0.01)
    assert params["head_x"] == pytest.approx(0.0, abs=0.01)


def test_expressions_do_not_depend_on_distance_or_pose() -> None:
    near = solve(scale=1.8)
    turned = solve(rotation=head_rotation(yaw=25, pitch=-10, roll=20))
    fields = (
        "eye_blink_left",
        "eye_blink_right",
        "gaze_x",
        "gaze_y",
        "brow_raise_left",
        "jaw_open",
        "mouth_smile",
    )
    for name in fields:
        assert near[name] == pytest.approx(0.0, abs=0.02), name
        assert turned[name] == pytest.approx(0.0, abs=0.05), name


def close_eye(cm: np.ndarray, upper: tuple[int, ...], lower: tuple[int, ...], amount: float) -> np.ndarray:
    out = cm.copy()
    out[list(upper)] += amount * (cm[list(lower)] - cm[list(upper)])
    return out


def test_blink_per_side() -> None:
    # The user's left eye is the one on the image's right (x > 0 here).
    assert NEUTRAL[mesh.LEFT_EYE_OUTER, 0] > 0
    left_shut = close_eye(NEUTRAL, mesh.LEFT_EYE_UPPER, mesh.LEFT_EYE_LOWER, 1.0)
    params = solve(left_shut)
    assert params["eye_blink_left"] == pytest.approx(1.0)
    assert params["eye_blink_right"] == pytest.approx(0.0, abs=0.01)
    half = solve(close_eye(NEUTRAL, mesh.RIGHT_EYE_UPPER, mesh.RIGHT_EYE_LOWER, 0.5))
    assert 0.4 < half["eye_blink_right"] < 0.65
    assert half["eye_blink_left"] == pytest.approx(0.0, abs=0.01)
    rolled = solve(left_shut, rotation=head_rotation(roll=35, yaw=15))
    assert rolled["eye_blink_left"] > 0.9 and rolled["eye_blink_right"] < 0.1


def move_irises(cm: np.ndarray, dx_cm: float, dy_cm: float) -> np.ndarray:
    out = cm.copy()
    for idx in (mesh.LEFT_IRIS_CENTER, *mesh.LEFT_IRIS_RIM, mesh.RIGHT_IRIS_CENTER, *mesh.RIGHT_IRIS_RIM):
        out[idx, :2] += (dx_cm, dy_cm)
    return out


def test_gaze() -> None:
    right = solve(move_irises(NEUTRAL, 0.5, 0.0))  # towards image right
    assert right["gaze_x"] > 0.5 and abs(right["gaze_y"]) < 0.05
    left = solve(move_irises(NEUTRAL, -0.5, 0.0))
    assert left["gaze_x"] < -0.5
    up = solve(move_irises(NEUTRAL, 0.0, 0.3))
    assert up["gaze_y"] > 0.5 and abs(up["gaze_x"]) < 0.05
    down_turned = solve(move_irises(NEUTRAL, 0.0, -0.3), rotation=head_rotation(yaw=-20, roll=15))
    assert down_turned["gaze_y"] < -0.5


def test_gaze_is_zero_without_iris_points() -> None:
    lm = project(NEUTRAL)
    params = SOLVER.process(Landmarks(lm.points[: mesh.N_MESH], W, H))
    assert params["gaze_x"] == 0.0 and params["gaze_y"] == 0.0


def open_jaw(cm: np.ndarray, cm_down: float) -> np.ndarray:
    """Drop the jaw; the lip corners, half on the jaw, follow 40 % of the way (as on the fixture clips)."""
    out = cm.copy()
    for idx in (mesh.LOWER_LIP_INNER, mesh.LOWER_LIP_OUTER, mesh.CHIN):
        out[idx, 1] -= cm_down
    out[[mesh.MOUTH_LEFT, mesh.MOUTH_RIGHT], 1] -= 0.4 * cm_down
    return out


def test_jaw_open_grows_with_the_lip_gap() -> None:
    readings = [solve(open_jaw(NEUTRAL, d))["jaw_open"] for d in (0.0, 1.0, 2.5, 6.0)]
    assert readings[0] == pytest.approx(0.0, abs=0.01)
    assert readings[1] < readings[2] < readings[3]
    assert readings[3] == 1.0  # clamped
    rolled = solve(open_jaw(NEUTRAL, 2.5), rotation=head_rotation(roll=30))
    assert rolled["jaw_open"] == pytest.approx(readings[2], abs=0.03)


def move_corners(cm: np.ndarray, out_cm: float, up_cm: float) -> np.ndarray:
    moved = cm.copy()
    moved[mesh.MOUTH_LEFT, :2] += (out_cm, up_cm)
    moved[mesh.MOUTH_RIGHT, :2] += (-out_cm, up_cm)
    return moved


def test_smile_and_frown() -> None:
    assert solve(move_corners(NEUTRAL, 0.8, 0.5))["mouth_smile"] > 0.7
    assert solve(move_corners(NEUTRAL, 0.0, -0.5))["mouth_smile"] < -0.5
    # An open jaw alone is not a smile.
    assert abs(solve(open_jaw(NEUTRAL, 2.5))["mouth_smile"]) < 0.2


def test_funnel_needs_a_narrow_round_mouth() -> None:
    pucker = move_corners(NEUTRAL, -0.8, 0.0)
    pucker[mesh.UPPER_LIP_OUTER, 1] += 0.3
    pucker[mesh.LOWER_LIP_OUTER, 1] -= 0.3
    assert solve(pucker)["mouth_funnel"] > 0.7
    assert solve(open_jaw(NEUTRAL, 2.5))["mouth_funnel"] == pytest.approx(0.0)


def test_brows() -> None:
    raised = NEUTRAL.copy()
    raised[list(mesh.LEFT_BROW), 1] += 0.4
    params = solve(raised)
    assert params["brow_raise_left"] > 0.5 and params["brow_raise_right"] == pytest.approx(0.0, abs=0.01)
    lowered = NEUTRAL.copy()
    lowered[list(mesh.RIGHT_BROW), 1] -= 0.4
    assert solve(lowered)["brow_raise_right"] < -0.5
    furrowed = NEUTRAL.copy()  # a frown lowers the inner brow ends and draws them together
    furrowed[[mesh.LEFT_BROW_INNER, mesh.RIGHT_BROW_INNER], 1] -= 0.6
    furrowed[mesh.LEFT_BROW_INNER, 0] -= 0.3
    furrowed[mesh.RIGHT_BROW_INNER, 0] += 0.3
    assert solve(furrowed)["brow_furrow"] > 0.5
    closer = NEUTRAL.copy()  # drawn together alone (a broad smile narrows the measured gap too): counts less
    closer[mesh.LEFT_BROW_INNER, 0] -= 0.3
    closer[mesh.RIGHT_BROW_INNER, 0] += 0.3
    assert 0.1 < solve(closer)["brow_furrow"] < 0.5
    assert solve()["brow_furrow"] == pytest.approx(0.0, abs=0.01)


def test_calibration_round_trip() -> None:
    cal = Calibration.from_landmarks([project(NEUTRAL, head_rotation(yaw=5), shift_px=(30, -10))])
    text = json.dumps(cal.to_dict())
    back = Calibration.from_dict(json.loads(text))
    assert json.loads(text)["version"] == 2
    for name in MEASUREMENTS:
        assert getattr(back, name) == pytest.approx(getattr(cal, name), abs=1e-5), name
    assert Calibration.from_dict(Calibration.default().to_dict()) == Calibration.default()


def test_calibration_is_the_median_of_its_samples() -> None:
    blink = close_eye(NEUTRAL, mesh.LEFT_EYE_UPPER, mesh.LEFT_EYE_LOWER, 1)
    cal = Calibration.from_landmarks(
        [project(NEUTRAL), project(NEUTRAL), project(blink)]
    )  # a blink during calibration does not count
    assert cal.eye_open_left == pytest.approx(SOLVER.calibration.eye_open_left)
    with pytest.raises(ConfigError):
        Calibration.from_landmarks([])


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"version": 1}, "version"),
        ({"rig_version": 7}, "rig_version"),
        ({"tracker": "Face Mesh!"}, "tracker"),
        ({"gains": {"jaw_open": 50.0}}, "jaw_open"),
        ({"gains": {"head_yaw": 1.5}}, "head_yaw"),
        ({"blendshapes": {"eyeBlinkLeft": 2.0}}, "blendshapes"),
        ({"blendshapes": {"eyeBlink": 0.1}}, "eyeBlink"),
        ({"version": None}, "version"),
        ({"face_width": "wide"}, "face_width"),
        ({"eye_open_left": float("nan")}, "eye_open_left"),
        ({"mouth_width": -0.3}, "mouth_width"),
        ({"yaw": True}, "yaw"),
        ({"blink": 0.5}, "blink"),
        ({"brow_gap": None}, "brow_gap"),
    ],
)
def test_malformed_calibration_names_the_field(change: dict[str, object], named: str) -> None:
    d = {**Calibration.default().to_dict(), **change}
    with pytest.raises(ConfigError, match=named):
        Calibration.from_dict(d)


def test_missing_calibration_field_is_named() -> None:
    d = Calibration.default().to_dict()
    del d["gaze_y"]
    with pytest.raises(ConfigError, match="gaze_y"):
        Calibration.from_dict(d)


def test_calibration_fields_follow_the_measurements() -> None:
    keys = tuple(Calibration.default().to_dict())
    assert keys == ("version", "rig_version", "tracker", *MEASUREMENTS, "blendshapes", "gains")
    assert set(SOLVER.measure(project(NEUTRAL))) == set(MEASUREMENTS)


def test_configs_refuse_bad_values_by_name() -> None:
    with pytest.raises(ConfigError, match="jaw_range"):
        SolverConfig(jaw_range=0.0)
    with pytest.raises(ConfigError, match="min_detection_confidence"):
        TrackerConfig(min_detection_confidence=1.5)
    with pytest.raises(ConfigError, match="max_faces"):
        TrackerConfig(max_faces=0)


def test_landmarks_refuse_bad_arrays() -> None:
    with pytest.raises(SourceError, match="478"):
        Landmarks(np.zeros((100, 3), np.float32), W, H)
    bad = project(NEUTRAL).points.copy()
    bad[5, 0] = np.nan
    with pytest.raises(SourceError, match="NaN"):
        Landmarks(bad, W, H)
    lm = project(NEUTRAL)
    with pytest.raises(ValueError):
        lm.points[0, 0] = 1.0  # read-only: a frozen boundary object
