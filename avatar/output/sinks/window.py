"""Preview window (OpenCV highgui) that also reads hotkeys: 1-5 expressions, c calibrate, q/Esc quit."""

from __future__ import annotations

import logging
import os
import platform
import socket
from collections.abc import Callable

import cv2

from avatar.errors import SinkError
from avatar.frames import Image, PixelFormat
from avatar.output.sinks.base import check_open_args, check_size
from avatar.output.sinks.convert import Flattener, checkerboard

log = logging.getLogger(__name__)

# Key → action handed to on_key. Expression actions are Expression values, so the caller can parse them.
HOTKEYS: dict[str, str] = {
    "1": "neutral",
    "2": "happy",
    "3": "sad",
    "4": "surprised",
    "5": "angry",
    "c": "calibrate",
    "q": "quit",
    "\x1b": "quit",  # Esc
}
NO_DISPLAY_HELP = (
    "no display for a preview window: use --sink file:out.mp4 (or y4m:PATH, vcam) instead, "
    "or run inside a desktop session (on Wayland, OpenCV's window needs XWayland and DISPLAY)"
)


def key_action(code: int) -> str | None:
    """The action for a cv2.waitKey() code, None for no key or an unbound one."""
    if code < 0:
        return None
    return HOTKEYS.get(chr(code & 0xFF).lower())


def _x_reachable(display: str, timeout: float = 0.5) -> bool:
    """Whether an X server answers at DISPLAY (":0", "unix:1.0", "host:10.0"), without loading Qt."""
    host, _, rest = display.rpartition(":")
    try:
        number = int(rest.split(".")[0])
    except ValueError:
        return False
    if host in ("", "unix"):
        # Linux X servers listen on a socket file and on the same name in the abstract namespace
        # (containers often share only the latter).
        addresses = [f"/tmp/.X11-unix/X{number}", f"\0/tmp/.X11-unix/X{number}"]
        return any(_connects(socket.AF_UNIX, a, timeout) for a in addresses)
    return _connects(socket.AF_INET, (host, 6000 + number), timeout)


def _connects(family: int, address: str | tuple[str, int], timeout: float) -> bool:
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        try:
            s.connect(address)
        except OSError:
            return False
    return True


def display_available() -> bool:
    """Whether OpenCV can open a window here. On Linux that needs a reachable X server (its Qt build has
    only the X11 plug-in, and without one Qt aborts the whole process rather than raising)."""
    if platform.system() != "Linux":
        return True
    display = os.environ.get("DISPLAY", "")
    return bool(display) and _x_reachable(display)


class WindowSink:
    """Shows frames in a window (transparency over a checkerboard) and turns key presses into actions."""

    # GUI toolkits (OpenCV's Qt, and every toolkit on macOS) only work from the thread that made the window:
    # the pipeline runs this sink on the main thread, where it is also opened and closed.
    needs_main_thread = True

    def __init__(self, title: str, on_key: Callable[[str], None] | None) -> None:
        self.title = title
        self.on_key = on_key
        self.name = "window"
        self.frames = 0
        self._flatten: Flattener | None = None
        self._size = (0, 0)
        self._window_gone = False

    def open(self, width: int, height: int, fps: float) -> None:
        check_open_args(self.name, width, height, fps)
        if not display_available():
            raise SinkError(f"window: {NO_DISPLAY_HELP}")
        try:
            cv2.namedWindow(self.title, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO)
            cv2.resizeWindow(self.title, width, height)
        except cv2.error as e:
            raise SinkError(f"window: OpenCV failed ({e.msg.strip()}); {NO_DISPLAY_HELP}") from e
        self._size = (width, height)
        self._flatten = Flattener(checkerboard(width, height), PixelFormat.BGR)

    def send(self, frame: Image, t_capture: float) -> None:
        if self._flatten is None:
            raise SinkError("window: send() before open() or after close()")
        check_size(self.name, frame, *self._size)
        cv2.imshow(self.title, self._flatten(frame))
        self.frames += 1
        # waitKey also runs the GUI event loop: without it the window never repaints.
        action = key_action(cv2.waitKey(1))
        if action is None and not self._window_gone:
            # The user closed the window: ask to quit once (imshow would reopen it on the next frame).
            self._window_gone = cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1
            action = "quit" if self._window_gone else None
        if action is not None:
            log.debug("window key action %s", action)
            if self.on_key is not None:
                self.on_key(action)

    def close(self) -> None:
        if self._flatten is not None:
            self._flatten = None
            try:
                cv2.destroyWindow(self.title)
                cv2.waitKey(1)  # let the GUI loop actually remove it
            except cv2.error as e:
                log.debug("window already gone: %s", e)
