"""Virtual camera output through pyvirtualcam (v4l2loopback, OBS Virtual Camera, Unity Capture)."""

from __future__ import annotations

import logging
import platform

import pyvirtualcam
from pyvirtualcam.camera import BACKENDS

from avatar.errors import SinkError
from avatar.frames import Image, PixelFormat
from avatar.output.sinks.base import check_open_args, check_size
from avatar.output.sinks.convert import Flattener, solid

log = logging.getLogger(__name__)

LINUX_SETUP = (
    "sudo apt install v4l2loopback-dkms && "
    "sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label=EmoteBot"
)


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


class VirtualCameraSink:
    """Sends RGB frames to a virtual camera; the pipeline paces frames, so this never sleeps."""

    def __init__(self, device: str | None, backend: str | None, matte: tuple[int, int, int]) -> None:
        self.device = device
        self.backend = backend
        self.matte = matte
        self.name = "vcam" if device is None else f"vcam:{device}"
        self.frames = 0
        self._cam: pyvirtualcam.Camera | None = None
        self._flatten: Flattener | None = None
        self._size = (0, 0)

    def open(self, width: int, height: int, fps: float) -> None:
        check_open_args(self.name, width, height, fps)
        if self.backend is not None and self.backend not in BACKENDS:
            known = ", ".join(BACKENDS) or "none on this system"
            raise SinkError(
                f"{self.name}: unknown virtual camera back end {self.backend!r}; available: {known}"
            )
        try:
            cam = pyvirtualcam.Camera(
                width, height, fps, fmt=pyvirtualcam.PixelFormat.RGB,
                device=self.device, backend=self.backend, print_fps=False,
            )
        except RuntimeError as e:
            reason = str(e).strip() or "no virtual camera back end is available"
            where = f"device {self.device!r}" if self.device else "a virtual camera"
            raise SinkError(
                f"{self.name}: could not open {where}: {reason}\nTo fix: {setup_help(platform.system())}"
            ) from e
        self._cam, self._size = cam, (width, height)
        self._flatten = Flattener(solid(width, height, self.matte, PixelFormat.RGB), PixelFormat.RGB)
        log.info("virtual camera %s (%s) at %s×%s, %g fps", cam.device, cam.backend, width, height, fps)

    def send(self, frame: Image, t_capture: float) -> None:
        if self._cam is None or self._flatten is None:
            raise SinkError(f"{self.name}: send() before open() or after close()")
        check_size(self.name, frame, *self._size)
        try:
            self._cam.send(self._flatten(frame))
        except (RuntimeError, OSError) as e:
            raise SinkError(f"{self.name}: the virtual camera refused a frame: {e}") from e
        self.frames += 1

    @property
    def opened_device(self) -> str | None:
        """The device pyvirtualcam chose (e.g. /dev/video10), once open."""
        return None if self._cam is None else self._cam.device

    def close(self) -> None:
        if self._cam is not None:
            self._cam.close()
            self._cam = None
