"""The sink protocol, sink specs ("vcam", "file:out.mp4", …) and the options sinks share."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from avatar.errors import ConfigError, SinkError
from avatar.frames import Image


class Sink(Protocol):
    """Where composited frames go. open() once, send() per frame, close() once (closing twice is harmless)."""

    name: str  # short label for logs and the HUD, e.g. "file:out.mp4"

    def open(self, width: int, height: int, fps: float) -> None: ...

    def send(self, frame: Image, t_capture: float) -> None:
        """Hand over one RGBA frame (straight alpha) captured at t_capture; the sink converts it."""
        ...

    def close(self) -> None: ...


class SinkKind(enum.Enum):
    """The closed set of outputs."""

    VCAM = "vcam"  # virtual camera (pyvirtualcam): v4l2loopback, OBS Virtual Camera, Unity Capture
    WINDOW = "window"  # preview window with hotkeys
    FILE = "file"  # video file (mp4 / avi)
    Y4M = "y4m"  # raw YUV4MPEG2 stream to a file or FIFO (ffmpeg, Chromium's fake camera)
    NULL = "null"  # discards frames; for benchmarks and tests
    BROWSER = "browser"  # OBS browser source and control page served on 127.0.0.1 (frames with alpha)


# How each kind is written on the command line; a target after ":" is required, optional or refused.
SPEC_FORMS: dict[SinkKind, str] = {
    SinkKind.VCAM: "vcam[:DEVICE]",
    SinkKind.WINDOW: "window",
    SinkKind.FILE: "file:PATH",
    SinkKind.Y4M: "y4m:PATH",
    SinkKind.NULL: "null",
    SinkKind.BROWSER: "browser[:PORT]",
}
_TARGET_REQUIRED = {SinkKind.FILE, SinkKind.Y4M}
_TARGET_ALLOWED = {SinkKind.FILE, SinkKind.Y4M, SinkKind.VCAM, SinkKind.BROWSER}


@dataclass(frozen=True)
class SinkSpec:
    """One output as the user named it: a kind and, for some kinds, a target (path or device)."""

    kind: SinkKind
    target: str | None = None  # file path, FIFO path, virtual camera device or port; None where not used

    def __str__(self) -> str:
        return self.kind.value if self.target is None else f"{self.kind.value}:{self.target}"


def parse_sink_spec(spec: str) -> SinkSpec:
    """Parse "vcam", "vcam:/dev/video10", "window", "file:PATH", "y4m:PATH", "null" or "browser[:PORT]"."""
    allowed = ", ".join(SPEC_FORMS.values())
    head, sep, target = spec.strip().partition(":")
    try:
        kind = SinkKind(head.strip().lower())
    except ValueError:
        raise ConfigError(f"sink: unknown output {spec!r}; allowed: {allowed}") from None
    if sep and kind not in _TARGET_ALLOWED:
        raise ConfigError(f"sink: {kind.value!r} takes no ':' target, got {spec!r}; write {SPEC_FORMS[kind]}")
    if kind in _TARGET_REQUIRED and not target:
        raise ConfigError(f"sink: {kind.value!r} needs a path, got {spec!r}; write {SPEC_FORMS[kind]}")
    if sep and not target:
        raise ConfigError(f"sink: empty target in {spec!r}; write {SPEC_FORMS[kind]}")
    return SinkSpec(kind, target or None)


@dataclass(frozen=True)
class SinkOptions:
    """Settings sinks share; each sink reads only its own."""

    matte: tuple[int, int, int] = (24, 26, 32)  # RGB laid under transparent pixels where there is no alpha
    vcam_backend: str | None = None  # pyvirtualcam back end name; None tries every registered one
    on_key: Callable[[str], None] | None = None  # window hotkey actions ("happy", "calibrate", "quit", …)
    window_title: str = "EmoteBot"  # preview window title
    # What transparent pixels become on a virtual camera without alpha (chroma green to key in OBS); None = matte.
    vcam_matte: tuple[int, int, int] | None = None
    # Control page: a typed word's action and the word itself (a typed trigger); None = on_key(action).
    on_typed: Callable[[str, str], None] | None = None
    # Live state for the control page: fps, latency_ms, expression, last_trigger, mic_level; None = not shown.
    status: Callable[[], dict[str, object]] | None = None

    def __post_init__(self) -> None:
        for name in ("matte", "vcam_matte"):
            m = getattr(self, name)
            if m is None and name == "vcam_matte":
                continue
            ok = isinstance(m, tuple) and len(m) == 3 and all(isinstance(c, int) and 0 <= c <= 255 for c in m)
            if not ok:
                raise ConfigError(f"{name}: must be an (R, G, B) tuple of whole numbers 0..255, got {m!r}")
        if self.vcam_backend is not None and not self.vcam_backend.strip():
            raise ConfigError("vcam_backend: must be a back end name or None, got an empty string")


def check_size(name: str, frame: Image, width: int, height: int) -> None:
    """Refuse a frame whose size differs from the one the sink was opened at."""
    if frame.width != width or frame.height != height:
        raise SinkError(
            f"{name}: got a {frame.width}×{frame.height} frame, but the output was opened at {width}×{height}"
        )


def check_open_args(name: str, width: int, height: int, fps: float) -> None:
    if width < 2 or height < 2 or width % 2 or height % 2:
        raise SinkError(f"{name}: frame size must be even and at least 2×2, got {width}×{height}")
    if not fps > 0:
        raise SinkError(f"{name}: fps must be positive, got {fps}")
