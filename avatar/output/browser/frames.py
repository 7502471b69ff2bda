"""The browser source's frames: the newest RGBA frame, encoded once as a PNG of its visible part, for every client."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from avatar.errors import SinkError

log = logging.getLogger(__name__)

_PNG_LEVEL = 1  # zlib level: 1 encodes a 720p frame's visible part in a few ms and is only ~6 % bigger than 3
_DEMAND_S = 2.0  # frames are copied and encoded only while a client asked for one this recently


@dataclass(frozen=True)
class EncodedFrame:
    """One frame as clients get it: the PNG (with alpha) of the box around its visible pixels."""

    seq: int  # 1, 2, … in the order the pipeline produced them
    t_capture: float  # capture time (pipeline clock)
    width: int  # the whole frame
    height: int
    box: tuple[int, int, int, int]  # x, y, w, h of the visible part; w = h = 0 when nothing is visible
    png: bytes  # PNG of the box (RGBA, straight alpha); empty when nothing is visible


def encode_frame(rgba: np.ndarray, seq: int, t_capture: float) -> EncodedFrame:
    """Crop an (H, W, 4) RGBA frame to its non-transparent pixels and encode that part as PNG.

    Most of a transparent-background frame is empty, so cropping cuts the encoding time several-fold.
    """
    if rgba.ndim != 3 or rgba.shape[2] != 4 or rgba.dtype != np.uint8:
        raise ValueError(f"encode_frame takes (H, W, 4) uint8 RGBA, got {rgba.shape} {rgba.dtype}")
    h, w = rgba.shape[:2]
    x, y, bw, bh = cv2.boundingRect(np.ascontiguousarray(rgba[..., 3]))
    if bw == 0 or bh == 0:
        return EncodedFrame(seq, t_capture, w, h, (0, 0, 0, 0), b"")
    crop = cv2.cvtColor(rgba[y:y + bh, x:x + bw], cv2.COLOR_RGBA2BGRA)  # OpenCV writes BGRA as RGBA PNG
    ok, buf = cv2.imencode(".png", crop, [cv2.IMWRITE_PNG_COMPRESSION, _PNG_LEVEL])
    if not ok:
        raise SinkError(f"browser: PNG encoding failed for a {bw}×{bh} frame")
    return EncodedFrame(seq, t_capture, w, h, (x, y, bw, bh), buf.tobytes())


class FrameStore:
    """Hands the newest frame from the pipeline to any number of client threads, encoded once.

    put() (the sink's thread) copies the frame and returns at once; one encoder thread (run_encoder)
    encodes only the newest frame, and only while clients want frames; each client thread waits in
    newest() for a frame newer than the one it has. A client holds at most one frame, so a slow one
    skips frames (latest wins) and a stalled one blocks only its own thread, never the pipeline.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._cond = threading.Condition()
        self._raw: tuple[int, np.ndarray, float] | None = None  # (seq, RGBA pixels, t_capture)
        self._seq = 0
        self._encoded: EncodedFrame | None = None
        self._t_demand = -1e18
        self._closed = False
        self.encoded_count = 0
        self._warned = False  # a frame that fails to encode is logged once, then counted quietly
        self.encode_seconds = 0.0  # total time spent encoding, for the status page and benchmarks

    def wanted(self) -> bool:
        """Whether any client asked for a frame recently (else the sink skips even the copy)."""
        return self.clock() - self._t_demand < _DEMAND_S

    def put(self, rgba: np.ndarray, t_capture: float) -> None:
        """Offer the pipeline's newest frame (copied: the compositor reuses its buffer)."""
        with self._cond:
            self._seq += 1
            self._raw = (self._seq, rgba.copy(), t_capture)
            self._cond.notify_all()

    def newest(self, after: int, timeout: float) -> EncodedFrame | None:
        """The newest encoded frame with seq > after, waiting up to `timeout` s; None on timeout or close."""
        with self._cond:
            self._t_demand = self.clock()
            self._cond.notify_all()  # wakes the encoder if it was idle for lack of clients
            self._cond.wait_for(lambda: self._closed or (self._encoded is not None and self._encoded.seq > after),
                                timeout)
            frame = self._encoded
            return frame if frame is not None and frame.seq > after and not self._closed else None

    def _next_raw(self) -> tuple[int, np.ndarray, float] | None:
        def ready() -> bool:
            fresh = self._raw is not None and (self._encoded is None or self._raw[0] > self._encoded.seq)
            return self._closed or (fresh and self.wanted())

        with self._cond:
            while not ready():
                # Demand expires without a notification: wake now and then to notice it came back.
                self._cond.wait(0.5)
            if self._closed:
                return None
            raw, self._raw = self._raw, None
            return raw

    def run_encoder(self) -> None:
        """The encoder thread's loop, until close()."""
        while (raw := self._next_raw()) is not None:
            seq, pixels, t_capture = raw
            t0 = time.perf_counter()
            try:
                frame = encode_frame(pixels, seq, t_capture)
            except (SinkError, ValueError, cv2.error) as e:  # one bad frame never stops the browser source
                log.log(logging.DEBUG if self._warned else logging.WARNING, "browser: frame %d not encoded: %s",
                        seq, e)
                self._warned = True
                continue
            with self._cond:
                self.encode_seconds += time.perf_counter() - t0
                self.encoded_count += 1
                self._encoded = frame
                self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
