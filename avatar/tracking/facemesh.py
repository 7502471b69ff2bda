"""MediaPipe FaceMesh (legacy solution, models bundled in mediapipe 0.10.21) as a tracker adapter."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import numpy as np

from avatar.errors import ConfigError, SourceError
from avatar.frames import Image, PixelFormat
from avatar.tracking.landmarks import N_LANDMARKS, N_MESH

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrackerConfig:
    """How FaceMesh looks for faces; validated on construction."""

    max_faces: int = 1  # faces tracked per frame; process() returns the first, process_all() every one
    refine_landmarks: bool = True  # True adds the 10 iris points (478 in all) that gaze needs
    min_detection_confidence: float = 0.5  # 0..1, face detector score needed to start tracking a face
    min_tracking_confidence: float = 0.5  # 0..1, below this the detector runs again on the next frame
    static_images: bool = False  # True: detect on every image (photos); False: track across video frames

    def __post_init__(self) -> None:
        if isinstance(self.max_faces, bool) or not isinstance(self.max_faces, int) or self.max_faces < 1:
            raise ConfigError(f"tracker max_faces must be an integer >= 1, got {self.max_faces!r}")
        for name in ("refine_landmarks", "static_images"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"tracker {name} must be true or false, got {getattr(self, name)!r}")
        for name in ("min_detection_confidence", "min_tracking_confidence"):
            value = getattr(self, name)
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            if not ok or not 0.0 <= value <= 1.0:
                raise ConfigError(f"tracker {name} must be a number from 0 to 1, got {value!r}")


@dataclass(frozen=True)
class Landmarks:
    """One face's landmarks as MediaPipe reports them, with the size of the image they were found in."""

    # (478, 3) float32, or (468, 3) without iris refinement: x, y in [0, 1] of the width and height; z is
    # relative depth on the scale of x, smaller = nearer the camera. Read-only.
    points: np.ndarray
    image_width: int  # pixels; with image_height it turns normalised coordinates back into square units
    image_height: int

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
        pts = pts.copy() if pts is self.points else pts
        pts.flags.writeable = False  # frozen means frozen: nobody downstream edits a shared array
        object.__setattr__(self, "points", pts)

    @property
    def has_irises(self) -> bool:
        return self.points.shape[0] == N_LANDMARKS

    def to_square(self) -> np.ndarray:
        """(N, 3) float64 in pixel units with x right, y up, z towards the camera (a right-handed frame).

        Normalised x and y are fractions of different lengths; rotations and distances only make sense
        once both are pixels again. MediaPipe's z is on the scale of x, so it is multiplied by the width.
        """
        scale = np.array([self.image_width, -self.image_height, -self.image_width], dtype=np.float64)
        return self.points.astype(np.float64) * scale


class FaceMeshTracker:
    """Finds face landmarks in RGB images with MediaPipe's bundled FaceMesh; close() releases its graph."""

    def __init__(self, config: TrackerConfig = TrackerConfig()) -> None:
        self.config = config
        try:
            from mediapipe.python.solutions import face_mesh
        except ImportError as e:
            raise SourceError(
                "mediapipe is not installed; install it with: pip install mediapipe==0.10.21"
            ) from e
        self._mesh: Any = face_mesh.FaceMesh(
            static_image_mode=config.static_images,
            max_num_faces=config.max_faces,
            refine_landmarks=config.refine_landmarks,
            min_detection_confidence=config.min_detection_confidence,
            min_tracking_confidence=config.min_tracking_confidence,
        )

    def process(self, image: Image) -> Landmarks | None:
        """The first face found in the image, or None when there is none."""
        faces = self.process_all(image)
        return faces[0] if faces else None

    def process_all(self, image: Image) -> tuple[Landmarks, ...]:
        """Every face found (up to config.max_faces), in MediaPipe's order."""
        if self._mesh is None:
            raise SourceError("the face tracker is closed; create a new FaceMeshTracker")
        rgb = _as_rgb(image)
        result = self._mesh.process(rgb)
        found = result.multi_face_landmarks or []
        h, w = rgb.shape[:2]
        return tuple(
            Landmarks(np.array([(p.x, p.y, p.z) for p in face.landmark], dtype=np.float32), w, h)
            for face in found
        )

    def close(self) -> None:
        if self._mesh is not None:
            self._mesh.close()
            self._mesh = None

    def __enter__(self) -> FaceMeshTracker:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _as_rgb(image: Image) -> np.ndarray:
    """A contiguous (H, W, 3) uint8 RGB array: MediaPipe reads channels as RGB whatever they really are."""
    if not isinstance(image, Image):
        raise SourceError(
            f"the tracker takes an Image (pixels with their PixelFormat), got {type(image).__name__}; "
            "wrap camera frames as Image(pixels, PixelFormat.BGR)"
        )
    rgb = image.to(PixelFormat.RGB).pixels
    # Image validates its shape when built, but its array can still be swapped for a bad one later.
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3 or min(rgb.shape[:2]) < 1:
        raise SourceError(f"expected an (H, W, 3) uint8 RGB image, got dtype {rgb.dtype} shape {rgb.shape}")
    return np.ascontiguousarray(rgb)
