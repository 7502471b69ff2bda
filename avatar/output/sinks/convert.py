"""Pixel conversions for outputs without alpha: RGBA over a matte, I420 for y4m, a preview checkerboard."""

from __future__ import annotations

import cv2
import numpy as np

from avatar.frames import Image, PixelFormat

_TO_3 = {PixelFormat.RGB: cv2.COLOR_RGBA2RGB, PixelFormat.BGR: cv2.COLOR_RGBA2BGR}


def solid(width: int, height: int, rgb: tuple[int, int, int], fmt: PixelFormat) -> np.ndarray:
    """A (H, W, 3) image of one colour in the given channel order (RGB or BGR)."""
    img = np.empty((height, width, 3), np.uint8)
    img[:] = rgb if fmt is PixelFormat.RGB else rgb[::-1]
    return img


def checkerboard(width: int, height: int, cell: int = 16) -> np.ndarray:
    """The grey checkerboard that shows transparency, (H, W, 3); grey, so channel order does not matter."""
    ys, xs = np.indices((height, width))
    light = ((ys // cell + xs // cell) % 2).astype(bool)
    img = np.where(light[..., None], np.uint8(204), np.uint8(153)).astype(np.uint8)
    return np.repeat(img, 3, axis=2)


class Flattener:
    """RGBA (straight alpha) → 3-channel RGB or BGR laid over a matte image; reuses its buffers.

    The returned array is overwritten by the next call.
    """

    def __init__(self, matte: np.ndarray, fmt: PixelFormat) -> None:
        if fmt not in _TO_3:
            raise ValueError(f"Flattener makes RGB or BGR, not {fmt.name}")
        self.fmt = fmt
        self._matte = np.ascontiguousarray(matte, dtype=np.uint8)  # (H, W, 3) in fmt order
        h, w = matte.shape[:2]
        self._out = np.empty((h, w, 3), np.uint8)
        self._tmp = np.empty((h, w, 3), np.uint8)
        self._a3 = np.empty((h, w, 3), np.uint8)

    def __call__(self, frame: Image) -> np.ndarray:
        rgba = frame.to(PixelFormat.RGBA).pixels
        cv2.cvtColor(rgba, _TO_3[self.fmt], dst=self._out)
        alpha = cv2.extractChannel(rgba, 3)
        if cv2.minMaxLoc(alpha)[0] == 255:  # opaque background: the common case costs one conversion
            return self._out
        cv2.merge([alpha, alpha, alpha], dst=self._a3)
        cv2.multiply(self._out, self._a3, dst=self._out, scale=1 / 255)
        cv2.bitwise_not(self._a3, dst=self._a3)  # 255 − alpha
        cv2.multiply(self._matte, self._a3, dst=self._tmp, scale=1 / 255)
        cv2.add(self._out, self._tmp, dst=self._out)
        return self._out


def to_i420(rgb: np.ndarray) -> np.ndarray:
    """RGB (H, W, 3) → planar I420 (H·3/2, W): BT.601 limited range, chroma averaged over 2×2 (centred)."""
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)
