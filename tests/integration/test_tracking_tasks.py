"""The Tasks FaceLandmarker back end on real fixtures, and faces that are hard for either back end."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from avatar.capture.files import read_image
from avatar.frames import Image, PixelFormat
from avatar.tracking.base import TrackerBackend, TrackerConfig
from avatar.tracking.calibration import Calibration
from avatar.tracking.follow import main_score
from avatar.tracking.reader import FaceRead, FaceReader
from avatar.tracking.tasks import TasksTracker
from avatar.tracking.tracker import FaceTracker, open_tracker
from tests.integration.test_tracking import read_frames

Read = Callable[..., list[FaceRead]]
LIMITS = {"lp_d18.mp4": 150, "lp_d14.mp4": 110}  # frames read (from 40 on) of the clips two tests share


def config(backend: str, fixtures: Path, **kw: object) -> TrackerConfig:
    model = str(fixtures / "mediapipe" / "face_landmarker.task") if backend == "tasks" else ""
    return TrackerConfig(backend=TrackerBackend(backend), face_model=model, **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def read(fixtures: Path) -> Read:
    """Readings of frames start..limit-1 of a clip per back end (online normaliser), shared by the module.

    Frames before `start` are decoded but not read (an empty FaceRead stands in), to keep the module fast.
    """
    cache: dict[tuple[str, str, int, int], list[FaceRead]] = {}

    def run(backend: str, clip: str, limit: int, start: int = 0) -> list[FaceRead]:
        key = (backend, clip, limit, start)
        if key not in cache:
            reader = FaceReader(config(backend, fixtures))
            skipped = FaceRead(None, None, None)
            try:
                frames = read_frames(fixtures / "videos" / clip, limit)
                cache[key] = [reader.process(Image(f, PixelFormat.BGR), i / 30) if i >= start else skipped
                              for i, f in enumerate(frames)]
            finally:
                reader.close()
        return cache[key]

    return run


def median(reads: list[FaceRead], frames: range, field: str) -> float:
    return float(np.median([reads[i].reading.params[field] for i in frames]))  # type: ignore[union-attr]


def test_golden_landmarks_tasks(fixtures: Path) -> None:
    expected = np.array(
        json.loads((fixtures / "mediapipe" / "business-person_expected_landmarks.json").read_text())["landmarks_xyz"]
    )
    image = read_image(fixtures / "mediapipe" / "business-person.png")
    with TasksTracker(TrackerConfig(static_images=True), fixtures / "mediapipe" / "face_landmarker.task") as t:
        lm = t.process(image)
    assert lm is not None and lm.points.shape == expected.shape == (478, 3)
    err = np.abs(lm.points - expected)
    # x and y match Google's expected landmarks to 2e-5; depth, the least certain coordinate, to 1.1e-4.
    assert float(err[:, :2].max()) < 1e-4
    assert float(err[:, 2].max()) < 2e-4
    assert lm.blendshapes is not None and lm.blendshapes.shape == (52,)
    assert lm.transform is not None and abs(np.linalg.det(lm.transform[:3, :3]) - 1) < 1e-3


def test_wink_sides_match_the_rig(read: Read) -> None:
    # lp_d3 frames 9-20: she closes the eye on the image's right, her own left; frames 38-45 the other one.
    for backend in ("tasks", "facemesh"):
        d3 = read(backend, "lp_d3.mp4", 50)
        assert median(d3, range(9, 21), "eye_blink_left") > 0.6, backend
        assert median(d3, range(9, 21), "eye_blink_right") < 0.3, backend
        assert median(d3, range(38, 46), "eye_blink_right") > 0.6, backend
        assert median(d3, range(38, 46), "eye_blink_left") < 0.3, backend
    shapes = [r.landmarks.blendshape("eyeBlinkLeft") - r.landmarks.blendshape("eyeBlinkRight")  # type: ignore[union-attr]
              for r in read("tasks", "lp_d3.mp4", 50)[9:21]]
    assert min(shapes) > 0.2  # MediaPipe's eyeBlinkLeft is the user's left eye: no swap needed


def test_back_ends_agree_on_a_real_clip(read: Read) -> None:
    # lp_d18: a wide-open "O" and a shout; lp_d14: the eyes dart left and right, with blinks.
    pairs = {"lp_d18.mp4": ("jaw_open", "head_yaw", "head_pitch", "head_x"),
             "lp_d14.mp4": ("gaze_x", "eye_blink_left", "eye_blink_right", "head_roll")}
    for clip, fields in pairs.items():
        a, b = read("facemesh", clip, LIMITS[clip], 40), read("tasks", clip, LIMITS[clip], 40)
        both = [i for i in range(min(len(a), len(b))) if a[i].reading and b[i].reading]
        assert len(both) >= LIMITS[clip] - 42
        for field in fields:
            x = [a[i].reading.params[field] for i in both]  # type: ignore[union-attr]
            y = [b[i].reading.params[field] for i in both]  # type: ignore[union-attr]
            assert np.corrcoef(x, y)[0, 1] > 0.75, (clip, field)


def test_tasks_reads_expressions_and_gaze(read: Read) -> None:
    d18 = read("tasks", "lp_d18.mp4", LIMITS["lp_d18.mp4"], 40)
    assert median(d18, range(45, 60), "jaw_open") < 0.1
    assert median(d18, range(128, 148), "jaw_open") > 0.7  # the shout
    assert median(d18, range(70, 90), "mouth_funnel") > 0.3  # the "O"
    d14 = read("tasks", "lp_d14.mp4", LIMITS["lp_d14.mp4"], 40)
    assert median(d14, range(80, 93), "gaze_x") > 0.5  # eyes to the image right, her left
    assert median(d14, range(96, 107), "gaze_x") < -0.5


def test_head_turn_from_the_transform(fixtures: Path) -> None:
    # lp_d3 frames 255-270: nose towards the image right and looking down, against her neutral in frames 0-4.
    frames = list(read_frames(fixtures / "videos" / "lp_d3.mp4", 271))
    with TasksTracker(TrackerConfig(static_images=True), fixtures / "mediapipe" / "face_landmarker.task") as t:
        neutral = [t.process(Image(f, PixelFormat.BGR)) for f in frames[:5]]
    assert all(lm is not None for lm in neutral)
    reader = FaceReader(config("tasks", fixtures), Calibration.from_landmarks(neutral))  # type: ignore[arg-type]
    try:
        frames = frames[255:]
        params = [reader.process(Image(f, PixelFormat.BGR), i / 30).reading.params  # type: ignore[union-attr]
                  for i, f in enumerate(frames)]
    finally:
        reader.close()
    assert all(lm is not None for lm in params)
    assert np.median([p["head_yaw"] for p in params]) > 10
    assert np.median([p["head_pitch"] for p in params]) < -5


def test_several_faces_pick_the_main_one(fixtures: Path) -> None:
    group = read_image(fixtures / "images" / "misc" / "multi_face.jpg")
    for backend in ("facemesh", "tasks"):
        # Faces in a group photo are small: the detector needs a lower bar than for a webcam close-up.
        with FaceTracker(config(backend, fixtures, static_images=True, max_faces=5,
                                min_detection_confidence=0.3)) as t:
            faces = t.process_all(group)
            main = t.process(group)
        assert len(faces) >= 2, backend
        boxes = [f.box() for f in faces]
        for i, (x, y, w, h) in enumerate(boxes):  # no face reported twice
            assert all(abs(x - bx) > w / 2 or abs(y - by) > h / 2 for bx, by, _, _ in boxes[i + 1 :])
        assert main is not None and main_score(main) == max(main_score(f) for f in faces)


def test_following_a_face_in_a_group_does_not_jump(fixtures: Path) -> None:
    group = cv2.imread(str(fixtures / "images" / "misc" / "multi_face.jpg"))
    with FaceTracker(config("facemesh", fixtures, max_faces=4)) as t:
        centres = []
        for i in range(20):  # a slow pan: the picture slides 6 px left per frame
            shift = np.float32([[1, 0, -6 * i], [0, 1, 0]])
            frame = cv2.warpAffine(group, shift, (group.shape[1], group.shape[0]))
            lm = t.process(Image(frame, PixelFormat.BGR), i / 30)
            assert lm is not None
            centres.append(lm.box()[0] + 6 * i)  # back in the picture's own coordinates
    assert max(centres) - min(centres) < 15  # the same face all along


def test_small_face_far_from_the_camera(fixtures: Path) -> None:
    for backend in ("facemesh", "tasks"):
        with FaceTracker(config(backend, fixtures)) as t:
            faces = [t.process(Image(f, PixelFormat.BGR), i / 30)
                     for i, f in enumerate(read_frames(fixtures / "videos" / "lp_s20_small_face.mp4", 30))]
        found = [f for f in faces if f is not None]
        assert len(found) >= 0.9 * len(faces), backend
        assert np.median([f.box()[2] / f.image_width for f in found]) < 0.4  # a small face indeed


def test_face_leaves_and_enters_with_tasks(read: Read) -> None:
    # pyfeat_face_noface: a face until about frame 72, then an animated title; noface_face is the reverse.
    leaves = read("tasks", "pyfeat_face_noface.mov", 169, 40)
    assert sum(r.reading is not None for r in leaves[40:65]) >= 0.95 * 25
    assert sum(r.reading is not None for r in leaves[85:]) <= 2  # the title animation fools it once
    enters = read("tasks", "pyfeat_noface_face.mov", 130, 60)
    assert all(r.reading is None for r in enters[60:85])
    assert sum(r.reading is not None for r in enters[100:130]) >= 0.95 * 30


def test_odd_frames_are_converted(fixtures: Path) -> None:
    bgr = cv2.imread(str(fixtures / "mediapipe" / "business-person.png"))
    odd = bgr[101:834, 37:538]  # 501 x 733: odd sizes, not a multiple of anything
    images = [Image(cv2.cvtColor(odd, cv2.COLOR_BGR2GRAY), PixelFormat.GRAY),
              Image(cv2.cvtColor(odd, cv2.COLOR_BGR2RGBA), PixelFormat.RGBA), Image(odd, PixelFormat.BGR)]
    tracker = open_tracker(config("tasks", fixtures, static_images=True))
    try:
        found = [tracker.process_all(im) for im in images]
    finally:
        tracker.close()
    assert all(len(f) == 1 for f in found)
    assert all(f[0].image_width == 501 and f[0].image_height == 733 for f in found)
    assert np.abs(found[1][0].points - found[2][0].points).max() < 1e-4  # RGBA = BGR once converted
