"""An in-memory pyvirtualcam back end, registered through pyvirtualcam's own registry, for tests."""

from __future__ import annotations

from typing import ClassVar

import numpy as np


class MemoryCamera:
    """An in-memory pyvirtualcam back end: records what a real device would receive."""

    received: ClassVar[list[tuple[int, np.ndarray]]] = []
    closed: ClassVar[int] = 0

    def __init__(self, *, width: int, height: int, fps: float, fourcc: int, device: str | None, **kw: object):
        self.width, self.height, self.fourcc = width, height, fourcc
        self._device = device or "memory0"

    def send(self, frame: np.ndarray) -> None:
        MemoryCamera.received.append((self.fourcc, frame.copy()))

    def close(self) -> None:
        MemoryCamera.closed += 1

    def device(self) -> str:
        return self._device

    def native_fourcc(self) -> int:
        return self.fourcc


class BrokenCamera(MemoryCamera):
    def __init__(self, **kw: object) -> None:
        raise RuntimeError("device is busy (opened by another program)")
