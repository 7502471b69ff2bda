"""Compositor: places the generated RGBA head on the output frame by the rig's pose, over a background."""

from __future__ import annotations

import enum
import logging
import math
import os
from dataclasses import dataclass

import cv2
import numpy as np

from avatar.errors import ConfigError
from avatar.expression.rig import RigCode, sanitize
from avatar.frames import Image, PixelFormat
from avatar.output.hud import HudInfo, draw_hud

log = logging.getLogger(__name__)

# Frames handed out are reused after this many further calls: enough for one frame in the sink, one waiting
# in a one-slot queue and one being composited, so a threaded pipeline never sees a frame change under it.
_RING = 3


class Background(enum.Enum):
    """What fills the frame outside the head."""

    TRANSPARENT = "transparent"  # alpha 0: for OBS browser sources and compositing downstream
    COLOR = "color"  # a solid colour (CompositorConfig.color)
    CHROMA = "chroma"  # chroma-key green (CompositorConfig.chroma) for keying in OBS or a video editor
    IMAGE = "image"  # a picture file (CompositorConfig.image_path), scaled to cover the frame

    @classmethod
    def parse(cls, name: str) -> Background:
        try:
            return cls(name.strip().lower())
        except ValueError:
            allowed = ", ".join(b.value for b in cls)
            raise ConfigError(f"background: unknown value {name!r}; allowed: {allowed}") from None


@dataclass(frozen=True)
class CompositorConfig:
    """How the output frame is laid out."""

    width: int = 1280  # output frame width in pixels; even (4:2:0 video needs it) and >= 64
    height: int = 720  # output frame height in pixels; even and >= 64
    background: Background = Background.TRANSPARENT  # what fills the frame outside the head
    color: tuple[int, int, int] = (24, 26, 32)  # RGB, used when background is COLOR
    chroma: tuple[int, int, int] = (0, 177, 64)  # RGB, used when background is CHROMA
    image_path: str | None = None  # picture file, required when background is IMAGE
    head_fraction: float = 0.75  # head image height as a fraction of frame height at head_scale 1; 0.05..2
    keep_in_frame: bool = True  # clamp head_x/head_y so most of the head stays visible
    hud: bool = False  # draw the fps / latency / expression panel when HudInfo is given

    def __post_init__(self) -> None:
        for name in ("width", "height"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 64 or value % 2:
                raise ConfigError(f"{name}: must be an even whole number >= 64, got {value!r}")
        if not isinstance(self.background, Background):
            allowed = ", ".join(b.value for b in Background)
            raise ConfigError(f"background: must be one of {allowed}, got {self.background!r}")
        for name in ("color", "chroma"):
            _check_rgb(name, getattr(self, name))
        if not (isinstance(self.head_fraction, (int, float)) and 0.05 <= self.head_fraction <= 2.0):
            raise ConfigError(f"head_fraction: must be a number in 0.05..2, got {self.head_fraction!r}")
        if self.background is Background.IMAGE:
            if not self.image_path:
                raise ConfigError("image_path: required when background is 'image'")
            if not os.path.isfile(self.image_path):
                raise ConfigError(f"image_path: no such file {self.image_path!r}")


def _check_rgb(name: str, value: object) -> None:
    ok = (
        isinstance(value, tuple)
        and len(value) == 3
        and all(isinstance(c, int) and 0 <= c <= 255 for c in value)
    )
    if not ok:
        raise ConfigError(f"{name}: must be an (R, G, B) tuple of whole numbers 0..255, got {value!r}")


def load_background_image(path: str, width: int, height: int) -> np.ndarray:
    """The picture at path as RGB, scaled to cover width×height and centre-cropped."""
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    if bgr is None:
        raise ConfigError(f"image_path: {path!r} is not a picture OpenCV can read (use PNG or JPEG)")
    h, w = bgr.shape[:2]
    s = max(width / w, height / h)
    sw, sh = max(width, round(w * s)), max(height, round(h * s))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    scaled = cv2.resize(bgr, (sw, sh), interpolation=interp)
    x0, y0 = (sw - width) // 2, (sh - height) // 2
    return cv2.cvtColor(scaled[y0 : y0 + height, x0 : x0 + width], cv2.COLOR_BGR2RGB)


def head_transform(config: CompositorConfig, head_w: int, head_h: int, code: RigCode) -> np.ndarray:
    """The 2×3 affine matrix taking head-image pixels to output-frame pixels for this pose."""
    base = config.head_fraction * config.height  # on-screen head size at scale 1: the offsets' unit
    s = base * code["head_scale"] / head_h
    # The rig's "face widths" are the neutral face's; the head image spans about one face, so one unit of
    # head_x/head_y moves the head by its own neutral on-screen size.
    cx = (config.width - 1) / 2 + code["head_x"] * base
    cy = (config.height - 1) / 2 - code["head_y"] * base  # + head_y is up, image rows grow down
    if config.keep_in_frame:
        # Let at most about a fifth of the head leave the frame: a user leaning out of view should not
        # take EmoteBot with them.
        margin = 0.3 * s * head_h
        cx = min(max(cx, margin), config.width - 1 - margin) if 2 * margin < config.width else cx
        cy = min(max(cy, margin), config.height - 1 - margin) if 2 * margin < config.height else cy
    # + roll turns the top of the head towards image right: clockwise on screen, which in y-down pixel
    # coordinates is a positive angle in the usual rotation formula.
    a = math.radians(code["head_roll"])
    cos, sin = s * math.cos(a), s * math.sin(a)
    hx, hy = (head_w - 1) / 2, (head_h - 1) / 2
    return np.array(
        [[cos, -sin, cx - cos * hx + sin * hy], [sin, cos, cy - sin * hx - cos * hy]], dtype=np.float64
    )


def _bounds(m: np.ndarray, w: int, h: int, width: int, height: int) -> tuple[int, int, int, int] | None:
    """Pixel box (x0, y0, x1, y1) of the transformed head clipped to the frame; None when off-frame."""
    corners = np.array([[-0.5, -0.5, 1], [w - 0.5, -0.5, 1], [-0.5, h - 0.5, 1], [w - 0.5, h - 0.5, 1]])
    pts = corners @ m.T
    x0, y0 = np.floor(pts.min(axis=0)).astype(int) - 1
    x1, y1 = np.ceil(pts.max(axis=0)).astype(int) + 2
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if x1 <= x0 or y1 <= y0:
        return None
    return int(x0), int(y0), int(x1), int(y1)


class Compositor:
    """Stage: (RGBA head, RigCode, optional HudInfo) -> RGBA output frame with straight alpha.

    The returned frame's pixels are reused by a later call (after two more frames): copy to keep one.
    """

    def __init__(self, config: CompositorConfig) -> None:
        self.config = config
        w, h = config.width, config.height
        self._ring = [np.zeros((h, w, 4), np.uint8) for _ in range(_RING)]
        self._next = 0
        self._background = self._make_background()
        # Scratch for the warped head, sliced to the head's box each frame (a contiguous prefix, no copy).
        self._scratch = np.empty(h * w * 4, np.uint8)
        self._scratch_inv = np.empty(h * w * 4, np.uint8)
        self._warned_pose = False

    def _make_background(self) -> np.ndarray | None:
        c = self.config
        if c.background is Background.TRANSPARENT:
            return None
        if c.background is Background.IMAGE:
            rgb = load_background_image(str(c.image_path), c.width, c.height)
        else:
            colour = c.color if c.background is Background.COLOR else c.chroma
            rgb = np.empty((c.height, c.width, 3), np.uint8)
            rgb[:] = colour
        return cv2.cvtColor(rgb, cv2.COLOR_RGB2RGBA)

    def reset(self) -> None:
        """Nothing carries over between frames; present for the stage interface."""

    def process(self, head: Image, code: RigCode, hud: HudInfo | None = None) -> Image:
        out = self._ring[self._next]
        self._next = (self._next + 1) % _RING
        if self._background is None:
            out.fill(0)
        else:
            np.copyto(out, self._background)
        self._place_head(out, head, code)
        if self.config.hud and hud is not None:
            draw_hud(out, hud)
        return Image(out, PixelFormat.RGBA)

    def _place_head(self, out: np.ndarray, head: Image, code: RigCode) -> None:
        rgba = head.to(PixelFormat.RGBA).pixels
        hh, hw = rgba.shape[:2]
        if not np.isfinite(code.values).all():
            # One bad code must not kill the live loop: draw the pose with NaN/inf fields at rest.
            code, report = sanitize(code.values)
            if not self._warned_pose:
                log.warning("compositor got a non-finite pose (%s); further ones are fixed silently", report)
                self._warned_pose = True
        m = head_transform(self.config, hw, hh, code)
        box = _bounds(m, hw, hh, self.config.width, self.config.height)
        if box is None:
            return
        x0, y0, x1, y1 = box
        bw, bh = x1 - x0, y1 - y0
        m[:, 2] -= (x0, y0)
        # Warping premultiplied colour keeps the (arbitrary) colour of transparent pixels from bleeding into
        # the edge, which would leave a dark fringe.
        warped = self._scratch[: bh * bw * 4].reshape(bh, bw, 4)
        cv2.warpAffine(
            _premultiply(rgba), m, (bw, bh), dst=warped, flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0),
        )
        roi = out[y0:y1, x0:x1]
        if self._background is None:
            _unpremultiply_edges(warped)
            roi[:] = warped
            return
        alpha = cv2.extractChannel(warped, 3)
        inv = self._scratch_inv[: bh * bw * 4].reshape(bh, bw, 4)
        cv2.merge([255 - alpha] * 4, dst=inv)
        # over: premultiplied head + background × (1 − head alpha); an opaque background stays opaque
        roi[:] = cv2.add(warped, cv2.multiply(roi, inv, scale=1 / 255))


def _premultiply(rgba: np.ndarray) -> np.ndarray:
    alpha = cv2.extractChannel(rgba, 3)
    a4 = cv2.merge([alpha, alpha, alpha, np.full_like(alpha, 255)])
    return cv2.multiply(rgba, a4, scale=1 / 255)


def _unpremultiply_edges(premul: np.ndarray) -> None:
    """Premultiplied → straight alpha, in place.

    Only partly transparent pixels change (alpha 255 is already straight, alpha 0 is black either way), and
    on a head they are a thin edge band: thousands of pixels instead of a divide over the whole box.
    """
    alpha = cv2.extractChannel(premul, 3)
    pts = cv2.findNonZero(cv2.inRange(alpha, np.array([1]), np.array([254])))
    if pts is None:
        return
    xs, ys = pts[:, 0, 0], pts[:, 0, 1]
    px = premul[ys, xs].astype(np.float32)  # (N, 4)
    px[:, :3] *= 255 / px[:, 3:4]
    premul[ys, xs] = np.minimum(px + 0.5, 255).astype(np.uint8)
