"""MediaPipe FaceMesh (legacy solution, models bundled in mediapipe 0.10.21) as a tracker adapter."""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Any

import numpy as np

from avatar.errors import SourceError
from avatar.frames import Image
from avatar.tracking.base import Landmarks, TrackerConfig, as_rgb
from avatar.tracking.follow import distinct, pick_main

__all__ = ["FaceMeshTracker", "Landmarks", "TrackerConfig"]

log = logging.getLogger(__name__)


class FaceMeshTracker:
    """Finds face landmarks in images with MediaPipe's bundled FaceMesh; close() releases its graph."""

    name = "facemesh"

    def __init__(self, config: TrackerConfig | None = None) -> None:
        config = config if config is not None else TrackerConfig()
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

    def process(self, image: Image, t: float | None = None) -> Landmarks | None:
        """The main face in the image (largest and most central), or None when there is none."""
        return pick_main(self.process_all(image, t))

    def process_all(self, image: Image, t: float | None = None) -> tuple[Landmarks, ...]:
        """Every distinct face found (up to config.max_faces), in MediaPipe's order; `t` is not needed here."""
        if self._mesh is None:
            raise SourceError("the face tracker is closed; create a new FaceMeshTracker")
        rgb = as_rgb(image)
        result = self._mesh.process(rgb)
        found = result.multi_face_landmarks or []
        h, w = rgb.shape[:2]
        return distinct(
            [Landmarks(np.array([(p.x, p.y, p.z) for p in face.landmark], dtype=np.float32), w, h) for face in found]
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
