"""Draws the face layout as light on the screen: per-feature intensity fields in face-plane coordinates."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from avatar.character import sdf
from avatar.character.face import BrowParams, EyeParams, FaceLayout, MouthParams

F32 = np.float32

Box = tuple[float, float, float, float]  # (u0, v0, u1, v1) in face-plane units


@dataclass(frozen=True)
class FacePlane:
    """Canvas pixels of one window mapped to coordinates (u, v) on the head's front face.

    The front face is a plane, so under the orthographic camera the map is affine: view = A @ (u, v) + c.
    """

    A: np.ndarray  # (2, 2) face plane -> view
    c: np.ndarray  # (2,) view position of the plane's origin
    xs: np.ndarray  # (S,) canvas x of each column
    ys: np.ndarray  # (S,) canvas y of each row
    rows: slice  # the window, in canvas pixels
    cols: slice

    @classmethod
    def around(cls, a: np.ndarray, c: np.ndarray, xs: np.ndarray, ys: np.ndarray, box: Box) -> FacePlane:
        S = xs.size
        whole = cls(a, c, xs, ys, slice(0, S), slice(0, S))
        rows, cols = whole._pixels(box)
        return cls(a, c, xs, ys, rows, cols)

    @property
    def px(self) -> float:
        """One canvas pixel in face-plane units (geometric mean over the foreshortened directions)."""
        return 2.0 / self.xs.size / math.sqrt(abs(float(np.linalg.det(self.A))))

    def _pixels(self, box: Box) -> tuple[slice, slice]:
        u0, v0, u1, v1 = box
        corners = self.A @ np.array([[u0, u1, u0, u1], [v0, v0, v1, v1]]) + self.c[:, None]
        S = self.xs.size
        cols = (corners[0] + 1.0) * S / 2.0 - 0.5
        rows = (1.0 - corners[1]) * S / 2.0 - 0.5
        r0 = min(max(math.floor(rows.min()) - 1, self.rows.start), self.rows.stop)
        r1 = max(min(math.ceil(rows.max()) + 2, self.rows.stop), r0)
        c0 = min(max(math.floor(cols.min()) - 1, self.cols.start), self.cols.stop)
        c1 = max(min(math.ceil(cols.max()) + 2, self.cols.stop), c0)
        return slice(r0, r1), slice(c0, c1)

    def coords(self, rows: slice | None = None, cols: slice | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(u, v) of every pixel in the given canvas window (default: this plane's whole window)."""
        rows, cols = rows or self.rows, cols or self.cols
        Ai = np.linalg.inv(self.A).astype(np.float32)
        dx = self.xs[None, cols] - F32(self.c[0])
        dy = self.ys[rows, None] - F32(self.c[1])
        return Ai[0, 0] * dx + Ai[0, 1] * dy, Ai[1, 0] * dx + Ai[1, 1] * dy

    def __call__(self, box: Box) -> tuple[tuple[slice, slice], np.ndarray, np.ndarray]:
        """Slices of this window's layers that cover a plane box, and (u, v) there."""
        rows, cols = self._pixels(box)
        u, v = self.coords(rows, cols)
        r, c = self.rows.start, self.cols.start
        return (slice(rows.start - r, rows.stop - r), slice(cols.start - c, cols.stop - c)), u, v



@dataclass
class FaceLayers:
    """Light drawn on the screen, one window in size: how much of each colour, and how white-hot it is."""

    light: np.ndarray  # (h, w) 0..1 eyes, brows and mouth
    hot: np.ndarray  # (h, w) 0..1 extra whiteness (sparkles)
    blush: np.ndarray  # (h, w) 0..1 cheek glow
    tear: np.ndarray  # (h, w) 0..1

    @classmethod
    def empty(cls, shape: tuple[int, ...]) -> FaceLayers:
        return cls(*(np.zeros(shape, np.float32) for _ in range(4)))


def _put(layer: np.ndarray, where: tuple[slice, slice], value: np.ndarray) -> None:
    np.maximum(layer[where], value, out=layer[where])


def _aa(d: np.ndarray, px: float) -> np.ndarray:
    """Coverage of an implicit shape whose field is stretched: normalise by its numeric gradient."""
    if min(d.shape) < 3:
        return sdf.coverage(d, px)
    gy, gx = np.gradient(d)
    g = np.maximum(np.hypot(gx, gy), F32(1e-6 * px))
    return np.clip(F32(0.5) - d / g, F32(0), F32(1))


def _eye_field(qu: np.ndarray, qv: np.ndarray, e: EyeParams) -> np.ndarray:
    """The open eye: a pill with lids, morphing into a "∩" arch as lid_bottom grows."""
    w, h = e.w, e.h_open
    pill = sdf.round_rect(qu, qv, w, h, e.round * min(w, h))
    # Arch: a stroke along the top of a circle, ends about 25° above horizontal, round caps.
    ra, rb = w * 0.92, w * 0.3
    ay = qv - F32(h - ra - rb)
    s, c = math.sin(math.radians(68)), math.cos(math.radians(68))
    ax = np.abs(qu)
    arch = np.where(F32(c) * ax > F32(s) * ay, np.hypot(ax - F32(s * ra), ay - F32(c * ra)),
                    np.abs(np.hypot(ax, ay) - F32(ra))) - F32(rb)
    d = pill + (arch - pill) * F32(e.lid_bottom)
    if e.lid_top > 0.0 or abs(e.lid_tilt) > 1e-4:
        t = math.tan(e.lid_tilt)
        y0 = h - 2.0 * h * e.lid_top
        lid = (qv - F32(y0) + F32(t) * qu) * F32(1.0 / math.sqrt(1.0 + t * t))
        d = sdf.smooth_max(d, lid, 0.012)
    return d


def draw_eye(layers: FaceLayers, plane: FacePlane, e: EyeParams, px: float) -> None:
    h_open = e.h_open
    box = (e.cx - e.w - 0.03, e.cy - h_open - 0.05, e.cx + e.w + 0.03, e.cy + h_open + 0.05)
    where, u, v = plane(box)
    if u.size == 0:
        return
    squash = max(e.h / h_open, 1e-3)
    # Blinks squash the eye towards the line it closes on, which sits higher for the arch.
    y_close = -0.3 * h_open + (h_open - 0.92 * e.w * 0.45 - 0.3 * e.w) * e.lid_bottom
    qu = (u - F32(e.cx)) * F32(e.side)
    qv_rel = v - F32(e.cy)
    qv = (qv_rel - F32(y_close)) * F32(1.0 / squash) + F32(y_close)
    d = _eye_field(qu, qv, e)
    # Closed, the eye is a thin lid line: an arch "∩" for happy, a slight "‿" otherwise.
    half = e.w * 0.85
    bend = -0.12 * e.w + 0.55 * e.w * e.lid_bottom
    along = np.clip(qu * F32(1.0 / half), F32(-1), F32(1))
    rv = qv_rel - F32(y_close) - F32(bend) * (F32(1) - along * along)
    line = np.hypot(np.maximum(np.abs(qu) - F32(half), F32(0)), rv) - F32(0.012)
    cov = np.maximum(_aa(d, px), sdf.coverage(line, px) * F32(min(1.0, 2.5 * (1.0 - squash))))
    if e.pupil > 0.01:
        # A dark pupil and a sparkle ride on the gaze, clipped to the eye: the clearest cue of the gaze.
        pr = e.pupil_size * e.w
        pu = e.cx + e.look_x * 0.4 * e.w
        pv = e.cy + e.look_y * 0.36 * e.h - 0.05 * e.h
        pupil = sdf.coverage(sdf.circle(u, v, pu, pv, pr * min(1.0, 1.2 * e.h / e.w)), px) * F32(e.pupil)
        cov_lit = cov * (F32(1) - F32(0.72) * pupil)
        sx, sy = pu - 0.3 * pr, pv + 0.32 * pr * min(1.0, e.h / e.w)
        spark = sdf.coverage(sdf.circle(u, v, sx, sy, 0.3 * pr * min(1.0, e.h / e.w)), px)
        spark2 = sdf.coverage(sdf.circle(u, v, pu + 0.38 * pr, pv - 0.36 * pr, 0.14 * pr), px)
        hot = np.maximum(spark, spark2 * F32(0.8)) * cov * F32(e.pupil)
        _put(layers.light, where, np.maximum(cov_lit, hot))
        _put(layers.hot, where, hot)
    else:
        _put(layers.light, where, cov)


def draw_brow(layers: FaceLayers, plane: FacePlane, b: BrowParams, px: float) -> None:
    r = b.half_len + b.thick + 0.03
    where, u, v = plane((b.cx - r, b.cy - r, b.cx + r, b.cy + r))
    if u.size == 0:
        return
    qu = (u - F32(b.cx)) * F32(b.side)
    qv = v - F32(b.cy)
    # Rotate so the inner end (−qu) rises for positive tilt.
    c, s = math.cos(b.tilt), math.sin(b.tilt)
    ru = qu * F32(c) - qv * F32(s)
    rv = qu * F32(s) + qv * F32(c)
    rv = rv - F32(b.arch) * (F32(1) - (ru * F32(1.0 / b.half_len)) ** 2)
    # Thicker at the inner end, tapering outwards: a brush stroke rather than a bar.
    taper = F32(b.thick * 0.5) * (F32(1.0) - F32(0.35) * np.clip(ru * F32(1.0 / b.half_len), F32(-1), F32(1)))
    d = np.hypot(np.maximum(np.abs(ru) - F32(b.half_len), F32(0)), rv) - taper
    _put(layers.light, where, sdf.coverage(d, px) * F32(b.light))


def _mouth_centre(u: np.ndarray, m: MouthParams) -> tuple[np.ndarray, np.ndarray]:
    """Height of the mouth's centre line per column, and its slope."""
    t = np.clip(u * F32(1.0 / m.w), F32(-1.2), F32(1.2))
    k = F32(0.5 * m.w * m.curve)
    yc = F32(m.cy) + k * (t * t - F32(0.35))
    slope = F32(2.0) * k * t * F32(1.0 / m.w)
    if m.jag > 1e-4:
        # Triangle wave: gritted teeth, fading out at the corners.
        ph = (t + F32(1.0)) * F32(1.5)
        frac = ph - np.floor(ph) - F32(0.5)
        env = np.clip(F32(1.0) - t**4, F32(0), F32(1))
        yc = yc + F32(2.0 * m.jag) * (F32(2.0) * np.abs(frac) - F32(0.5)) * env
        slope = slope + F32(2.0 * m.jag * 2.0 * 1.5 / m.w) * np.sign(frac) * env
    return yc, slope


def draw_mouth(layers: FaceLayers, plane: FacePlane, m: MouthParams, px: float) -> None:
    reach = 0.5 * m.w * abs(m.curve) + m.open * 1.3 + 2.5 * m.jag + m.thick + 0.03
    where, u, v = plane((-m.w - 0.04, m.cy - reach, m.w + 0.04, m.cy + reach))
    if u.size == 0:
        return
    yc, slope = _mouth_centre(u, m)
    # The opening is an ellipse in coordinates that follow the centre line: it hangs mostly below the
    # line for a smile ("D"), and is centred on it when rounded into an "O".
    up = 0.2 + 0.8 * m.roundness
    b = max(m.open * (1.0 + up) * 0.5 * (1.0 - 0.3 * m.roundness), 0.002)
    vy = (v - yc - F32(m.open * (up - 1.0) * 0.5)) / np.sqrt(F32(1.0) + slope * slope)
    ex, ey = u * F32(1.0 / m.w), vy * F32(1.0 / b)
    k0 = np.sqrt(ex * ex + ey * ey)
    k1 = np.sqrt((ex * F32(1.0 / m.w)) ** 2 + (ey * F32(1.0 / b)) ** 2)
    region = k0 * (k0 - F32(1.0)) / np.maximum(k1, F32(1e-6))
    # Beyond the corners the nearest point is the corner itself: round caps in true (unsheared) distance.
    corner_y = F32(m.cy + 0.5 * m.w * m.curve * 0.65 + m.open * (up - 1.0) * 0.5)
    region = np.where(np.abs(u) > F32(m.w), np.hypot(np.abs(u) - F32(m.w), v - corner_y), region)
    stroke = np.abs(region) - F32(m.thick * 0.5)
    cov = np.maximum(sdf.coverage(stroke, px), sdf.coverage(region, px) * F32(m.fill))
    _put(layers.light, where, cov)


def draw_blush(layers: FaceLayers, plane: FacePlane, eyes: tuple[EyeParams, ...], amount: float) -> None:
    for e in eyes:
        cx, cy = e.cx + e.side * 0.045, e.cy - 0.135
        where, u, v = plane((cx - 0.12, cy - 0.08, cx + 0.12, cy + 0.08))
        if u.size == 0:
            continue
        r2 = ((u - F32(cx)) * F32(1 / 0.065)) ** 2 + ((v - F32(cy)) * F32(1 / 0.034)) ** 2
        _put(layers.blush, where, np.exp(-r2 * r2 * F32(0.6)) * F32(amount))


def draw_tear(layers: FaceLayers, plane: FacePlane, e: EyeParams, amount: float, px: float) -> None:
    size = 0.018 + 0.012 * amount
    cx, cy = e.cx + e.side * 0.35 * e.w, e.cy - e.h - 0.07 - 0.03 * amount
    where, u, v = plane((cx - 0.05, cy - 0.05, cx + 0.05, cy + 0.09))
    if u.size == 0:
        return
    d = sdf.tapered_capsule(u - F32(cx), v - F32(cy), size, size * 0.08, size * 2.2)
    _put(layers.tear, where, sdf.coverage(d, px) * F32(min(1.0, amount * 1.5)))


def draw_face(layers: FaceLayers, plane: FacePlane, face: FaceLayout) -> None:
    """Fill the layers (sized to the plane's window) with everything the layout lights up."""
    px = plane.px
    for e in face.eyes:
        draw_eye(layers, plane, e, px)
    for b in face.brows:
        draw_brow(layers, plane, b, px)
    draw_mouth(layers, plane, face.mouth, px)
    if face.blush > 0.01:
        draw_blush(layers, plane, face.eyes, face.blush)
    if face.tear > 0.01:
        draw_tear(layers, plane, face.eyes[0], face.tear, px)
