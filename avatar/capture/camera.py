"""Webcam source via OpenCV, by index or by name."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import cv2

from avatar.capture.base import Clock, SourceConfig
from avatar.errors import SourceError
from avatar.frames import Frame, Image, PixelFormat

log = logging.getLogger(__name__)

_READ_RETRIES = 30  # consecutive failed reads (about a second) before the camera counts as gone


def list_cameras() -> list[tuple[int, str]]:
    """(index, name) of the video capture devices the OS lists; names only on Linux."""
    if sys.platform.startswith("linux"):
        found = []
        for dev in sorted(Path("/sys/class/video4linux").glob("video*")):
            try:
                name = (dev / "name").read_text().strip()
                index = int(dev.name.removeprefix("video"))
            except (OSError, ValueError):
                continue
            found.append((index, name))
        return found
    return []


def resolve_camera(spec: str) -> int | str:
    """A camera index from "0", "/dev/video2" or "camera:NAME" (Linux names from sysfs)."""
    s = spec.strip()
    if s.isdigit():
        return int(s)
    if s.startswith("/dev/video"):
        return s
    name = s.removeprefix("camera:")
    if name.isdigit():
        return int(name)
    cams = list_cameras()
    for index, cam_name in cams:
        if name.lower() in cam_name.lower():
            return index
    listing = ", ".join(f"{i}: {n}" for i, n in cams) or "none found"
    raise SourceError(f"no camera named {name!r} (cameras: {listing}); run `emotebot devices` to list them")


class CameraSource:
    """A live camera; never ends by itself, and a vanished camera is a SourceError."""

    def __init__(self, config: SourceConfig, clock: Clock) -> None:
        self.config, self.clock = config, clock
        self.name = f"camera {config.source}"
        self.fps = config.fps
        self._cap: cv2.VideoCapture | None = None
        self._index = 0

    def open(self) -> None:
        target = resolve_camera(self.config.source)
        cap = cv2.VideoCapture(target)
        if not cap.isOpened():
            cap.release()
            cams = ", ".join(f"{i}: {n}" for i, n in list_cameras()) or "none found"
            raise SourceError(
                f"camera {target!r} could not be opened (cameras: {cams}). Check it is plugged in and not "
                "used by another app, or run the demo without a camera: `emotebot demo`"
            )
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.config.width)
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.config.height)
        cap.set(cv2.CAP_PROP_FPS, self.config.fps)
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the newest frame, not a queue of stale ones
        self.fps = cap.get(cv2.CAP_PROP_FPS) or self.config.fps
        self._cap = cap

    def read(self) -> Frame | None:
        if self._cap is None:
            raise SourceError("camera read before open()")
        for _ in range(_READ_RETRIES):
            if not self._cap.grab():  # waits for the camera's next frame: waiting, not work
                continue
            t0 = self.clock()  # the frame has arrived: its capture time
            ok, pixels = self._cap.retrieve()
            if ok and pixels is not None:
                frame = Frame(self._index, t0, self._index / self.fps, image=Image(pixels, PixelFormat.BGR))
                frame.timings["capture"] = self.clock() - t0  # decoding
                self._index += 1
                return frame
        raise SourceError(f"{self.name} stopped delivering frames (unplugged or taken by another app)")

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
