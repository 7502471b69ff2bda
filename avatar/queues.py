"""A one-item hand-over slot between threads: live video drops the oldest item, offline work waits."""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class LatestSlot(Generic[T]):
    """Holds at most one item.

    lossless=False (live): `put` replaces an item nobody took yet and counts it as dropped, so a slow
    consumer always gets the newest frame and the pipeline never falls behind the camera.
    lossless=True (files, benchmarks): `put` waits until the consumer took the previous item.
    `close` wakes everyone; `get` then returns what is left, then None.
    """

    def __init__(self, lossless: bool = False) -> None:
        self.lossless = lossless
        self.dropped = 0
        self._item: T | None = None
        self._full = False
        self._closed = False
        self._cond = threading.Condition()

    def put(self, item: T) -> bool:
        """Hand over an item; False when the slot was closed (the item was not taken)."""
        with self._cond:
            if self.lossless:
                self._cond.wait_for(lambda: not self._full or self._closed)
            if self._closed:
                return False
            if self._full:
                self.dropped += 1
            self._item, self._full = item, True
            self._cond.notify_all()
            return True

    def get(self, timeout: float | None = None) -> T | None:
        """The item, or None when closed and empty (or after `timeout` seconds with nothing)."""
        with self._cond:
            self._cond.wait_for(lambda: self._full or self._closed, timeout)
            if not self._full:
                return None
            item, self._item, self._full = self._item, None, False
            self._cond.notify_all()
            return item

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed
