"""Measure the tracker's noise on the fixture clips and write the profile the smoother is trained on.

Run: `python -m avatar.smoothing.measure_noise [--fixtures DIR] [--out avatar/smoothing/noise_profile.json]`.
Three kinds of input, all through the live tracking path (FaceMeshTracker + FaceSolver, first frames setting
the user's position as FrameProcessor does):
- the fixture videos (real people, real camera noise and compression), legacy FaceMesh in video mode: the
  Gaussian noise level, outliers and dropped frames come from their still stretches;
- still images repeated as static clips with webcam-like sensor noise added (pure jitter, no motion): the
  noise's temporal correlation, spectrum and cross-field correlation;
- the same static clips in FaceMesh's static-image mode (detection on every frame, no tracking at all) and
  the Tasks FaceLandmarker in video mode, for comparison: how much the tracking itself filters.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np

from avatar.errors import ConfigError
from avatar.expression.rig import FACE_FIELD_NAMES, N_FACE
from avatar.frames import Image, PixelFormat
from avatar.smoothing.noise import PROFILE_PATH, Clip, NoiseProfile, estimate, spectrum_bands
from avatar.tracking.facemesh import FaceMeshTracker, Landmarks, TrackerConfig
from avatar.tracking.solver import Calibration, FaceSolver

log = logging.getLogger(__name__)

VIDEOS = ("lp_d0.mp4", "lp_d3.mp4", "lp_d6.mp4", "lp_d9.mp4", "lp_d10.mp4", "lp_d12.mp4", "lp_d14.mp4",
          "lp_d18.mp4", "lp_d19.mp4", "pyfeat_single_face.mp4")
# Fixture videos with a face that nothing here was made from (not the profile, not a training choice): the
# smoother benchmark scores them apart, each cut to its longest run of frames with a face.
HELD_OUT_VIDEOS = ("lp_s20_small_face.mp4", "pyfeat_face_noface.mov", "pyfeat_noface_face.mov")
STILLS = ("misc/single_face.jpg", "labeled/pyfeat_happy.jpg", "labeled/sadtalker_sad.png", "misc/lp_s9.jpg")
SENSOR_SIGMA = 3.0  # grey levels of iid pixel noise: a webcam in ordinary room light
STATIC_FRAMES = 150  # 5 s at 30 fps per still
_AUTO_FRAMES = 15  # the first face frames of a clip are taken as its neutral face

Tracker = Callable[[Image], Landmarks | None]


def video_frames(path: Path) -> tuple[Iterator[np.ndarray], float]:
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0

    def frames() -> Iterator[np.ndarray]:
        try:
            while True:
                ok, px = cap.read()
                if not ok:
                    return
                yield px
        finally:
            cap.release()

    return frames(), float(fps)


def _static_frames(path: Path, sigma: float, seed: int) -> Iterator[np.ndarray]:
    img = cv2.imread(str(path))
    rng = np.random.default_rng(seed)
    for _ in range(STATIC_FRAMES):
        yield np.clip(img + rng.normal(0.0, sigma, img.shape), 0, 255).astype(np.uint8)


def _unclamped(solver: FaceSolver, lm: Landmarks) -> np.ndarray:
    """The solver's field values before it clips them to the rig's ranges.

    Noise measured after the clip reads zero wherever a field rests on its bound (open eyes, closed mouth),
    yet it is there underneath; the training data adds noise to clean values and clips the same way.
    """
    m = solver.measure(lm)
    try:
        values = {**solver._head(m, lm), **solver._eyes(m, lm), **solver._brows(m), **solver._mouth(m)}
    except AttributeError:  # the solver was restructured: fall back to its clamped output
        log.warning("solver internals changed; measuring clamped values (noise at the bounds reads low)")
        return solver.process(lm).values.astype(np.float64)
    return np.array([values[n] for n in FACE_FIELD_NAMES], dtype=np.float64)


def track_clip(frames: Iterator[np.ndarray], fps: float, tracker: Tracker, name: str) -> Clip:
    """Track every frame and solve it against the clip's own neutral (its first frames), as after calibrating."""
    found: list[Landmarks | None] = [tracker(Image(px, PixelFormat.BGR)) for px in frames]
    faces = [lm for lm in found if lm is not None]
    if not faces:
        return Clip(np.zeros((len(found), N_FACE)), np.zeros(len(found), dtype=bool), fps, name)
    try:
        calibration = Calibration.from_landmarks(faces[:_AUTO_FRAMES])
    except ConfigError:  # an implausible neutral (a painting, a cartoon): keep the population average
        calibration = Calibration.default()
    solver = FaceSolver(calibration)
    values = np.array([_unclamped(solver, lm) if lm else np.zeros(N_FACE) for lm in found])
    return Clip(values, np.array([lm is not None for lm in found]), fps, name)


def _facemesh(static: bool) -> tuple[Tracker, Callable[[], None]]:
    t = FaceMeshTracker(TrackerConfig(static_images=static))
    return t.process, t.close


def _tasks(model: Path) -> tuple[Tracker, Callable[[], None]]:
    """The Tasks FaceLandmarker in video mode (it smooths landmarks over time itself)."""
    from mediapipe.tasks.python import BaseOptions, vision

    opts = vision.FaceLandmarkerOptions(base_options=BaseOptions(model_asset_path=str(model)),
                                        running_mode=vision.RunningMode.VIDEO, num_faces=1)
    lmk = vision.FaceLandmarker.create_from_options(opts)
    clock = iter(range(0, 10**9, 33))

    def run(image: Image) -> Landmarks | None:
        import mediapipe as mp

        rgb = np.ascontiguousarray(image.to(PixelFormat.RGB).pixels)
        res = lmk.detect_for_video(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb), next(clock))
        if not res.face_landmarks:
            return None
        pts = np.array([(p.x, p.y, p.z) for p in res.face_landmarks[0]], dtype=np.float32)
        return Landmarks(pts, image.width, image.height)

    return run, lmk.close


def _statics(fixtures: Path, make: Callable[[], tuple[Tracker, Callable[[], None]]], sigma: float) -> list[Clip]:
    clips = []
    for i, rel in enumerate(STILLS):
        track, close = make()  # a fresh tracker per clip, as a new video would get
        try:
            clips.append(track_clip(_static_frames(fixtures / "images" / rel, sigma, i), 30.0, track, rel))
        finally:
            close()
    return clips


def track_video(path: Path, perturb: Callable[[Iterator[np.ndarray]], Iterator[np.ndarray]] | None = None,
                name: str | None = None) -> Clip:
    """One video through a fresh live tracker (legacy FaceMesh, video mode), its frames first through
    `perturb` when given (a benchmark's image changes)."""
    track, close = _facemesh(False)
    try:
        frames, fps = video_frames(path)
        return track_clip(perturb(frames) if perturb else frames, fps, track, name or path.name)
    finally:
        close()


def _videos(fixtures: Path, names: tuple[str, ...]) -> list[Clip]:
    clips = []
    for name in names:
        clips.append(track_video(fixtures / "videos" / name))
        log.info("tracked %s", name)
    return clips


def save_clips(path: Path, clips: list[Clip], **extra: np.ndarray) -> None:
    """Tracked clips (and any `extra` arrays beside them) as one .npz, read back by `load_clips`."""
    arrays = {f"values_{i}": c.values for i, c in enumerate(clips)} | {
        f"present_{i}": c.present for i, c in enumerate(clips)}
    np.savez_compressed(path, names=np.array([c.name for c in clips]), fps=np.array([c.fps for c in clips]),
                        **arrays, **extra)


def load_clips(path: Path) -> tuple[list[Clip], dict[str, np.ndarray]]:
    """The clips `save_clips` wrote, and its extra arrays by name."""
    with np.load(path) as z:
        names = [str(n) for n in z["names"]]
        clips = [Clip(z[f"values_{i}"], z[f"present_{i}"], float(z["fps"][i]), n) for i, n in enumerate(names)]
        skip = {"names", "fps"} | {f"{k}_{i}" for k in ("values", "present") for i in range(len(names))}
        return clips, {k: z[k] for k in z.files if k not in skip}


def fixture_videos(fixtures: Path, cache: Path | None = None, names: tuple[str, ...] = VIDEOS) -> list[Clip]:
    """The fixture videos `names` tracked (unclamped values), read from / written to an .npz cache when given
    (a cache of other videos is tracked afresh and overwritten)."""
    if cache is not None and cache.is_file():
        clips, _ = load_clips(cache)
        if tuple(c.name for c in clips) == names:
            return clips
        log.info("%s holds other videos (%s); tracking afresh", cache, ", ".join(c.name for c in clips))
    clips = _videos(fixtures, names)
    if cache is not None:
        save_clips(cache, clips)
    return clips


def _per_field(values: np.ndarray, digits: int = 6) -> dict[str, float]:
    return {n: round(float(v), digits) for n, v in zip(FACE_FIELD_NAMES, values, strict=True)}


def measure(fixtures: Path, cache: Path | None = None) -> NoiseProfile:
    videos = fixture_videos(fixtures, cache)
    static = _statics(fixtures, lambda: _facemesh(False), SENSOR_SIGMA)
    v, s = estimate(videos), estimate(static, from_residuals=False)
    compare = {
        "facemesh_video_still_images_no_sensor_noise": _statics(fixtures, lambda: _facemesh(False), 0.0),
        "facemesh_static_image_mode_sensor_noise": _statics(fixtures, lambda: _facemesh(True), SENSOR_SIGMA),
    }
    task = fixtures / "mediapipe" / "face_landmarker.task"
    if task.is_file():
        compare["tasks_video_mode_sensor_noise"] = _statics(fixtures, lambda: _tasks(task), SENSOR_SIGMA)
    bands = spectrum_bands(static)
    notes = {
        "made_by": "python -m avatar.smoothing.measure_noise (avatar/smoothing/measure_noise.py)",
        "tracker": "legacy FaceMesh, video mode, refine_landmarks (the live pipeline's default)",
        "std": "max of the fixture videos' still stretches (local-fit residuals) and static clips, per field",
        "ac1_correlation_outliers": f"static clips: {len(STILLS)} stills x {STATIC_FRAMES} frames + "
                                    f"N(0, {SENSOR_SIGMA}) pixel noise",
        "dropouts": f"fixture videos {', '.join(VIDEOS)} (a face in every frame)",
        "outliers": "static clips: readings > 5 robust sigmas from the clip's median",
        "wander": "fixture videos' still stretches: residual RMS (jumps > 10 sigmas clipped) beyond the Gaussian core",
        "video_std": _per_field(v.std),
        "static_std": _per_field(s.std),
        "static_ac1": _per_field(s.ac1, 4),
        "static_power_0_2_5_10_15hz": {n: [round(float(b), 3) for b in bands[:, j]]
                                       for j, n in enumerate(FACE_FIELD_NAMES)},
        "video_frames": v.notes["frames"],
        "video_still_frames_per_field": v.notes["valid_frames"],
        "values": "unclamped solver output against each clip's own neutral (its first 15 face frames)",
    }
    for key, clips in compare.items():
        notes[key + "_std"] = _per_field(estimate(clips, from_residuals=False).std)
        notes[key + "_found"] = round(float(np.mean(np.concatenate([c.present for c in clips]))), 4)
    # Real videos hold motion the local fit cannot follow (talking at 5 Hz), so their tails are not all
    # noise: the static clips, where nothing moves, give the outliers; the videos' tails are recorded only.
    notes["video_outlier_rate"] = _per_field(v.outlier_rate, 4)
    return NoiseProfile(
        std=np.maximum(v.std, s.std), ac1=s.ac1, outlier_rate=s.outlier_rate, wander=v.wander,
        correlation=s.correlation,
        outlier_scale=s.outlier_scale, dropout_rate=v.dropout_rate, dropout_mean_frames=v.dropout_mean_frames,
        notes=notes,
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = os.environ.get("EMOTEBOT_FIXTURES") or Path(__file__).resolve().parents[2].parent / "shared" / "fixtures"
    p.add_argument("--fixtures", type=Path, default=Path(default), help="the shared fixtures folder")
    p.add_argument("--out", type=Path, default=PROFILE_PATH)
    p.add_argument("--cache", type=Path, help="an .npz file keeping the tracked videos for the next run")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    profile = measure(args.fixtures, args.cache)
    args.out.write_text(json.dumps(profile.to_dict(), indent=1) + "\n", encoding="utf-8")
    print(f"noise profile written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
