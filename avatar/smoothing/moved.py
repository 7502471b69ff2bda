"""Real tracker noise against a known truth: a still photo moved and made to pull faces along a known path.

The fixture videos have real noise but no truth (the benchmark stands a local fit of the noisy reading in for
it). Here the truth is known: each frame is the photo with its jaw dropped and brows raised by a smooth image
warp, then rotated, shifted and scaled about the face, by amounts we chose, with webcam-like pixel noise. The
tracker's noise is real (FaceMesh finding a real face in a new image every frame) and the clean reading is what
those known amounts explain. Yaw, pitch, gaze, blinks and smiles cannot be made this way; they hold still
(or follow the amounts, as the tracker reads them), and their noise still counts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from avatar.errors import SourceError
from avatar.frames import Image, PixelFormat
from avatar.smoothing.measure_noise import SENSOR_SIGMA, track_clip
from avatar.smoothing.noise import Clip
from avatar.smoothing.synth import min_jerk, moves
from avatar.tracking.base import Landmarks
from avatar.tracking.facemesh import FaceMeshTracker, TrackerConfig

REST_S = 1.0  # the path holds at the photo's own pose this long first: the clip's neutral face is read there
EASE_S = 0.5  # then eases into its moves over this long
JAW_DROP = 0.10  # face heights the lower face moves down at jaw 1 (the lips part, as in speech)
BROW_LIFT = 0.06  # face heights of the upward pull at the brows at brow 1 (they rise about 2/3 of it)
_UPPER_LIP, _LOWER_LIP, _CHIN, _FOREHEAD = 13, 14, 152, 10  # MediaPipe mesh indices
_CORNERS = (78, 308)  # the inner corners of the mouth
_BROWS = (105, 334)  # the middle of each brow


class Reader(Protocol):
    """A tracker that reads one face an image (FaceMeshTracker, TasksTracker)."""

    def process(self, image: Image) -> Landmarks | None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Motion:
    """A known path, one value per frame: the head in the image plane and two movements of the face."""

    roll: np.ndarray  # (T,) degrees, counter-clockwise in the image
    dx: np.ndarray  # (T,) face widths to the right
    dy: np.ndarray  # (T,) face widths down
    scale: np.ndarray  # (T,) face size relative to the photo's
    jaw: np.ndarray  # (T,) 0 as photographed … 1 dropped by JAW_DROP
    brow: np.ndarray  # (T,) 0 as photographed … 1 raised by BROW_LIFT

    def design(self) -> np.ndarray:
        """(T, 11) what a field's clean reading may depend on: a constant, each amount, and each squared but
        the shifts (the tracker reads a warp's size and a turn's side in ways that are not quite straight)."""
        z = self.scale - 1.0
        return np.stack([np.ones_like(self.roll), self.roll, self.dx, self.dy, z, self.jaw, self.brow,
                         self.roll**2, z**2, self.jaw**2, self.brow**2], axis=1)


def face_path(frames: int, fps: float, rng: np.random.Generator, roll: float = 12.0, shift: float = 0.25,
              zoom: float = 0.15) -> Motion:
    """Head holds of 0.4–2.5 s joined by minimum-jerk moves of 0.25–0.8 s (within ±roll degrees, ±shift face
    widths, 1 ± zoom), jaw and brows holding 0.3–2 s between moves of 0.1–0.4 s; each amount rests at the
    photo's own about a third to a half of the time."""
    t = np.arange(frames) / fps
    start = min_jerk((t - REST_S) / EASE_S)  # 0 during the rest, then 0 → 1

    def path(lo: float, hi: float, rest: float, face: bool = False) -> np.ndarray:
        hold, move, p_rest = ((0.3, 2.0), (0.1, 0.4), 0.5) if face else ((0.4, 2.5), (0.25, 0.8), 0.35)
        return rest + start * (moves(t, rng, lo, hi, hold=hold, move=move, p_rest=p_rest, rest=rest) - rest)

    return Motion(path(-roll, roll, 0.0), path(-shift, shift, 0.0), path(-shift, shift, 0.0),
                  path(1.0 - zoom, 1.0 + zoom, 1.0), path(0.2, 1.0, 0.0, face=True), path(0.2, 1.0, 0.0, face=True))


@dataclass(frozen=True)
class Face:
    """Where the face is in the photo (pixels), as the warps need it."""

    centre: tuple[float, float]
    width: float
    height: float  # forehead to chin
    mouth_y: float  # between the lips, in the middle
    brow_y: float
    chin_y: float
    corners: tuple[tuple[float, float], tuple[float, float]] | None = None  # the mouth's inner corners (x, y)

    def lip_line(self, x: np.ndarray) -> np.ndarray:
        """y of the line between the lips at each x: a parabola through both corners and the middle, level
        beyond the corners (level at mouth_y when the corners are not known)."""
        if self.corners is None:
            return np.full_like(x, self.mouth_y)
        (x0, y0), (x1, y1) = sorted(self.corners)
        xm = self.centre[0]
        u = np.clip(x, x0, x1)
        if x0 < xm < x1:
            return np.polyval(np.polyfit([x0, xm, x1], [y0, self.mouth_y, y1], 2), u)
        return np.polyval(np.polyfit([x0, x1], [y0, y1], 1), u)

    @classmethod
    def of(cls, lm: Landmarks) -> Face:
        """Read off one face's landmarks."""
        p = lm.points[:, :2] * np.array([lm.image_width, lm.image_height])  # (478, 2) pixels
        (lx, ly), (rx, ry) = p[_CORNERS[0]], p[_CORNERS[1]]
        return cls((float(p[:, 0].mean()), float(p[:, 1].mean())), float(np.ptp(p[:, 0])),
                   float(p[_CHIN, 1] - p[_FOREHEAD, 1]), float(p[[_UPPER_LIP, _LOWER_LIP], 1].mean()),
                   float(p[list(_BROWS), 1].mean()), float(p[_CHIN, 1]),
                   ((float(lx), float(ly)), (float(rx), float(ry))))


def find_face(image: np.ndarray) -> Face:
    """The face in a BGR photo, found by detection alone (no tracking)."""
    tracker = FaceMeshTracker(TrackerConfig(static_images=True))
    try:
        lm = tracker.process(Image(image, PixelFormat.BGR))
    finally:
        tracker.close()
    if lm is None:
        raise SourceError(f"no face found in the {image.shape[1]}x{image.shape[0]} photo: moving it needs one")
    return Face.of(lm)


def _lifts(shape: tuple[int, ...], face: Face) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The pixel grid and how far (pixels, down) each pixel moves at jaw 1 and at brow 1."""
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    h = face.height
    across = np.exp(-(((xx - face.centre[0]) / (0.45 * face.width)) ** 2))  # fades out beside the face
    below = 1.0 / (1.0 + np.exp(-np.clip((yy - face.lip_line(xx)) / (0.006 * h), -50, 50)))  # parts at the lips
    fade = np.exp(-np.maximum(yy - face.chin_y, 0.0) / (0.3 * h))  # and fades below the chin
    jaw = JAW_DROP * h * across * below * fade
    brow = -BROW_LIFT * h * across * np.exp(-(((yy - face.brow_y) / (0.09 * h)) ** 2))
    return xx, yy, jaw.astype(np.float32), brow.astype(np.float32)


def moved_frames(image: np.ndarray, motion: Motion, face: Face, sigma: float, seed: int) -> Iterator[np.ndarray]:
    """The photo (BGR uint8) warped along `motion` (face first, then the head about the face centre), with
    N(0, sigma) pixel noise."""
    rng = np.random.default_rng(seed)
    h, w = image.shape[:2]
    xx, yy, jaw, brow = _lifts(image.shape, face)
    for i in range(len(motion.roll)):
        down = motion.jaw[i] * jaw + motion.brow[i] * brow  # (H, W): small and smooth, so y - down inverts it
        px = cv2.remap(image, xx, yy - down, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE) \
            if motion.jaw[i] or motion.brow[i] else image
        turn = np.asarray(cv2.getRotationMatrix2D(face.centre, float(motion.roll[i]), float(motion.scale[i])),
                          np.float64)
        shift = np.array([[0.0, 0.0, motion.dx[i] * face.width], [0.0, 0.0, motion.dy[i] * face.width]])
        px = cv2.warpAffine(px, turn + shift, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        yield np.clip(px + rng.normal(0.0, sigma, px.shape), 0, 255).astype(np.uint8)


def known_truth(values: np.ndarray, present: np.ndarray, motion: Motion) -> np.ndarray:
    """(T, F) the clean reading: each field's least-squares fit on the path's amounts over frames with a face.

    Eleven numbers a field from hundreds of frames: the fit takes the tracker's scale and sign for each amount,
    not its noise. Where the path holds still, so does the truth.
    """
    a = motion.design()  # (T, 11)
    coef, *_ = np.linalg.lstsq(a[present], values[present], rcond=None)  # (11, F)
    return a @ coef


def track_moved(image: np.ndarray, motion: Motion, fps: float, seed: int, name: str = "",
                tracker: Reader | None = None) -> Clip:
    """The photo moved along `motion` with webcam-like pixel noise, through a fresh live tracker (legacy
    FaceMesh, video mode) or `tracker`, solved against the clip's own first frames as the noise profile's
    clips are. The same seed gives the same frames, so other trackers can read them too."""
    face = find_face(image)
    reader = tracker or FaceMeshTracker(TrackerConfig(static_images=False))
    try:
        return track_clip(moved_frames(image, motion, face, SENSOR_SIGMA, seed), fps, reader.process, name)
    finally:
        reader.close()
