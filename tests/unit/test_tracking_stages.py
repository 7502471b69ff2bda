"""Tracking stages on synthetic data: face following, the tracker registry, blendshapes, cues, mirror, normaliser."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from avatar.errors import ConfigError, ModelError, SourceError
from avatar.expression.rig import Expression, FaceParams
from avatar.frames import Image, PixelFormat
from avatar.tracking import tracker as registry
from avatar.tracking.base import BLENDSHAPE_INDEX, BLENDSHAPE_NAMES, Landmarks, TrackerBackend, TrackerConfig, as_rgb
from avatar.tracking.blend import BlendConfig, blend_fields
from avatar.tracking.calibration import DEFAULT_BLENDSHAPES, Calibration, load_profile, profile_path, save_profile
from avatar.tracking.cues import FaceCues
from avatar.tracking.follow import FaceFollower, distinct, pick_main
from avatar.tracking.mirror import ExpressionReader, MirrorConfig, MirrorSmoother, strongest
from avatar.tracking.normaliser import NormaliserConfig, OnlineNormaliser
from avatar.tracking.solver import FaceSolver
from tests.unit.test_solver import NEUTRAL, head_rotation, open_jaw, project

FACE_W = 0.3  # synthetic face box width, fraction of the image


def box_face(cx: float, cy: float, width: float = FACE_W, w: int = 640, h: int = 480) -> Landmarks:
    """A landmark set whose bounding box is centred at (cx, cy) (normalised) and `width` wide."""
    pts = np.zeros((478, 3), np.float32)
    pts[:, 0] = cx + np.linspace(-width / 2, width / 2, 478)
    pts[:, 1] = cy + np.linspace(-width / 2, width / 2, 478) * w / h
    return Landmarks(pts, w, h)


def test_main_face_is_large_and_central() -> None:
    small_centre, big_corner, mid = box_face(0.5, 0.5, 0.1), box_face(0.15, 0.2, 0.25), box_face(0.45, 0.5, 0.2)
    assert pick_main([small_centre, big_corner, mid]) is mid
    assert pick_main([]) is None


def test_duplicates_are_dropped() -> None:
    a, dup, other = box_face(0.5, 0.5), box_face(0.52, 0.49, 0.35), box_face(0.1, 0.5, 0.1)
    assert distinct([a, dup, other]) == (a, other)


def test_follower_keeps_its_face_when_a_bigger_one_arrives() -> None:
    f = FaceFollower()
    me = box_face(0.3, 0.5, 0.2)
    assert f.step([me], 0.0) is me
    for i in range(1, 20):  # I drift right; a bigger, more central face walks in
        mine = box_face(0.3 + 0.005 * i, 0.5, 0.2)
        bigger = box_face(0.6, 0.5, 0.3)
        assert f.step([bigger, mine], i / 30) is mine
    gone_t = 20 / 30
    assert f.step([bigger], gone_t) is None  # mine left: hold off, no jump to the other face yet
    assert f.step([bigger], gone_t + 0.3) is None
    assert f.step([bigger], gone_t + 0.7) is bigger  # after patience_s, take the main face


def test_follower_takes_a_returning_face_back_immediately() -> None:
    f = FaceFollower()
    me = box_face(0.5, 0.5)
    f.step([me], 0.0)
    assert f.step([], 0.1) is None
    back = box_face(0.52, 0.5)
    assert f.step([back], 0.2) is back


class FakeTracker:
    name = "fake"

    def __init__(self, faces: list[tuple[Landmarks, ...]]) -> None:
        self.faces, self.calls, self.closed = faces, 0, False

    def process_all(self, image: Image, t: float | None = None) -> tuple[Landmarks, ...]:
        out = self.faces[min(self.calls, len(self.faces) - 1)]
        self.calls += 1
        return out

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def clean_registry(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict:
    reg = dict(registry._REGISTRY)
    monkeypatch.setattr(registry, "_REGISTRY", reg)
    monkeypatch.setenv("EMOTEBOT_ENGINES", str(tmp_path / "no-engines"))
    return reg


def test_registry_tries_back_ends_in_order(clean_registry: dict) -> None:
    fake = FakeTracker([(box_face(0.5, 0.5),)])
    registry.register_tracker("fake", lambda config: fake, first=True)
    assert registry.open_tracker(TrackerConfig()) is fake
    registry.unregister_tracker("fake")
    # No bundle in engines/: "auto" skips Tasks and lands on the bundled FaceMesh.
    tracker = registry.open_tracker(TrackerConfig())
    assert tracker.name == "facemesh"
    tracker.close()


def test_registry_errors(clean_registry: dict) -> None:
    with pytest.raises(ModelError, match="models fetch face-landmarker"):
        registry.open_tracker(TrackerConfig(backend=TrackerBackend.TASKS))

    def broken(config: TrackerConfig) -> FakeTracker:
        raise registry.TrackerUnavailableError("no camera of that kind")

    clean_registry.clear()
    registry.register_tracker("a", broken)
    registry.register_tracker("b", broken)
    with pytest.raises(SourceError, match="a: no camera of that kind; b: no camera"):
        registry.open_tracker(TrackerConfig())
    with pytest.raises(ConfigError, match="face_model"):
        registry._tasks(TrackerConfig(face_model="/nowhere/face_landmarker.task"))


def test_face_tracker_follows_through_the_registry_protocol() -> None:
    a, b = box_face(0.3, 0.5, 0.2), box_face(0.7, 0.5, 0.25)
    fake = FakeTracker([(a,), (b, a), (b,)])
    ft = registry.FaceTracker(TrackerConfig(max_faces=2), backend=fake)
    assert ft.name == "fake"
    assert ft.process(Image(np.zeros((32, 32, 3), np.uint8), PixelFormat.BGR), 0.0) is a
    assert ft.process(Image(np.zeros((32, 32, 3), np.uint8), PixelFormat.BGR), 0.03) is a
    assert ft.process(Image(np.zeros((32, 32, 3), np.uint8), PixelFormat.BGR), 0.06) is None
    ft.close()
    assert fake.closed


def test_tracker_config_is_validated() -> None:
    with pytest.raises(ConfigError, match="backend"):
        TrackerConfig(backend="dlib")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="max_faces"):
        TrackerConfig(max_faces=11)


def test_images_are_checked_before_mediapipe_sees_them() -> None:
    gray = Image(np.full((40, 50), 128, np.uint8), PixelFormat.GRAY)
    assert as_rgb(gray).shape == (40, 50, 3)
    rgba = Image(np.zeros((41, 33, 4), np.uint8), PixelFormat.RGBA)
    assert as_rgb(rgba).shape == (41, 33, 3) and as_rgb(rgba).flags.c_contiguous
    with pytest.raises(SourceError, match="too small"):
        as_rgb(Image(np.zeros((8, 8, 3), np.uint8), PixelFormat.BGR))
    with pytest.raises(SourceError, match="uint8"):
        Image(np.zeros((40, 40, 3), np.float32), PixelFormat.BGR)


def test_landmarks_check_blendshapes_and_transform() -> None:
    pts = project(NEUTRAL).points
    with pytest.raises(SourceError, match="52"):
        Landmarks(pts, 640, 480, blendshapes=np.zeros(10))
    with pytest.raises(SourceError, match="4x4"):
        Landmarks(pts, 640, 480, transform=np.eye(3))
    lm = Landmarks(pts, 640, 480, blendshapes=np.linspace(0, 1, 52))
    assert lm.blendshape("noseSneerRight") == pytest.approx(1.0)
    assert project(NEUTRAL).blendshape("jawOpen") == 0.0


def scores(**rises: float) -> np.ndarray:
    """Blendshape scores: the default neutral plus the given rises."""
    b = np.array(DEFAULT_BLENDSHAPES, dtype=np.float32)
    for name, v in rises.items():
        b[BLENDSHAPE_INDEX[name]] += v
    return b


def test_blendshape_fields() -> None:
    k = BlendConfig()
    rest = blend_fields(scores(), DEFAULT_BLENDSHAPES, k)
    assert all(abs(v) < 1e-6 or (name.startswith("eye_blink") and v < 0) for name, v in rest.items()), rest
    wink = blend_fields(scores(eyeBlinkLeft=0.5), DEFAULT_BLENDSHAPES, k)  # MediaPipe's "Left" = the user's left
    assert wink["eye_blink_left"] >= 1.0 and wink["eye_blink_right"] < 0
    looking_down = blend_fields(scores(eyeBlinkLeft=0.2, eyeLookDownLeft=0.3, eyeLookDownRight=0.3),
                                DEFAULT_BLENDSHAPES, k)
    assert looking_down["eye_blink_left"] < 0.1 and looking_down["gaze_y"] < -0.5
    left = blend_fields(scores(eyeLookOutLeft=0.8, eyeLookInRight=0.8), DEFAULT_BLENDSHAPES, k)
    assert left["gaze_x"] == pytest.approx(1.0)  # both eyes towards the user's left = image right = +
    assert blend_fields(scores(jawOpen=0.85), DEFAULT_BLENDSHAPES, k)["jaw_open"] == pytest.approx(1.0)
    assert blend_fields(scores(mouthSmileLeft=0.75, mouthSmileRight=0.75), DEFAULT_BLENDSHAPES, k)[
        "mouth_smile"] == pytest.approx(1.0)
    assert blend_fields(scores(mouthFrownLeft=0.3, mouthFrownRight=0.3), DEFAULT_BLENDSHAPES, k)[
        "mouth_smile"] == pytest.approx(-1.0)
    frown = blend_fields(scores(browDownLeft=0.45, browDownRight=0.45), DEFAULT_BLENDSHAPES, k)
    assert frown["brow_furrow"] == pytest.approx(1.0) and frown["brow_raise_left"] == pytest.approx(-1.0)


def test_solver_reads_blendshapes_and_the_transform_when_given() -> None:
    lm = project(NEUTRAL)
    turn = np.eye(4)
    turn[:3, :3] = head_rotation(yaw=20, pitch=10 + 4.0)  # the transform reads 4° more pitch (measure.py)
    tasks = Landmarks(lm.points, lm.image_width, lm.image_height,
                      blendshapes=scores(jawOpen=0.425, eyeBlinkRight=0.5), transform=turn)
    cal = Calibration.from_landmarks([project(NEUTRAL)])
    params = FaceSolver(cal).process(tasks)
    assert params["jaw_open"] == pytest.approx(0.5, abs=0.01)
    assert params["eye_blink_right"] == pytest.approx(1.0) and params["eye_blink_left"] == 0.0
    assert params["head_yaw"] == pytest.approx(20, abs=0.5)
    assert params["head_pitch"] == pytest.approx(10 - cal.pitch, abs=0.5)
    geometric = FaceSolver(cal).process(project(open_jaw(NEUTRAL, 2.5)))
    assert geometric["jaw_open"] > 0.2  # without blendshapes the landmarks still give every field


def cues(**values: float) -> FaceCues:
    return FaceCues(**values)


@pytest.mark.parametrize(
    ("face", "expected"),
    [
        (cues(), Expression.NEUTRAL),
        (cues(lip_corner_pull=0.8, cheek_raise=0.5), Expression.HAPPY),
        (cues(lip_corner_pull=0.9, jaw_drop=0.8, outer_brow_raise=0.9), Expression.HAPPY),  # a laugh
        (cues(inner_brow_raise=0.8, outer_brow_raise=0.8, upper_lid_raise=0.6, jaw_drop=0.7), Expression.SURPRISED),
        (cues(lip_corner_depress=0.8, inner_brow_raise=0.6), Expression.SAD),
        (cues(brow_lower=0.9, lid_tighten=0.6, lip_press=0.7), Expression.ANGRY),
        (cues(jaw_drop=0.8), Expression.NEUTRAL),  # talking is not surprise
        (cues(outer_brow_raise=0.3), Expression.NEUTRAL),
    ],
)
def test_mirror_reads_facs_prototypes(face: FaceCues, expected: Expression) -> None:
    weights = ExpressionReader().process(face)
    assert set(weights) == set(Expression)
    assert sum(weights.values()) == pytest.approx(1.0)
    assert strongest(weights) is expected


def test_mirror_smoother_eases_and_can_be_off() -> None:
    assert MirrorSmoother(MirrorConfig(enabled=False)).step({Expression.HAPPY: 1.0}, 0.0) is None
    s = MirrorSmoother(MirrorConfig(enabled=True, ease_s=0.2))
    happy = {e: float(e is Expression.HAPPY) for e in Expression}
    assert s.step(happy, 0.0)[Expression.NEUTRAL] == 1.0  # type: ignore[index]
    w = s.step(happy, 0.2)
    assert w is not None and w[Expression.HAPPY] == pytest.approx(1 - math.exp(-1), abs=1e-6)
    w = s.step(None, 2.0)  # face lost: back to neutral
    assert w is not None and w[Expression.NEUTRAL] > 0.99
    with pytest.raises(ConfigError, match=r"face_expression\.full"):
        MirrorConfig(onset=0.5, full=0.4)


def test_normaliser_learns_where_the_user_sits_and_their_neutral() -> None:
    off_centre = [project(NEUTRAL, head_rotation(yaw=8), shift_px=(120, -40), scale=0.8) for _ in range(3)]
    mouth = project(open_jaw(NEUTRAL, 2.0), head_rotation(yaw=8), shift_px=(120, -40), scale=0.8)
    n = OnlineNormaliser(NormaliserConfig(warmup_samples=12))
    raw = FaceParams.rest()
    cal = None
    for i in range(40):  # mostly resting, talking now and then
        lm = mouth if i % 4 == 3 else off_centre[i % 3]
        cal = n.step(lm, raw, i / 30)
        if i < 11:
            assert cal is None  # not warmed up: the default calibration stays
    assert cal is not None
    params = FaceSolver(cal).process(off_centre[0])
    for name in ("head_x", "head_y", "head_yaw", "jaw_open", "mouth_smile"):
        assert params[name] == pytest.approx(0.0, abs=0.02), name
    assert params["head_scale"] == pytest.approx(1.0, abs=0.01)
    assert FaceSolver(cal).process(mouth)["jaw_open"] > 0.2


def test_normaliser_adapts_ranges_only_on_evidence() -> None:
    lm = project(NEUTRAL)
    n = OnlineNormaliser(NormaliserConfig(warmup_samples=5, sample_hz=1000))
    for i in range(200):  # this user's mouth opens to 1.6 on the default range: shrink it
        jaw = 1.6 if i % 10 == 0 else 0.0
        cal = n.step(lm, FaceParams.from_dict({"jaw_open": jaw, "mouth_smile": 0.1 * (i % 2)}), i / 30)
    assert cal is not None
    assert dict(cal.gains)["jaw_open"] == pytest.approx(0.7)  # 0.9 / 1.6, held by the lower limit
    assert "mouth_smile" not in dict(cal.gains)  # a 0.1 wobble is no evidence of a range


def test_profiles_round_trip_and_explain_errors(tmp_path: Path) -> None:
    cal = Calibration.from_landmarks([project(NEUTRAL)], tracker="facemesh").with_gains({"jaw_open": 1.3})
    path = save_profile(cal, profile_path("me", tmp_path))
    assert path == tmp_path / "me.json"
    back = load_profile(path)
    assert back.gains == (("jaw_open", 1.3),) and back.tracker == "facemesh"
    assert back.blendshapes == pytest.approx(DEFAULT_BLENDSHAPES)
    assert profile_path("x/y.json") == Path("x/y.json")
    with pytest.raises(ConfigError, match="emotebot calibrate"):
        load_profile(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_profile(tmp_path / "bad.json")
    old = {k: v for k, v in cal.to_dict().items() if k not in ("blendshapes", "gains", "rig_version", "tracker")}
    (tmp_path / "v1.json").write_text(json.dumps({**old, "version": 1}))
    with pytest.raises(ConfigError, match=r"v1.json.*'version' must be 2.*calibrate"):
        load_profile(tmp_path / "v1.json")


def test_shipped_default_profile_is_the_code_default() -> None:
    shipped = Path(__file__).resolve().parents[2] / "calibration" / "default.json"
    assert load_profile(shipped) == Calibration.default()


def test_blendshape_names_are_mediapipes() -> None:
    assert len(BLENDSHAPE_NAMES) == 52 and BLENDSHAPE_NAMES[0] == "_neutral"
    assert BLENDSHAPE_INDEX["eyeBlinkLeft"] == 9 and BLENDSHAPE_INDEX["noseSneerRight"] == 51
