"""The studio renderer: EmoteBot's head drawn from a rig code, anti-aliased at any size, as straight RGBA."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, fields

import cv2
import numpy as np

from avatar.character import head, sdf
from avatar.character.face import FaceLayout, layout
from avatar.character.facedraw import FaceLayers, FacePlane, draw_face
from avatar.errors import ConfigError
from avatar.expression.rig import Expression, RigCode, sanitize
from avatar.frames import Image, PixelFormat

log = logging.getLogger(__name__)

F32 = np.float32
RGB = tuple[int, int, int]


@dataclass(frozen=True)
class RendererConfig:
    """How the studio renderer draws EmoteBot; colours are sRGB 0..255 triples."""

    size: int = 256  # output is size x size pixels when render() is not given a size; 16..4096
    shell: RGB = (240, 241, 245)  # head shell plastic
    accent: RGB = (255, 128, 72)  # ear pods
    metal: RGB = (168, 176, 190)  # bolts and antenna stalk
    bezel: RGB = (46, 52, 66)  # frame around the screen
    glass: RGB = (12, 18, 32)  # the screen when nothing is lit
    neutral_light: RGB = (96, 228, 255)  # face light colour per expression; blended by the weights
    happy_light: RGB = (255, 206, 92)
    sad_light: RGB = (108, 150, 255)
    surprised_light: RGB = (170, 255, 214)
    angry_light: RGB = (255, 74, 60)
    blush: RGB = (255, 112, 160)  # cheek glow when happy
    tear: RGB = (190, 228, 255)
    glow: float = 1.0  # bloom strength around the lit face; 0 turns it off, up to 4
    glow_radius: float = 0.035  # bloom spread in face-plane units (the screen is ~0.8 wide); 0.005..0.2
    gloss: float = 0.55  # shell highlight strength; 0..2

    def __post_init__(self) -> None:
        if not isinstance(self.size, int) or not 16 <= self.size <= 4096:
            raise ConfigError(f"renderer.size must be an integer within 16..4096, got {self.size!r}")
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type == "RGB" and not (
                isinstance(value, tuple) and len(value) == 3
                and all(isinstance(c, int) and 0 <= c <= 255 for c in value)
            ):
                raise ConfigError(f"renderer.{f.name} must be three integers 0..255 (R, G, B), got {value!r}")
        for name, lo, hi in (("glow", 0.0, 4.0), ("glow_radius", 0.005, 0.2), ("gloss", 0.0, 2.0)):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not lo <= value <= hi:
                raise ConfigError(f"renderer.{name} must be a number within {lo}..{hi}, got {value!r}")

    def colour(self, name: str) -> np.ndarray:
        return np.asarray(getattr(self, name), dtype=np.float32) / F32(255.0)


@dataclass(frozen=True)
class _Grid:
    """Pixel-centre coordinates for one output size, cached because every frame reuses them."""

    size: int
    xs: np.ndarray  # (S,) canvas x of each column, −1..1
    ys: np.ndarray  # (S,) canvas y of each row, 1..−1 (y up)
    lo_xs: np.ndarray  # coarse grid for ray casting the shell
    lo_ys: np.ndarray

    @property
    def px(self) -> float:
        return 2.0 / self.size

    def window(self, x0: float, y0: float, x1: float, y1: float) -> tuple[slice, slice]:
        """Row and column slices covering a canvas-unit box, with a pixel to spare, clipped to the canvas."""
        S = self.size
        c0 = min(max((math.floor((x0 + 1.0) * S / 2.0)) - 1, 0), S)
        c1 = max(min((math.ceil((x1 + 1.0) * S / 2.0)) + 1, S), c0)
        r0 = min(max((math.floor((1.0 - y1) * S / 2.0)) - 1, 0), S)
        r1 = max(min((math.ceil((1.0 - y0) * S / 2.0)) + 1, S), r0)
        return slice(r0, r1), slice(c0, c1)

    @classmethod
    def of(cls, size: int) -> _Grid:
        c = (np.arange(size, dtype=np.float32) + F32(0.5)) * F32(2.0 / size) - F32(1.0)
        lo = int(min(max(size // 4, 32), 256))
        cl = (np.arange(lo, dtype=np.float32) + F32(0.5)) * F32(2.0 / lo) - F32(1.0)
        return cls(size, c, -c, cl, -cl)


class StudioRenderer:
    """Draws EmoteBot from a RigCode. Deterministic: the same code and size give the same pixels.

    head_roll, head_x, head_y and head_scale are the compositor's job and do not change the drawing.
    """

    def __init__(self, config: RendererConfig = RendererConfig()) -> None:
        self.config = config
        self._grids: dict[int, _Grid] = {}
        self._warned = False

    def _grid(self, size: int) -> _Grid:
        grid = self._grids.get(size)
        if grid is None:
            grid = self._grids[size] = _Grid.of(size)
        return grid

    def render(self, code: RigCode, size: int | None = None) -> Image:
        """The head as an (S, S, 4) straight-alpha RGBA image on a transparent background."""
        size = self.config.size if size is None else size
        if not isinstance(size, (int, np.integer)) or not 16 <= size <= 4096:
            raise ConfigError(f"render size must be an integer within 16..4096 pixels, got {size!r}")
        grid = self._grid(int(size))
        code, report = sanitize(code.values)
        if report and not self._warned:
            # Once per renderer: a stream of bad codes must not flood the log.
            log.warning("rig code adjusted before drawing: %s", report)
            self._warned = True
        pose = head.Pose.of(code["head_yaw"], code["head_pitch"])
        light = self._light_colour(code)
        canvas, depth = self._shell(grid, pose, light)  # (S, S, 4) premultiplied, (S, S) view depth
        self._screen(canvas, grid, pose, layout(code), light, (code["head_yaw"], code["head_pitch"]))
        self._parts(canvas, grid, pose, depth, light)
        return Image(_to_straight_u8(canvas), PixelFormat.RGBA)

    def _light_colour(self, code: RigCode) -> np.ndarray:
        w = code.weights
        colours = [self.config.colour(f"{e.value}_light") for e in Expression]
        mix = sum((F32(w[e]) * c for e, c in zip(Expression, colours, strict=True)), np.zeros(3, np.float32))
        # Mixing opposite hues greys them out; keep the blend as bright as its parts.
        peak = sum(F32(w[e]) * float(c.max()) for e, c in zip(Expression, colours, strict=True))
        return mix * F32(peak / max(float(mix.max()), 1e-6))

    def _shell(self, grid: _Grid, pose: head.Pose, light: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        S = grid.size
        hull = head.outline(pose)
        rows, cols = grid.window(
            min(p[0] for p in hull) - head.ROUND, min(p[1] for p in hull) - head.ROUND,
            max(p[0] for p in hull) + head.ROUND, max(p[1] for p in hull) + head.ROUND,
        )
        cov = sdf.coverage(head.silhouette(grid.xs[None, cols], grid.ys[rows, None], hull), grid.px)
        margin = 2.5 * 2.0 / grid.lo_xs.size
        n_lo, z_lo = head.trace(grid.lo_xs, grid.lo_ys, pose, margin)
        n = head.upsample(n_lo, (S, S))[:, rows, cols]
        n /= np.maximum(np.sqrt((n * n).sum(0)), F32(1e-6))
        depth = head.upsample(z_lo, (S, S))
        rgb = head.shade(n, self.config.colour("shell"), light, self.config.gloss)
        canvas = np.zeros((S, S, 4), np.float32)
        canvas[rows, cols, :3] = rgb * cov[..., None]
        canvas[rows, cols, 3] = cov
        return canvas, depth

    def _screen(self, canvas: np.ndarray, grid: _Grid, pose: head.Pose, face: FaceLayout,
                light: np.ndarray, turn: tuple[float, float]) -> None:
        """Bezel, glass and the lit face, drawn onto the front of the shell."""
        A, c = pose.front_plane()
        hx, hy = head.SCREEN_HALF
        b = head.BEZEL
        plane = FacePlane.around(A, c, grid.xs, grid.ys, (-hx - b, -hy - b, hx + b, hy + b))
        u, v = plane.coords()
        if u.size == 0:
            return
        px = plane.px
        d_screen = sdf.round_rect(u, v, hx, hy, head.SCREEN_ROUND)
        bezel = sdf.coverage(d_screen - F32(b), px)[..., None]
        glass = sdf.coverage(d_screen, px)[..., None]
        layers = FaceLayers.empty(u.shape)
        draw_face(layers, plane, face)
        rgb = self._light_up(_glass(self.config, u, v, d_screen, light, turn), layers, light, px)
        bez_rgb = self.config.colour("bezel") * F32(0.9) + F32(0.1) * light
        # Bezel and glass sit on the shell: blend their colour in wherever the shell is (premultiplied).
        region = canvas[plane.rows, plane.cols]
        a = region[..., 3:4]
        base = region[..., :3]
        base = base + (bez_rgb * a - base) * bezel
        region[..., :3] = base + (rgb * a - base) * glass

    def _light_up(self, glass: np.ndarray, layers: FaceLayers, light: np.ndarray, px: float) -> np.ndarray:
        cfg = self.config
        lit = layers.light[..., None]
        hot = layers.hot[..., None]
        emit = lit * (light * F32(0.88) + F32(0.12)) + hot * (F32(1.0) - light) * F32(0.9)
        emit = emit * (F32(1) - layers.tear[..., None]) + layers.tear[..., None] * cfg.colour("tear")
        blush = layers.blush[..., None] * cfg.colour("blush")
        cover = np.maximum(np.maximum(lit, layers.tear[..., None]), F32(0))
        out = glass * (F32(1) - cover) + emit + blush * F32(0.75) * (F32(1) - cover)
        if cfg.glow > 0:
            out += _bloom(emit + blush * F32(0.5), cfg.glow_radius / px) * F32(cfg.glow) * (F32(1) - cover)
        return np.clip(out, F32(0), F32(1))

    def _parts(self, canvas: np.ndarray, grid: _Grid, pose: head.Pose, depth: np.ndarray,
               light: np.ndarray) -> None:
        cfg = self.config
        for p in head.parts(pose, cfg.colour("accent"), cfg.colour("metal"), light):
            rows, cols = grid.window(min(p.a[0], p.b[0]) - p.radius, min(p.a[1], p.b[1]) - p.radius,
                                     max(p.a[0], p.b[0]) + p.radius, max(p.a[1], p.b[1]) + p.radius)
            if rows.start >= rows.stop or cols.start >= cols.stop:
                continue
            where = (rows, cols)
            dist, z, n = head.part_surface(grid.xs[None, cols], grid.ys[rows, None], p)
            cov = sdf.coverage(dist, grid.px)
            colour = np.asarray(p.colour, np.float32)
            if p.emissive:
                core = np.clip(n[2], F32(0), F32(1))[..., None]
                rgb = colour * (F32(0.75) + F32(0.25) * core) + (F32(1) - colour) * core**4 * F32(0.8)
            else:
                rgb = head.shade(n, colour, light, p.gloss)
            over = np.clip((z - depth[where]) * F32(1.0 / grid.px) + F32(0.5), F32(0), F32(1))[..., None]
            region = canvas[where]
            part = np.concatenate([rgb * cov[..., None], cov[..., None]], axis=-1)
            in_front = part + region * (F32(1) - cov[..., None])
            behind = region + part * (F32(1) - region[..., 3:4])
            region[...] = behind + (in_front - behind) * over


def _glass(cfg: RendererConfig, u: np.ndarray, v: np.ndarray, d: np.ndarray, light: np.ndarray,
           turn: tuple[float, float]) -> np.ndarray:
    """Dark glass: a faint wash of the face light, darker edges, and a reflection that slides as it turns."""
    base = cfg.colour("glass")
    depth = np.exp(np.maximum(-d, F32(0)) * F32(-1.0 / 0.035))  # 1 at the edge, 0 inside
    wash = F32(0.10) * np.exp(-(u * u * F32(3.0) + v * v * F32(6.0)))
    band_pos = (u + F32(0.7) * v) - F32(0.18 - 0.004 * turn[0] + 0.003 * turn[1])
    band = np.exp(-(band_pos * F32(1.0 / 0.09)) ** 2) * F32(0.07)
    band *= np.clip(F32(0.5) + v * F32(2.5), F32(0), F32(1))
    rgb = base[None, None, :] * (F32(1) - F32(0.5) * depth[..., None]) + wash[..., None] * light
    return rgb + band[..., None]


def _bloom(emit: np.ndarray, radius_px: float) -> np.ndarray:
    """Two-scale glow: blur a reduced copy (cheap at any size) and bring it back up."""
    h, w = emit.shape[:2]
    f = max(1, int(radius_px / 2.5))
    small = emit
    if f > 1:
        small = cv2.resize(emit, (max(w // f, 1), max(h // f, 1)), interpolation=cv2.INTER_AREA)
    s = radius_px / f
    near = cv2.GaussianBlur(small, (0, 0), sigmaX=max(s, 0.5), borderType=cv2.BORDER_CONSTANT)
    far = cv2.GaussianBlur(small, (0, 0), sigmaX=max(3.0 * s, 0.5), borderType=cv2.BORDER_CONSTANT)
    mix = near * F32(0.55) + far * F32(0.45)
    if f > 1:
        mix = cv2.resize(mix, (w, h), interpolation=cv2.INTER_LINEAR)
    return mix.reshape(emit.shape)


def _to_straight_u8(canvas: np.ndarray) -> np.ndarray:
    """Premultiplied float RGBA to straight-alpha uint8 (colour 0 where nothing is drawn)."""
    a = canvas[..., 3:4]
    rgb = canvas[..., :3]
    np.divide(rgb, np.maximum(a, F32(1e-6)), out=rgb)
    np.clip(canvas, F32(0), F32(1), out=canvas)
    canvas *= F32(255.0)
    canvas += F32(0.5)
    return canvas.astype(np.uint8)
