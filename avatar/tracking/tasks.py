"""MediaPipe Tasks FaceLandmarker (a face_landmarker.task bundle) as a tracker adapter: adds blendshapes and pose."""

from __future__ import annotations

import logging
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from avatar.errors import ConfigError, ModelError, SourceError
from avatar.frames import Image
from avatar.models import FACE_LANDMARKER, engines_dir, file_sha256
from avatar.tracking.base import BLENDSHAPE_NAMES, Landmarks, TrackerConfig, as_rgb
from avatar.tracking.follow import distinct, pick_main

log = logging.getLogger(__name__)

_FRAME_MS = 33  # timestamp step when the caller gives no media time (VIDEO mode needs increasing stamps)


def find_face_model(config: TrackerConfig) -> Path | None:
    """The bundle the config names, else engines/face_landmarker.task when it is there, else None."""
    if config.face_model:
        p = Path(config.face_model).expanduser()
        if not p.is_file():
            raise ConfigError(
                f"tracker face_model {config.face_model!r} does not exist; give the path of a face_landmarker.task "
                "or run `emotebot models fetch face-landmarker`"
            )
        return p
    p = engines_dir() / FACE_LANDMARKER.filename
    return p if p.is_file() else None


class TasksTracker:
    """Finds landmarks, 52 blendshapes and the head transform with the Tasks FaceLandmarker."""

    name = "tasks"

    def __init__(self, config: TrackerConfig, model: Path) -> None:
        self.config = config
        try:
            import mediapipe as mp
            from mediapipe.tasks.python import BaseOptions, vision
        except ImportError as e:
            raise SourceError("mediapipe is not installed; install it with: pip install mediapipe==0.10.21") from e
        digest = file_sha256(model)
        if digest != FACE_LANDMARKER.sha256:
            log.warning("%s is not the face_landmarker.task release EmoteBot was tested with (sha256 %s…); "
                        "using it anyway", model, digest[:12])
        mode = vision.RunningMode.IMAGE if config.static_images else vision.RunningMode.VIDEO
        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(model)),
            running_mode=mode,
            num_faces=config.max_faces,
            min_face_detection_confidence=config.min_detection_confidence,
            min_face_presence_confidence=config.min_tracking_confidence,
            min_tracking_confidence=config.min_tracking_confidence,
            output_face_blendshapes=True,
            output_facial_transformation_matrixes=True,
        )
        try:
            self._landmarker: Any = vision.FaceLandmarker.create_from_options(options)
        except (RuntimeError, ValueError) as e:
            raise ModelError(
                f"{model} is not a usable face_landmarker.task ({e}); "
                "run `emotebot models fetch face-landmarker` for a fresh copy"
            ) from e
        self._mp_image, self._srgb = mp.Image, mp.ImageFormat.SRGB
        self._video = not config.static_images
        self._last_ms = -1
        self._frames = 0

    def _stamp(self, t: float | None) -> int:
        """Milliseconds for VIDEO mode: the media time when known, and always later than the last stamp."""
        ms = round(t * 1000) if t is not None else self._frames * _FRAME_MS
        ms = max(ms, self._last_ms + 1)
        self._last_ms = ms
        return ms

    def process(self, image: Image, t: float | None = None) -> Landmarks | None:
        """The main face in the image (largest and most central), or None when there is none."""
        return pick_main(self.process_all(image, t))

    def process_all(self, image: Image, t: float | None = None) -> tuple[Landmarks, ...]:
        if self._landmarker is None:
            raise SourceError("the face tracker is closed; create a new TasksTracker")
        rgb = as_rgb(image)
        picture = self._mp_image(image_format=self._srgb, data=rgb)
        if self._video:
            result = self._landmarker.detect_for_video(picture, self._stamp(t))
        else:
            result = self._landmarker.detect(picture)
        self._frames += 1
        h, w = rgb.shape[:2]
        faces = []
        shapes = result.face_blendshapes or [None] * len(result.face_landmarks)
        matrices = result.facial_transformation_matrixes or [None] * len(result.face_landmarks)
        for face, scores, matrix in zip(result.face_landmarks, shapes, matrices, strict=True):
            points = np.array([(p.x, p.y, p.z) for p in face], dtype=np.float32)
            blend = _blendshapes(scores) if scores is not None else None
            faces.append(Landmarks(points, w, h, blendshapes=blend, transform=matrix))
        return distinct(faces)

    def close(self) -> None:
        if self._landmarker is not None:
            self._landmarker.close()
            self._landmarker = None

    def __enter__(self) -> TasksTracker:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _blendshapes(categories: list[Any]) -> np.ndarray:
    """Scores in BLENDSHAPE_NAMES order, by name, so a bundle that orders them differently still reads right."""
    out = np.zeros(len(BLENDSHAPE_NAMES), dtype=np.float32)
    index = {name: i for i, name in enumerate(BLENDSHAPE_NAMES)}
    for c in categories:
        i = index.get(c.category_name)
        if i is not None:
            out[i] = c.score
    return out
