"""File sources: a video (paced or as fast as possible, optionally looped), a still image, a folder of images."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from avatar.capture.base import IMAGE_EXTENSIONS, Clock, Pacer, Sleep, SourceConfig
from avatar.errors import SourceError
from avatar.frames import Frame, Image, PixelFormat

log = logging.getLogger(__name__)


def _existing(path: str) -> Path:
    p = Path(path).expanduser()
    if not p.exists():
        raise SourceError(f"source {path!r} does not exist; give a camera index, a video, an image or 'script'")
    return p


def read_image(path: Path) -> Image:
    """An image file as BGR (alpha and grey converted), or a SourceError saying why not."""
    pixels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if pixels is None:
        raise SourceError(f"cannot read image {str(path)!r}: not an image OpenCV can decode")
    if pixels.dtype != np.uint8:  # 16-bit PNG/TIFF: scale to 8 bits
        pixels = (pixels / 257).astype(np.uint8) if pixels.dtype == np.uint16 else pixels.astype(np.uint8)
    if pixels.ndim == 2:
        return Image(pixels, PixelFormat.GRAY).to(PixelFormat.BGR)
    if pixels.shape[2] == 4:
        return Image(pixels, PixelFormat.BGRA).to(PixelFormat.BGR)
    return Image(pixels, PixelFormat.BGR)


class VideoSource:
    """A video file; at its end `read` returns None, or starts again when looping."""

    def __init__(self, config: SourceConfig, clock: Clock, sleep: Sleep) -> None:
        self.config, self.clock = config, clock
        self.name = config.source
        self.fps = 30.0
        self._pacer = Pacer(clock, sleep) if config.realtime else None
        self._cap: cv2.VideoCapture | None = None
        self._index = 0
        self._pos = 0  # frames read in the current pass
        self._t_offset = 0.0  # media time of the current pass's start

    def open(self) -> None:
        path = _existing(self.config.source)
        cap = cv2.VideoCapture(str(path))
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"cannot open video {str(path)!r}: not a video OpenCV can decode")
        fps = cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 1.0 <= fps <= 240.0 else 30.0
        self._cap = cap

    def read(self) -> Frame | None:
        if self._cap is None:
            raise SourceError("video read before open()")
        if self._pacer is not None:
            self._pacer.wait(self._t_offset + self._pos / self.fps)
        t0 = self.clock()
        ok, pixels = self._cap.read()
        if not ok and self.config.loop and self._pos > 0:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            self._t_offset += self._pos / self.fps
            self._pos = 0
            ok, pixels = self._cap.read()
        if not ok or pixels is None:
            if self._index == 0:
                raise SourceError(f"video {self.name!r} has no readable frames")
            return None
        t1 = self.clock()
        frame = Frame(self._index, t1, self._t_offset + self._pos / self.fps, image=Image(pixels, PixelFormat.BGR))
        frame.timings["capture"] = t1 - t0  # decoding only: time spent pacing is not work
        self._index += 1
        self._pos += 1
        return frame

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class ImageSource:
    """One still image shown at the configured rate, forever (bound the run with --max-frames/--duration)."""

    def __init__(self, config: SourceConfig, clock: Clock, sleep: Sleep) -> None:
        self.config, self.clock = config, clock
        self.name, self.fps = config.source, config.fps
        self._pacer = Pacer(clock, sleep) if config.realtime else None
        self._image: Image | None = None
        self._index = 0

    def open(self) -> None:
        self._image = read_image(_existing(self.config.source))

    def read(self) -> Frame | None:
        if self._image is None:
            raise SourceError("image read before open()")
        t_media = self._index / self.fps
        if self._pacer is not None:
            self._pacer.wait(t_media)
        frame = Frame(self._index, self.clock(), t_media, image=self._image)
        frame.timings["capture"] = 0.0  # the picture was decoded once, at open
        self._index += 1
        return frame

    def close(self) -> None:
        self._image = None


class FolderSource:
    """The images of a folder in sorted file-name order, one frame each; unreadable files are skipped."""

    def __init__(self, config: SourceConfig, clock: Clock) -> None:
        self.config, self.clock = config, clock
        self.name, self.fps = config.source, config.fps
        self._files: list[Path] = []
        self._index = 0

    def open(self) -> None:
        folder = _existing(self.config.source)
        self._files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
        if not self._files:
            exts = ", ".join(sorted(IMAGE_EXTENSIONS))
            raise SourceError(f"folder {str(folder)!r} holds no images ({exts})")

    def read(self) -> Frame | None:
        while self._index < len(self._files):
            path = self._files[self._index]
            self._index += 1
            t0 = self.clock()
            try:
                image = read_image(path)
            except SourceError as e:
                log.warning("%s; skipped", e)
                continue
            t1 = self.clock()
            frame = Frame(self._index - 1, t1, (self._index - 1) / self.fps, image=image)
            frame.timings["capture"] = t1 - t0
            return frame
        return None

    def close(self) -> None:
        self._files = []
