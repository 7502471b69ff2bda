"""Video file output through OpenCV's VideoWriter (MPEG-4 in .mp4/.mov/.m4v/.mkv, Motion JPEG in .avi)."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2

from avatar.errors import ConfigError, SinkError
from avatar.frames import Image, PixelFormat
from avatar.output.sinks.base import check_open_args, check_size
from avatar.output.sinks.convert import Flattener, solid

log = logging.getLogger(__name__)

# mp4v (MPEG-4 Part 2) is the encoder every OpenCV wheel carries; H.264 encoders are often missing.
FOURCC_BY_EXTENSION: dict[str, str] = {
    ".mp4": "mp4v",
    ".m4v": "mp4v",
    ".mov": "mp4v",
    ".mkv": "mp4v",
    ".avi": "MJPG",
}


class FileSink:
    """Writes every frame it is sent, in order, at the fps given to open(); transparency over a matte."""

    def __init__(self, path: str, matte: tuple[int, int, int]) -> None:
        self.path = Path(path)
        self.name = f"file:{path}"
        ext = self.path.suffix.lower()
        if ext not in FOURCC_BY_EXTENSION:
            allowed = ", ".join(FOURCC_BY_EXTENSION)
            raise ConfigError(
                f"sink: video file {path!r} has extension {ext or '(none)'!r}; allowed: {allowed}"
            )
        self.fourcc = FOURCC_BY_EXTENSION[ext]
        self.matte = matte
        self.frames = 0
        self._writer: cv2.VideoWriter | None = None
        self._flatten: Flattener | None = None
        self._size = (0, 0)

    def open(self, width: int, height: int, fps: float) -> None:
        check_open_args(self.name, width, height, fps)
        if not self.path.parent.is_dir():
            raise SinkError(f"{self.name}: folder {str(self.path.parent)!r} does not exist; create it first")
        fourcc = cv2.VideoWriter.fourcc(*self.fourcc)
        writer = cv2.VideoWriter(str(self.path), fourcc, float(fps), (width, height))
        if not writer.isOpened():
            writer.release()
            raise SinkError(
                f"{self.name}: OpenCV could not open {str(self.path)!r} for writing with the "
                f"{self.fourcc} codec; check that the folder is writable and the disk has space, "
                "or use an .avi name (Motion JPEG)"
            )
        self._writer, self._size = writer, (width, height)
        self._flatten = Flattener(solid(width, height, self.matte, PixelFormat.BGR), PixelFormat.BGR)
        log.info("writing %s×%s at %g fps to %s (%s)", width, height, fps, self.path, self.fourcc)

    def send(self, frame: Image, t_capture: float) -> None:
        if self._writer is None or self._flatten is None:
            raise SinkError(f"{self.name}: send() before open() or after close()")
        check_size(self.name, frame, *self._size)
        self._writer.write(self._flatten(frame))  # VideoWriter takes BGR
        self.frames += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
            log.info("wrote %d frames to %s", self.frames, self.path)
