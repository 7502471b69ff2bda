"""The source protocol and how a `--source` string picks one."""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from avatar.errors import ConfigError
from avatar.frames import Frame

Clock = Callable[[], float]
Sleep = Callable[[float], None]

VIDEO_EXTENSIONS = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".y4m", ".mpg", ".mpeg"}
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


class Source(Protocol):
    """Produces frames until it ends; `read` returns None at the end (never for a live camera)."""

    name: str
    fps: float

    def open(self) -> None: ...

    def read(self) -> Frame | None: ...

    def close(self) -> None: ...


class SourceKind(enum.Enum):
    CAMERA = "camera"
    VIDEO = "video"
    IMAGE = "image"
    FOLDER = "folder"
    SCRIPT = "script"


@dataclass(frozen=True)
class SourceConfig:
    """Where frames come from and how fast."""

    source: str = "0"  # camera index or name ("camera:NAME"), a video, an image, a folder, or "script"
    width: int = 1280  # requested camera size (the camera may pick the nearest it supports)
    height: int = 720
    fps: float = 30.0  # requested camera rate; rate of still-image and scripted sources
    realtime: bool = True  # pace files and scripts at their own rate (False: as fast as the pipeline takes)
    loop: bool = False  # restart a video file at its end
    script_seconds: float = 10.5  # length of the scripted performance

    def __post_init__(self) -> None:
        if self.width < 16 or self.height < 16:
            raise ConfigError(f"source.width/height must be >= 16, got {self.width}x{self.height}")
        if not 1.0 <= self.fps <= 240.0:
            raise ConfigError(f"source.fps must be within 1..240, got {self.fps}")
        if self.script_seconds <= 0:
            raise ConfigError(f"source.script_seconds must be > 0, got {self.script_seconds}")

    @property
    def kind(self) -> SourceKind:
        return classify(self.source)


def classify(spec: str) -> SourceKind:
    s = spec.strip()
    if s in ("script", "scripted", "demo"):
        return SourceKind.SCRIPT
    if s.isdigit() or s.startswith("camera:") or s.startswith("/dev/video"):
        return SourceKind.CAMERA
    p = Path(s).expanduser()
    if p.is_dir():
        return SourceKind.FOLDER
    if p.suffix.lower() in IMAGE_EXTENSIONS:
        return SourceKind.IMAGE
    return SourceKind.VIDEO


def open_source(config: SourceConfig, clock: Clock = time.perf_counter, sleep: Sleep = time.sleep) -> Source:
    """Build (not yet open) the source the config names."""
    from avatar.capture.camera import CameraSource
    from avatar.capture.files import FolderSource, ImageSource, VideoSource
    from avatar.capture.scripted import ScriptedSource

    kind = config.kind
    if kind is SourceKind.SCRIPT:
        return ScriptedSource(config, clock=clock, sleep=sleep)
    if kind is SourceKind.CAMERA:
        return CameraSource(config, clock=clock)
    if kind is SourceKind.FOLDER:
        return FolderSource(config, clock=clock)
    if kind is SourceKind.IMAGE:
        return ImageSource(config, clock=clock, sleep=sleep)
    return VideoSource(config, clock=clock, sleep=sleep)


class Pacer:
    """Sleeps so that media time `t` is shown at wall time start + t (used by file and script sources)."""

    def __init__(self, clock: Clock, sleep: Sleep) -> None:
        self.clock, self.sleep = clock, sleep
        self.t0: float | None = None

    def wait(self, t_media: float) -> None:
        now = self.clock()
        if self.t0 is None:
            self.t0 = now - t_media
        delay = self.t0 + t_media - now
        if delay > 0:
            self.sleep(delay)
