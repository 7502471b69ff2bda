"""YUV4MPEG2 (y4m) stream output to a file or a FIFO, the format ffmpeg and Chromium's fake camera read."""

from __future__ import annotations

import logging
import os
import stat
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

from avatar.errors import SinkError
from avatar.frames import Image, PixelFormat
from avatar.output.sinks.base import check_open_args, check_size
from avatar.output.sinks.convert import Flattener, solid, to_i420

log = logging.getLogger(__name__)

FRAME_MARKER = b"FRAME\n"


def y4m_header(width: int, height: int, fps: float) -> bytes:
    """Stream header: progressive, square pixels, 4:2:0 with centred (JPEG) chroma, as OpenCV makes it."""
    rate = frame_rate_fraction(fps)
    return f"YUV4MPEG2 W{width} H{height} F{rate.numerator}:{rate.denominator} Ip A1:1 C420jpeg\n".encode()


def frame_rate_fraction(fps: float) -> Fraction:
    """30 → 30/1, 29.97 → 30000/1001 (the NTSC rates players expect), else the nearest small fraction."""
    if abs(fps - round(fps)) < 1e-4:
        return Fraction(round(fps))
    ntsc = Fraction(round(fps * 1.001) * 1000, 1001)
    if abs(float(ntsc) - fps) < 1e-4:
        return ntsc
    return Fraction(fps).limit_denominator(1000)


def is_fifo(path: Path) -> bool:
    try:
        return stat.S_ISFIFO(os.stat(path).st_mode)
    except FileNotFoundError:
        return False


class Y4mSink:
    """Writes a y4m stream. A regular path is created or truncated; an existing FIFO is opened for writing,
    which waits until a reader (ffmpeg, Chromium) opens the other end. When that reader goes away, send()
    raises SinkError once and the sink is closed."""

    def __init__(self, path: str, matte: tuple[int, int, int]) -> None:
        self.path = Path(path)
        self.name = f"y4m:{path}"
        self.matte = matte
        self.frames = 0
        self._file: BinaryIO | None = None
        self._flatten: Flattener | None = None
        self._size = (0, 0)
        self._fifo = False

    def open(self, width: int, height: int, fps: float) -> None:
        check_open_args(self.name, width, height, fps)
        self._fifo = is_fifo(self.path)
        if self._fifo:
            log.info("waiting for a reader to open the FIFO %s (e.g. ffplay %s) …", self.path, self.path)
        elif not self.path.parent.is_dir():
            raise SinkError(f"{self.name}: folder {str(self.path.parent)!r} does not exist; create it first")
        try:
            self._file = open(self.path, "wb")  # noqa: SIM115 (held open across send() calls)
            self._file.write(y4m_header(width, height, fps))
            self._file.flush()
        except OSError as e:
            self.close()
            raise SinkError(f"{self.name}: cannot write {str(self.path)!r}: {e.strerror or e}") from e
        if self._fifo:
            log.info("reader connected to %s", self.path)
        self._size = (width, height)
        self._flatten = Flattener(solid(width, height, self.matte, PixelFormat.RGB), PixelFormat.RGB)

    def send(self, frame: Image, t_capture: float) -> None:
        if self._file is None or self._flatten is None:
            raise SinkError(f"{self.name}: send() before open() or after close()")
        check_size(self.name, frame, *self._size)
        i420 = to_i420(self._flatten(frame))
        try:
            self._file.write(FRAME_MARKER)
            self._file.write(i420.data)
            if self._fifo:
                self._file.flush()  # a live reader wants each frame now, not when the buffer fills
        except BrokenPipeError as e:
            self._abandon()
            raise SinkError(f"{self.name}: the reader closed the stream after {self.frames} frames") from e
        except OSError as e:
            self._abandon()
            raise SinkError(f"{self.name}: write failed after {self.frames} frames: {e.strerror or e}") from e
        self.frames += 1

    def _abandon(self) -> None:
        """Drop the file without flushing: after a broken pipe a flush would only fail again."""
        f, self._file = self._file, None
        if f is not None:
            try:
                f.close()
            except OSError:
                log.debug("closing %s after a write error also failed", self.path)

    def close(self) -> None:
        if self._file is None:
            return
        try:
            self._file.close()
        except OSError as e:
            log.warning("%s: closing failed: %s", self.name, e)
        finally:
            self._file = None
