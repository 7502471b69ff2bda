"""Frames and pixel formats that cross stage boundaries; colour order is a type, never a comment."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np

from avatar.errors import SourceError
from avatar.expression.events import TriggerEvent
from avatar.expression.rig import FaceParams


class PixelFormat(enum.Enum):
    """Channel order of an 8-bit image."""

    BGR = "bgr"  # OpenCV's native order: what cv2.VideoCapture returns and cv2.imshow expects
    RGB = "rgb"  # what MediaPipe expects
    RGBA = "rgba"  # straight (not premultiplied) alpha
    BGRA = "bgra"
    GRAY = "gray"

    @property
    def channels(self) -> int:
        return {"gray": 1, "bgr": 3, "rgb": 3, "rgba": 4, "bgra": 4}[self.value]


@dataclass(frozen=True)
class Image:
    """An (H, W, C) uint8 array with its channel order attached."""

    pixels: np.ndarray
    format: PixelFormat

    def __post_init__(self) -> None:
        p = self.pixels
        want = self.format.channels
        ok_shape = (p.ndim == 2 and want == 1) or (p.ndim == 3 and p.shape[2] == want)
        if p.dtype != np.uint8 or not ok_shape or p.shape[0] < 1 or p.shape[1] < 1:
            raise SourceError(
                f"a {self.format.name} image must be uint8 with {want} channel(s), "
                f"got dtype {p.dtype} and shape {p.shape}"
            )

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    def to(self, fmt: PixelFormat) -> Image:
        """The same picture in another channel order (alpha added opaque or dropped as needed)."""
        if fmt is self.format:
            return self
        import cv2  # local: keep this module importable without OpenCV for pure-array tests

        codes = {
            (PixelFormat.BGR, PixelFormat.RGB): cv2.COLOR_BGR2RGB,
            (PixelFormat.RGB, PixelFormat.BGR): cv2.COLOR_RGB2BGR,
            (PixelFormat.BGR, PixelFormat.RGBA): cv2.COLOR_BGR2RGBA,
            (PixelFormat.BGR, PixelFormat.BGRA): cv2.COLOR_BGR2BGRA,
            (PixelFormat.RGB, PixelFormat.RGBA): cv2.COLOR_RGB2RGBA,
            (PixelFormat.RGB, PixelFormat.BGRA): cv2.COLOR_RGB2BGRA,
            (PixelFormat.RGBA, PixelFormat.RGB): cv2.COLOR_RGBA2RGB,
            (PixelFormat.RGBA, PixelFormat.BGR): cv2.COLOR_RGBA2BGR,
            (PixelFormat.RGBA, PixelFormat.BGRA): cv2.COLOR_RGBA2BGRA,
            (PixelFormat.BGRA, PixelFormat.BGR): cv2.COLOR_BGRA2BGR,
            (PixelFormat.BGRA, PixelFormat.RGB): cv2.COLOR_BGRA2RGB,
            (PixelFormat.BGRA, PixelFormat.RGBA): cv2.COLOR_BGRA2RGBA,
            (PixelFormat.GRAY, PixelFormat.RGB): cv2.COLOR_GRAY2RGB,
            (PixelFormat.GRAY, PixelFormat.BGR): cv2.COLOR_GRAY2BGR,
            (PixelFormat.GRAY, PixelFormat.RGBA): cv2.COLOR_GRAY2RGBA,
            (PixelFormat.GRAY, PixelFormat.BGRA): cv2.COLOR_GRAY2BGRA,
            (PixelFormat.RGB, PixelFormat.GRAY): cv2.COLOR_RGB2GRAY,
            (PixelFormat.BGR, PixelFormat.GRAY): cv2.COLOR_BGR2GRAY,
            (PixelFormat.RGBA, PixelFormat.GRAY): cv2.COLOR_RGBA2GRAY,
            (PixelFormat.BGRA, PixelFormat.GRAY): cv2.COLOR_BGRA2GRAY,
        }
        return Image(cv2.cvtColor(self.pixels, codes[(self.format, fmt)]), fmt)


@dataclass
class Frame:
    """One moment flowing through the pipeline, stamped at capture and filled in by each stage.

    Mutable on purpose: each stage adds its result and its timing to the same object as it passes, and only
    one thread holds a frame at a time (queues hand it over).
    """

    index: int  # position in the source, from 0
    t_capture: float  # monotonic seconds (time.perf_counter) when the source produced it
    t_media: float  # seconds into the source's own timeline (video position, script time)
    image: Image | None = None  # camera/video picture; None for scripted sources
    params: FaceParams | None = None  # filled by the solver, or directly by a scripted source
    face_found: bool = False
    events: list[TriggerEvent] = field(default_factory=list)  # triggers that arrived with this frame
    timings: dict[str, float] = field(default_factory=dict)  # stage name -> seconds spent
