"""Real tracker noise against a known truth: a still photo moved along a known in-plane head path, tracked live.

The fixture videos have real noise but no truth (the benchmark stands a local fit of the noisy reading in for
it). Here the truth is known: each frame is the photo rotated, shifted and scaled about the face by an amount
we chose, with webcam-like pixel noise, so the tracker's noise is real (FaceMesh re-finding a real face in a
new image every frame) and the clean reading is what those known amounts explain. Yaw, pitch and the face's
own expression cannot be made from one photo; they stay still, and their noise still counts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from avatar.frames import Image, PixelFormat
from avatar.smoothing.measure_noise import SENSOR_SIGMA, track_clip
from avatar.smoothing.noise import Clip
from avatar.smoothing.synth import min_jerk, moves
from avatar.tracking.base import Landmarks
from avatar.tracking.facemesh import FaceMeshTracker, TrackerConfig

REST_S = 1.0  # the path holds at the photo's own pose this long first: the clip's neutral face is read there
EASE_S = 0.5  # then eases into its moves over this long


class Reader(Protocol):
    """A tracker that reads one face an image (FaceMeshTracker, TasksTracker)."""

    def process(self, image: Image) -> Landmarks | None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Motion:
    """A known in-plane head path, one value per frame."""

    roll: np.ndarray  # (T,) degrees, counter-clockwise in the image
    dx: np.ndarray  # (T,) face widths to the right
    dy: np.ndarray  # (T,) face widths down
    scale: np.ndarray  # (T,) face size relative to the photo's

    def design(self) -> np.ndarray:
        """(T, 7) what a field's clean reading may depend on: a constant, each amount, and roll and scale
        squared (the solver's yaw and pitch lean a little on roll)."""
        return np.stack([np.ones_like(self.roll), self.roll, self.dx, self.dy, self.scale - 1.0,
                         self.roll**2, (self.scale - 1.0) ** 2], axis=1)


def head_path(frames: int, fps: float, rng: np.random.Generator, roll: float = 12.0, shift: float = 0.25,
              zoom: float = 0.15) -> Motion:
    """Holds of 0.4–2.5 s joined by minimum-jerk moves of 0.25–0.8 s, within ±roll degrees, ±shift face
    widths and 1 ± zoom; each amount rests at the photo's pose about a third of the time."""
    t = np.arange(frames) / fps
    start = min_jerk((t - REST_S) / EASE_S)  # 0 during the rest, then 0 → 1

    def path(lo: float, hi: float, rest: float) -> np.ndarray:
        return rest + start * (moves(t, rng, lo, hi, hold=(0.4, 2.5), move=(0.25, 0.8), p_rest=0.35, rest=rest)
                               - rest)

    return Motion(path(-roll, roll, 0.0), path(-shift, shift, 0.0), path(-shift, shift, 0.0),
                  path(1.0 - zoom, 1.0 + zoom, 1.0))


def moved_frames(image: np.ndarray, motion: Motion, centre: tuple[float, float], face_width: float,
                 sigma: float, seed: int) -> Iterator[np.ndarray]:
    """The photo (BGR uint8) moved along `motion` about the face centre (pixels), with N(0, sigma) pixel noise."""
    rng = np.random.default_rng(seed)
    h, w = image.shape[:2]
    for i in range(len(motion.roll)):
        turn = np.asarray(cv2.getRotationMatrix2D(centre, float(motion.roll[i]), float(motion.scale[i])), np.float64)
        shift = np.array([[0.0, 0.0, motion.dx[i] * face_width], [0.0, 0.0, motion.dy[i] * face_width]])
        m = turn + shift  # (2, 3): turn and zoom about the face centre, then shift
        px = cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        yield np.clip(px + rng.normal(0.0, sigma, px.shape), 0, 255).astype(np.uint8)


def known_truth(values: np.ndarray, present: np.ndarray, motion: Motion) -> np.ndarray:
    """(T, F) the clean reading: each field's least-squares fit on the path's amounts over frames with a face.

    Seven numbers a field from hundreds of frames: the fit takes the tracker's scale and sign for each amount,
    not its noise. Where the path holds still, so does the truth.
    """
    a = motion.design()  # (T, 7)
    coef, *_ = np.linalg.lstsq(a[present], values[present], rcond=None)  # (7, F)
    return a @ coef


def face_box(image: np.ndarray) -> tuple[tuple[float, float], float]:
    """Centre (pixels) and width of the face in a BGR photo, found by detection alone (no tracking)."""
    tracker = FaceMeshTracker(TrackerConfig(static_images=True))
    try:
        lm = tracker.process(Image(image, PixelFormat.BGR))
    finally:
        tracker.close()
    if lm is None:
        raise ValueError("no face found in the photo")
    x, y = lm.points[:, 0] * image.shape[1], lm.points[:, 1] * image.shape[0]
    return (float(x.mean()), float(y.mean())), float(x.max() - x.min())


def track_moved(image: np.ndarray, motion: Motion, fps: float, seed: int, name: str = "",
                tracker: Reader | None = None) -> Clip:
    """The photo moved along `motion` with webcam-like pixel noise, through a fresh live tracker (legacy
    FaceMesh, video mode) or `tracker`, solved against the clip's own first frames as the noise profile's
    clips are. The same seed gives the same frames, so other trackers can read them too."""
    centre, width = face_box(image)
    reader = tracker or FaceMeshTracker(TrackerConfig(static_images=False))
    try:
        return track_clip(moved_frames(image, motion, centre, width, SENSOR_SIGMA, seed), fps, reader.process, name)
    finally:
        reader.close()
