"""What every tracker back end shares: its configuration, the landmarks it reports, and the protocol it follows."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from avatar.errors import ConfigError, SourceError
from avatar.frames import Image, PixelFormat
from avatar.tracking.landmarks import N_LANDMARKS, N_MESH

# MediaPipe's 52 blendshape scores, in the order its FaceLandmarker reports them. "Left"/"Right" are the
# user's own (checked on a real wink in the lp_d3 fixture: eyeBlinkLeft rises when the eye on the image's right
# closes), the same convention as the rig, so nothing is swapped.
BLENDSHAPE_NAMES: tuple[str, ...] = (
    "_neutral", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft", "eyeBlinkRight", "eyeLookDownLeft",
    "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft", "eyeLookOutRight", "eyeLookUpLeft",
    "eyeLookUpRight", "eyeSquintLeft", "eyeSquintRight", "eyeWideLeft", "eyeWideRight", "jawForward", "jawLeft",
    "jawOpen", "jawRight", "mouthClose", "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft",
    "mouthFrownRight", "mouthFunnel", "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthPressLeft",
    "mouthPressRight", "mouthPucker", "mouthRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower",
    "mouthShrugUpper", "mouthSmileLeft", "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthUpperUpLeft", "mouthUpperUpRight", "noseSneerLeft", "noseSneerRight",
)  # fmt: skip
BLENDSHAPE_INDEX: dict[str, int] = {name: i for i, name in enumerate(BLENDSHAPE_NAMES)}


class TrackerBackend(enum.Enum):
    """Which MediaPipe face tracker reads the frames."""

    AUTO = "auto"  # Tasks when a face_landmarker.task is given or found in engines/, else FaceMesh
    FACEMESH = "facemesh"  # the legacy solution whose models ship inside mediapipe 0.10.21 (offline)
    TASKS = "tasks"  # the Tasks FaceLandmarker: adds 52 blendshapes and a head transform; needs the bundle


def _number_in(value: object, low: float, high: float) -> bool:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return ok and low <= value <= high  # type: ignore[operator]


@dataclass(frozen=True)
class TrackerConfig:
    """How faces are found; validated on construction."""

    backend: TrackerBackend = TrackerBackend.AUTO  # auto, facemesh or tasks (see TrackerBackend)
    face_model: str = ""  # path of a face_landmarker.task bundle; empty = engines/face_landmarker.task if present
    # Faces looked at per frame. 1 is cheapest (the tracker keeps to the face it found); more lets EmoteBot pick
    # the largest, most central face and keep to it when others come and go, at the cost of running the face
    # detector on every frame (about +2 ms with FaceMesh).
    max_faces: int = 1
    refine_landmarks: bool = True  # True adds the 10 iris points (478 in all) that gaze needs (FaceMesh only)
    min_detection_confidence: float = 0.5  # 0..1, face detector score needed to start tracking a face
    min_tracking_confidence: float = 0.5  # 0..1, below this the detector runs again on the next frame
    static_images: bool = False  # True: detect on every image (photos); False: track across video frames

    def __post_init__(self) -> None:
        if not isinstance(self.backend, TrackerBackend):
            allowed = ", ".join(b.value for b in TrackerBackend)
            raise ConfigError(f"tracker backend must be one of {allowed}; got {self.backend!r}")
        if not isinstance(self.face_model, str):
            raise ConfigError(f"tracker face_model must be a file path, got {self.face_model!r}")
        if isinstance(self.max_faces, bool) or not isinstance(self.max_faces, int) or not 1 <= self.max_faces <= 10:
            raise ConfigError(f"tracker max_faces must be an integer from 1 to 10, got {self.max_faces!r}")
        for name in ("refine_landmarks", "static_images"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"tracker {name} must be true or false, got {getattr(self, name)!r}")
        for name in ("min_detection_confidence", "min_tracking_confidence"):
            value = getattr(self, name)
            if not _number_in(value, 0.0, 1.0):
                raise ConfigError(f"tracker {name} must be a number from 0 to 1, got {value!r}")


def _read_only(a: np.ndarray) -> np.ndarray:
    a = a.copy()
    a.flags.writeable = False  # frozen means frozen: nobody downstream edits a shared array
    return a


@dataclass(frozen=True)
class Landmarks:
    """One face's landmarks as MediaPipe reports them, with the size of the image they were found in."""

    # (478, 3) float32, or (468, 3) without iris refinement: x, y in [0, 1] of the width and height; z is
    # relative depth on the scale of x, smaller = nearer the camera. Read-only.
    points: np.ndarray
    image_width: int  # pixels; with image_height it turns normalised coordinates back into square units
    image_height: int
    # (52,) float32 scores in BLENDSHAPE_NAMES order (Tasks back end only), read-only; None from FaceMesh.
    blendshapes: np.ndarray | None = None
    # (4, 4) float64: canonical face (cm) → camera space (x right, y up, z towards the viewer); Tasks only.
    transform: np.ndarray | None = None

    def __post_init__(self) -> None:
        pts = np.asarray(self.points, dtype=np.float32)
        if pts.ndim != 2 or pts.shape[1] != 3 or pts.shape[0] not in (N_MESH, N_LANDMARKS):
            raise SourceError(
                f"landmarks must be ({N_LANDMARKS}, 3) or ({N_MESH}, 3), got shape {np.shape(self.points)}"
            )
        if not np.isfinite(pts).all():
            raise SourceError("landmarks hold NaN or infinite coordinates")
        if self.image_width < 1 or self.image_height < 1:
            raise SourceError(f"image size must be positive, got {self.image_width}x{self.image_height}")
        object.__setattr__(self, "points", _read_only(pts))
        if self.blendshapes is not None:
            b = np.asarray(self.blendshapes, dtype=np.float32)
            if b.shape != (len(BLENDSHAPE_NAMES),) or not np.isfinite(b).all():
                raise SourceError(f"blendshapes must be {len(BLENDSHAPE_NAMES)} finite scores, got shape {b.shape}")
            object.__setattr__(self, "blendshapes", _read_only(b))
        if self.transform is not None:
            m = np.asarray(self.transform, dtype=np.float64)
            if m.shape != (4, 4) or not np.isfinite(m).all():
                raise SourceError(f"the face transform must be a finite 4x4 matrix, got shape {m.shape}")
            object.__setattr__(self, "transform", _read_only(m))

    @property
    def has_irises(self) -> bool:
        return self.points.shape[0] == N_LANDMARKS

    def blendshape(self, name: str) -> float:
        """One blendshape score (0..1); 0.0 when this back end reports none."""
        if self.blendshapes is None:
            return 0.0
        return float(self.blendshapes[BLENDSHAPE_INDEX[name]])

    def to_square(self) -> np.ndarray:
        """(N, 3) float64 in pixel units with x right, y up, z towards the camera (a right-handed frame).

        Normalised x and y are fractions of different lengths; rotations and distances only make sense
        once both are pixels again. MediaPipe's z is on the scale of x, so it is multiplied by the width.
        """
        scale = np.array([self.image_width, -self.image_height, -self.image_width], dtype=np.float64)
        return self.points.astype(np.float64) * scale

    def box(self) -> tuple[float, float, float, float]:
        """(centre x, centre y, width, height) of the face's bounding box in pixels."""
        x = self.points[:, 0] * self.image_width
        y = self.points[:, 1] * self.image_height
        x0, x1, y0, y1 = float(x.min()), float(x.max()), float(y.min()), float(y.max())
        return (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0


class Tracker(Protocol):
    """A face tracker back end: images in, every face found out (STYLE point 2: an adapter at the edge)."""

    name: str  # "facemesh" or "tasks"

    def process_all(self, image: Image, t: float | None = None) -> tuple[Landmarks, ...]:
        """Every face found (up to max_faces); `t` is the frame's media time in seconds, when known."""
        ...

    def close(self) -> None: ...


def as_rgb(image: Image) -> np.ndarray:
    """A contiguous (H, W, 3) uint8 RGB array: MediaPipe reads channels as RGB whatever they really are."""
    if not isinstance(image, Image):
        raise SourceError(
            f"the tracker takes an Image (pixels with their PixelFormat), got {type(image).__name__}; "
            "wrap camera frames as Image(pixels, PixelFormat.BGR)"
        )
    rgb = image.to(PixelFormat.RGB).pixels
    # Image validates its shape when built, but its array can still be swapped for a bad one later.
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise SourceError(f"expected an (H, W, 3) uint8 RGB image, got dtype {rgb.dtype} shape {rgb.shape}")
    if min(rgb.shape[:2]) < 16:
        raise SourceError(f"a {rgb.shape[1]}x{rgb.shape[0]} image is too small to hold a face (16x16 at least)")
    return np.ascontiguousarray(rgb)
