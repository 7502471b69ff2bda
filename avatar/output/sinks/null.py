"""A sink that discards frames and counts them: for benchmarks, tests and dry runs."""

from __future__ import annotations

from avatar.errors import SinkError
from avatar.frames import Image
from avatar.output.sinks.base import check_open_args, check_size


class NullSink:
    """Discards frames; remembers how many arrived and the last capture time."""

    name = "null"

    def __init__(self) -> None:
        self.frames = 0
        self.last_t_capture: float | None = None
        self.size: tuple[int, int] | None = None  # (width, height) once opened
        self.fps: float | None = None

    def open(self, width: int, height: int, fps: float) -> None:
        check_open_args(self.name, width, height, fps)
        self.size, self.fps = (width, height), fps

    def send(self, frame: Image, t_capture: float) -> None:
        if self.size is None:
            raise SinkError("null: send() before open()")
        check_size(self.name, frame, *self.size)
        self.frames += 1
        self.last_t_capture = t_capture

    def close(self) -> None:
        self.size = None
