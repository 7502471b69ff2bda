"""Tracker and solver on the real fixture clips and Google's golden landmarks."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from avatar.errors import SourceError
from avatar.frames import Image, PixelFormat
from avatar.tracking.facemesh import FaceMeshTracker, Landmarks, TrackerConfig
from avatar.tracking.solver import Calibration, FaceSolver

Track = Callable[[str, int], list[Landmarks | None]]


def read_frames(path: Path, limit: int) -> Iterator[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened(), f"cannot open {path}"
    try:
        for _ in range(limit):
            ok, frame = cap.read()
            if not ok:
                return
            yield frame
    finally:
        cap.release()


@pytest.fixture(scope="module")
def track(fixtures: Path) -> Track:
    """Landmarks (or None) for the first `limit` frames of a clip, tracked once per module and shared."""
    cache: dict[tuple[str, int], list[Landmarks | None]] = {}

    def run(clip: str, limit: int) -> list[Landmarks | None]:
        if (clip, limit) not in cache:
            with FaceMeshTracker() as tracker:
                frames = read_frames(fixtures / "videos" / clip, limit)
                cache[(clip, limit)] = [tracker.process(Image(f, PixelFormat.BGR)) for f in frames]
        return cache[(clip, limit)]

    return run


def solve_clip(faces: list[Landmarks | None], neutral: range) -> list[dict[str, float]]:
    """FaceParams per frame, calibrated on the clip's own neutral frames."""
    samples = [faces[i] for i in neutral]
    assert all(s is not None for s in samples), "the neutral frames must all have a face"
    solver = FaceSolver(Calibration.from_landmarks(samples))  # type: ignore[arg-type]
    return [solver.process(lm).to_dict() if lm is not None else {} for lm in faces]


def window(params: list[dict[str, float]], frames: range, field: str) -> float:
    return float(np.median([params[i][field] for i in frames]))


# Frame caps keep the module fast while covering the moments the tests look at.
FACE_CLIPS = {
    "lp_d0.mp4": 78,
    "lp_d3.mp4": 272,
    "lp_d9.mp4": 90,
    "lp_d18.mp4": 150,
    "pyfeat_single_face.mp4": 72,
}


@pytest.mark.parametrize(("clip", "limit"), FACE_CLIPS.items())
def test_face_found_in_nearly_every_frame(track: Track, clip: str, limit: int) -> None:
    faces = track(clip, limit)
    assert len(faces) >= min(limit, 70)
    found = sum(lm is not None for lm in faces) / len(faces)
    assert found >= 0.95, f"{clip}: face in {found:.0%} of frames"
    lm = next(lm for lm in faces if lm is not None)
    assert lm.points.shape == (478, 3) and lm.has_irises


def test_no_face_in_the_no_face_clip(track: Track) -> None:
    faces = track("pyfeat_no_face.mp4", 200)
    assert len(faces) > 80
    assert all(lm is None for lm in faces)


def test_face_leaves_then_enters(track: Track) -> None:
    # pyfeat_face_noface: a face until about frame 72, then an animated title; noface_face is the reverse.
    leaves = track("pyfeat_face_noface.mov", 200)
    assert sum(lm is not None for lm in leaves[:65]) >= 0.95 * 65
    assert all(lm is None for lm in leaves[85:]) and len(leaves) > 150
    enters = track("pyfeat_noface_face.mov", 200)
    assert all(lm is None for lm in enters[:85])
    assert sum(lm is not None for lm in enters[100:160]) >= 0.95 * 60  # the tracker kept going and found it


def test_jaw_opens_in_the_grin_and_the_open_mouth(track: Track) -> None:
    grin = solve_clip(track("lp_d0.mp4", 78), neutral=range(0, 5))
    assert window(grin, range(0, 10), "jaw_open") < 0.05
    assert window(grin, range(28, 62), "jaw_open") > 0.15  # teeth bared: lips apart
    assert window(grin, range(28, 62), "mouth_smile") > 0.5
    wide = solve_clip(track("lp_d18.mp4", 150), neutral=range(0, 5))
    assert window(wide, range(0, 10), "jaw_open") < 0.05
    assert window(wide, range(70, 90), "jaw_open") > 0.5  # the "O"
    assert window(wide, range(70, 90), "mouth_funnel") > 0.4
    assert window(wide, range(128, 148), "jaw_open") > 0.8  # the wide-open shout


def test_wink_sides_and_head_turn(track: Track) -> None:
    d3 = solve_clip(track("lp_d3.mp4", 272), neutral=range(0, 5))
    # Frames 9-20: she winks the eye on the image right, her own left; frames 38-45 the other one.
    assert window(d3, range(9, 21), "eye_blink_left") > 0.6
    assert window(d3, range(9, 21), "eye_blink_right") < 0.4
    assert window(d3, range(38, 46), "eye_blink_right") > 0.6
    assert window(d3, range(38, 46), "eye_blink_left") < 0.4
    # Frames 255-270: nose towards the image right and looking down.
    assert window(d3, range(255, 271), "head_yaw") > 10
    assert window(d3, range(255, 271), "head_pitch") < -5


def test_gaze_left_and_right(track: Track) -> None:
    # The clip darts its eyes: frames 80-92 to the image right (her left), 96-106 to the image left.
    d14 = solve_clip(track("lp_d14.mp4", 110), neutral=range(24, 40))
    assert window(d14, range(80, 93), "gaze_x") > 0.5
    assert window(d14, range(96, 107), "gaze_x") < -0.5
    assert abs(window(d14, range(68, 78), "gaze_x")) < 0.2  # looking ahead in between


@pytest.fixture(scope="module")
def business_person(fixtures: Path) -> np.ndarray:
    bgr = cv2.imread(str(fixtures / "mediapipe" / "business-person.png"))
    assert bgr is not None
    return bgr


def test_golden_landmarks(fixtures: Path, business_person: np.ndarray) -> None:
    expected = np.array(
        json.loads((fixtures / "mediapipe" / "business-person_expected_landmarks.json").read_text())[
            "landmarks_xyz"
        ]
    )
    with FaceMeshTracker(TrackerConfig(static_images=True)) as tracker:
        lm = tracker.process(Image(business_person, PixelFormat.BGR))
    assert lm is not None
    assert (lm.image_width, lm.image_height) == (958, 1358)
    assert expected.shape == lm.points.shape == (478, 3)
    assert float(np.abs(lm.points - expected).max()) < 0.01


def test_colour_order_is_converted_for_mediapipe(business_person: np.ndarray) -> None:
    rgb = cv2.cvtColor(business_person, cv2.COLOR_BGR2RGB)
    with FaceMeshTracker(TrackerConfig(static_images=True)) as tracker:
        seen: list[np.ndarray] = []
        real = tracker._mesh

        class Spy:  # records exactly what MediaPipe is handed
            def process(self, pixels: np.ndarray) -> object:
                seen.append(pixels.copy())
                return real.process(pixels)

        tracker._mesh = Spy()
        from_bgr = tracker.process(Image(business_person, PixelFormat.BGR))
        from_rgb = tracker.process(Image(rgb, PixelFormat.RGB))
        from_bgra = tracker.process(
            Image(cv2.cvtColor(business_person, cv2.COLOR_BGR2BGRA), PixelFormat.BGRA)
        )
        mislabelled = tracker.process(
            Image(business_person, PixelFormat.RGB)
        )  # BGR pixels claiming to be RGB
        tracker._mesh = real
    assert np.array_equal(seen[0], rgb) and np.array_equal(seen[1], rgb) and np.array_equal(seen[2], rgb)
    assert not np.array_equal(seen[3], rgb)
    assert from_bgr is not None and from_rgb is not None and from_bgra is not None and mislabelled is not None
    assert np.abs(from_bgr.points - from_rgb.points).max() < 1e-6
    assert np.abs(from_bgra.points - from_rgb.points).max() < 1e-6
    assert np.abs(mislabelled.points - from_rgb.points).max() > 1e-4  # MediaPipe does see colour order


def test_tracker_refuses_bad_input(business_person: np.ndarray) -> None:
    tracker = FaceMeshTracker(TrackerConfig(static_images=True))
    with pytest.raises(SourceError, match="Image"):
        tracker.process(business_person)  # type: ignore[arg-type]
    with pytest.raises(SourceError, match="channel"):
        Image(business_person[:, :, :2].copy(), PixelFormat.BGR)
    gray = Image(cv2.cvtColor(business_person, cv2.COLOR_BGR2GRAY), PixelFormat.GRAY)
    assert tracker.process(gray) is not None  # converted to RGB, still a face
    with tracker:
        pass
    with pytest.raises(SourceError, match="closed"):
        tracker.process(gray)
    tracker.close()  # closing twice is harmless


def test_track_video_tracks_every_frame_and_passes_them_through_a_perturbation_first(fixtures: Path) -> None:
    from avatar.smoothing.measure_noise import track_video

    path = fixtures / "videos" / "pyfeat_single_face.mp4"
    plain = track_video(path)
    assert plain.name == "pyfeat_single_face.mp4" and len(plain.values) == 72 and plain.present.all()
    seen: list[int] = []

    def dark_after_half(frames: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        for i, px in enumerate(frames):
            seen.append(i)
            yield px if i < 36 else np.zeros_like(px)

    dark = track_video(path, dark_after_half, "dark")
    assert dark.name == "dark" and len(seen) == 72
    assert dark.present[:36].all() and not dark.present[36:].any()
    np.testing.assert_allclose(dark.values[:30], plain.values[:30], atol=1e-6)  # same tracker, same frames


def test_tracked_videos_come_from_the_cache_only_when_it_holds_those_videos(fixtures: Path, tmp_path: Path) -> None:
    from avatar.smoothing.measure_noise import fixture_videos

    cache = tmp_path / "videos.npz"
    one = ("pyfeat_single_face.mp4",)
    first = fixture_videos(fixtures, cache, one)
    assert [c.name for c in first] == list(one) and cache.is_file()
    again = fixture_videos(fixtures, cache, one)  # read back, not tracked: identical arrays
    np.testing.assert_array_equal(again[0].values, first[0].values)
    # a cache of other videos is not handed back under these names: they are tracked and the cache rewritten
    np.savez_compressed(cache, names=np.array(["lp_d0.mp4"]), fps=np.array([30.0]),
                        values_0=np.zeros((3, first[0].values.shape[1])), present_0=np.ones(3, dtype=bool))
    fresh = fixture_videos(fixtures, cache, one)
    assert [c.name for c in fresh] == list(one) and len(fresh[0].values) == 72
    with np.load(cache) as z:
        assert [str(n) for n in z["names"]] == list(one)
