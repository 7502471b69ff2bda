"""Virtual camera output through pyvirtualcam (v4l2loopback, OBS Virtual Camera, Unity Capture)."""

from __future__ import annotations

import logging
import platform

import numpy as np
import pyvirtualcam
import pyvirtualcam.camera

from avatar.errors import SinkError
from avatar.frames import Image, PixelFormat
from avatar.output.sinks.base import check_open_args, check_size
from avatar.output.sinks.convert import Flattener, solid

log = logging.getLogger(__name__)

LINUX_SETUP = (
    "sudo apt install v4l2loopback-dkms && "
    "sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label=EmoteBot"
)

# Back ends whose devices carry an alpha channel: they get RGBA (Unity Capture's native format), so a
# transparent background stays transparent. Every other back end gets RGB over the matte (chroma green when
# the background is transparent) and converts it to its native YUV format itself.
ALPHA_BACKENDS = frozenset({"unitycapture"})

_PACE_TOLERANCE = 0.25  # of a frame period: a frame this much early still counts as on time (capture jitter)


def setup_help(system: str) -> str:
    """What to do when no virtual camera could be opened, for platform.system() == system."""
    if system == "Linux":
        return (
            "create a virtual camera with v4l2loopback: "
            f"{LINUX_SETUP} (exclusive_caps=1 lets Chrome, Zoom and Meet list it as a camera)"
        )
    if system == "Darwin":
        return (
            "install OBS Studio 30 or newer, click 'Start Virtual Camera' once and allow its system "
            "extension, then run EmoteBot again"
        )
    if system == "Windows":
        return (
            "install OBS Studio 26 or newer and click 'Start Virtual Camera' once (then stop it: "
            "EmoteBot needs the camera free), or install Unity Capture"
        )
    return f"no virtual camera is supported on {system or 'this system'}; use --sink file:out.mp4 or y4m:PATH"


class FramePacer:
    """Caps a stream at `fps` on its capture clock and keeps it in capture order.

    A call app reads a virtual camera at the rate it was opened with; frames arriving faster (a 60 fps webcam
    into a 30 fps camera) are thinned evenly instead of bursting, and a frame older than the last one sent
    is refused. Time is an argument: `admit` takes the frame's capture time and never sleeps.
    """

    def __init__(self, fps: float) -> None:
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.period = 1.0 / fps
        self.reset()

    def reset(self) -> None:
        self._due: float | None = None  # when the next frame is due
        self._last: float | None = None  # capture time of the last admitted frame

    def admit(self, t: float) -> bool:
        """Whether the frame captured at `t` should be sent."""
        if self._last is not None and t <= self._last:
            return False
        if self._due is not None and t < self._due - _PACE_TOLERANCE * self.period:
            return False
        behind = self._due is None or t - self._due >= self.period
        # After a stall, restart the schedule at this frame rather than send a burst to catch up.
        self._due = t + self.period if behind else self._due + self.period  # type: ignore[operator]
        self._last = t
        return True


def _camera_format(backend: str) -> pyvirtualcam.PixelFormat:
    return pyvirtualcam.PixelFormat.RGBA if backend in ALPHA_BACKENDS else pyvirtualcam.PixelFormat.RGB


class VirtualCameraSink:
    """Sends frames to a virtual camera: RGBA where the back end carries alpha, RGB over a matte elsewhere.

    Frames are paced to the fps the camera was opened at (on their capture times) and sent in capture
    order; the pipeline already runs in real time, so this never sleeps.
    """

    def __init__(self, device: str | None, backend: str | None, matte: tuple[int, int, int]) -> None:
        self.device = device
        self.backend = backend
        self.matte = matte
        self.name = "vcam" if device is None else f"vcam:{device}"
        self.frames = 0  # frames handed to the device
        self.skipped = 0  # frames thinned by pacing or refused as out of order
        self._cam: pyvirtualcam.Camera | None = None
        self._flatten: Flattener | None = None
        self._pacer: FramePacer | None = None
        self._size = (0, 0)

    def _try_backends(self, width: int, height: int, fps: float) -> pyvirtualcam.Camera:
        """Each back end in turn with its own pixel format; one error lists every back end's reason."""
        backends = pyvirtualcam.camera.BACKENDS  # read now: tests and plug-ins register back ends at run time
        if self.backend is not None and self.backend not in backends:
            known = ", ".join(backends) or "none on this system"
            raise SinkError(f"{self.name}: unknown virtual camera back end {self.backend!r}; available: {known}")
        names = [self.backend] if self.backend is not None else list(backends)
        reasons = []
        for name in names:
            try:
                return pyvirtualcam.Camera(width, height, fps, fmt=_camera_format(name), device=self.device,
                                           backend=name, print_fps=False)
            except RuntimeError as e:
                reasons.append(str(e).strip())
        reason = "\n".join(r for r in reasons if r) or "no virtual camera back end is available"
        where = f"device {self.device!r}" if self.device else "a virtual camera"
        raise SinkError(f"{self.name}: could not open {where}: {reason}\nTo fix: {setup_help(platform.system())}")

    def open(self, width: int, height: int, fps: float) -> None:
        check_open_args(self.name, width, height, fps)
        cam = self._try_backends(width, height, fps)
        self._cam, self._size = cam, (width, height)
        self._flatten = Flattener(solid(width, height, self.matte, PixelFormat.RGB), PixelFormat.RGB)
        self._pacer = FramePacer(fps)
        log.info("virtual camera %s (%s, %s) at %s×%s, %g fps", cam.device, cam.backend, cam.fmt, width, height,
                 fps)

    @property
    def pixel_format(self) -> PixelFormat | None:
        """What the device receives once open: RGBA (alpha kept) or RGB (laid over the matte)."""
        if self._cam is None:
            return None
        return PixelFormat.RGBA if self._cam.fmt is pyvirtualcam.PixelFormat.RGBA else PixelFormat.RGB

    def _pixels(self, frame: Image) -> np.ndarray:
        if self.pixel_format is PixelFormat.RGBA:
            return frame.to(PixelFormat.RGBA).pixels
        assert self._flatten is not None  # set together with _cam in open()
        return self._flatten(frame)

    def send(self, frame: Image, t_capture: float) -> None:
        if self._cam is None or self._pacer is None:
            raise SinkError(f"{self.name}: send() before open() or after close()")
        check_size(self.name, frame, *self._size)
        if not self._pacer.admit(t_capture):
            self.skipped += 1
            return
        try:
            self._cam.send(self._pixels(frame))
        except (RuntimeError, OSError, ValueError) as e:
            raise SinkError(f"{self.name}: the virtual camera refused a frame: {e}") from e
        self.frames += 1

    @property
    def opened_device(self) -> str | None:
        """The device pyvirtualcam chose (e.g. /dev/video10), once open."""
        return None if self._cam is None else self._cam.device

    @property
    def opened_backend(self) -> str | None:
        """The back end that took the camera (v4l2loopback, obs, unitycapture), once open."""
        return None if self._cam is None else self._cam.backend

    def close(self) -> None:
        if self._cam is not None:
            self._cam.close()
            self._cam = None
