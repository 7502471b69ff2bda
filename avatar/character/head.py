"""EmoteBot's head as 3D solids (rounded box, ear pods, antenna) seen by an orthographic camera."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from avatar.character import sdf

F32 = np.float32

# Proportions in canvas units (the canvas spans −1..1 both ways, y up). Chosen so that the head with ears and
# antenna fills about 82% of the canvas width and stays inside it at ±45° of yaw and pitch.
HALF = (0.62, 0.5, 0.42)  # half width, height and depth of the head box
ROUND = 0.17  # corner radius of the head box: soft but still reads as a screen-faced box
CENTRE_Y = -0.1  # head centre below the canvas centre so that the antenna fits above it
SCREEN_HALF = (0.405, 0.305)  # the glass on the front face, inside its flat part
SCREEN_ROUND = 0.11
BEZEL = 0.03  # dark frame around the glass
EAR_SPAN = (0.56, 0.68)  # ear pod axis from/to, along x from the head centre
EAR_RADIUS = 0.12
EAR_Y = -0.02
BOLT_RADIUS = 0.045
STALK = (0.48, 0.63)  # antenna stalk from/to, along y
STALK_RADIUS = 0.02
BALL_Y = 0.67
BALL_RADIUS = 0.066

LIGHT_DIR = np.array([-0.42, 0.62, 0.66], dtype=np.float64) / np.linalg.norm([-0.42, 0.62, 0.66])
HALF_VEC = (LIGHT_DIR + np.array([0.0, 0.0, 1.0])) / np.linalg.norm(LIGHT_DIR + np.array([0.0, 0.0, 1.0]))


def rotation(yaw_deg: float, pitch_deg: float) -> np.ndarray:
    """Head-to-view rotation: pitch about the head's own x axis, then yaw about the vertical."""
    y, p = math.radians(yaw_deg), math.radians(pitch_deg)
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    rx = np.array([[1, 0, 0], [0, math.cos(p), math.sin(p)], [0, -math.sin(p), math.cos(p)]])
    return ry @ rx


@dataclass(frozen=True)
class Pose:
    """Where the head is: its rotation and centre in view space."""

    R: np.ndarray  # (3, 3) head -> view
    centre: tuple[float, float, float]

    @classmethod
    def of(cls, yaw_deg: float, pitch_deg: float) -> Pose:
        return cls(rotation(yaw_deg, pitch_deg), (0.0, CENTRE_Y, 0.0))

    def to_view(self, p: tuple[float, float, float]) -> np.ndarray:
        return self.R @ np.asarray(p, dtype=np.float64) + np.asarray(self.centre)

    def front_plane(self) -> tuple[np.ndarray, np.ndarray]:
        """Affine map of the front face: view (x, y) = A @ (u, v) + c for face-plane point (u, v)."""
        A = self.R[:2, :2].copy()
        c = self.to_view((0.0, 0.0, HALF[2]))[:2]
        return A, c


def outline(pose: Pose) -> list[tuple[float, float]]:
    """The projected inner box as a convex polygon; the head's outline is this rounded by ROUND."""
    inner = [h - ROUND for h in HALF]
    corners = [pose.to_view((sx * inner[0], sy * inner[1], sz * inner[2]))[:2]
               for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)]
    return sdf.convex_hull([(float(c[0]), float(c[1])) for c in corners])


def silhouette(x: np.ndarray, y: np.ndarray, hull: list[tuple[float, float]]) -> np.ndarray:
    """Exact signed distance to the head's outline."""
    return sdf.convex_polygon(x, y, hull) - F32(ROUND)


def _round_box(px: np.ndarray, py: np.ndarray, pz: np.ndarray, b: tuple[float, ...], r: float):
    qx, qy, qz = np.abs(px) - F32(b[0]), np.abs(py) - F32(b[1]), np.abs(pz) - F32(b[2])
    mx, my, mz = np.maximum(qx, F32(0)), np.maximum(qy, F32(0)), np.maximum(qz, F32(0))
    outside = np.sqrt(mx * mx + my * my + mz * mz)
    inside = np.minimum(np.maximum(qx, np.maximum(qy, qz)), F32(0))
    return outside + inside - F32(r), (mx, my, mz)


_START = 4.0  # view depth the rays start from: in front of anything the head can reach


def _rays(xs: np.ndarray, ys: np.ndarray, pose: Pose) -> tuple[list[np.ndarray], np.ndarray]:
    """Orthographic rays through the pixel centres, looking down −z, expressed in head space."""
    X, Y = np.meshgrid(xs, ys)
    Rt = pose.R.T.astype(np.float32)
    cx, cy, cz = pose.centre
    rel = (X - F32(cx), Y - F32(cy), F32(_START - cz))
    origin = [Rt[i, 0] * rel[0] + Rt[i, 1] * rel[1] + Rt[i, 2] * rel[2] for i in range(3)]
    return origin, -Rt[:, 2]


def _box_entry(o: list[np.ndarray], d: np.ndarray, grow: float) -> tuple[np.ndarray, np.ndarray]:
    """Where each ray enters the head's bounding box grown by `grow` (slab method), and whether it does."""
    t_in = np.zeros_like(o[0])
    t_out = np.full_like(o[0], F32(1e9))
    for i in range(3):
        if abs(d[i]) < 1e-9:
            continue
        h = F32(HALF[i] + grow)
        t1, t2 = (-h - o[i]) / F32(d[i]), (h - o[i]) / F32(d[i])
        t_in = np.maximum(t_in, np.minimum(t1, t2))
        t_out = np.minimum(t_out, np.maximum(t1, t2))
    hit = t_in <= t_out
    return np.where(hit, t_in, F32(0)), hit


def _march(o: list[np.ndarray], d: np.ndarray, t: np.ndarray, hit: np.ndarray, radius: float, steps: int):
    """Sphere-trace the rounded box from t; returns the last t and the distance left there."""
    inner = tuple(h - ROUND for h in HALF)
    dist = np.zeros_like(t)
    for _ in range(steps):
        dist, _m = _round_box(o[0] + t * d[0], o[1] + t * d[1], o[2] + t * d[2], inner, radius)
        t = t + np.where(hit, dist, F32(0))
    return t, dist


def trace(xs: np.ndarray, ys: np.ndarray, pose: Pose, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """Ray-cast the head box on a coarse grid: view-space normals (3, h, w) and depth (h, w).

    Normals come from the box grown by `margin`, so every pixel of the true outline has hits nearby to
    interpolate from; depth comes from the true surface, since the parts are depth-tested against it.
    """
    o, d = _rays(xs, ys, pose)
    t, hit = _box_entry(o, d, margin)
    t, _ = _march(o, d, t, hit, ROUND + margin, 10)
    p = [o[i] + t * F32(d[i]) for i in range(3)]
    _, m = _round_box(p[0], p[1], p[2], tuple(h - ROUND for h in HALF), ROUND + margin)
    n = np.stack([np.copysign(m[i], p[i]) for i in range(3)])
    n /= np.maximum(np.sqrt((n * n).sum(0)), F32(1e-6))
    nv = np.einsum("ij,jhw->ihw", pose.R.astype(np.float32), n)
    # Missed rays: face straight out of the outline so interpolation near the edge stays sensible.
    nv[2] = np.where(hit, nv[2], F32(0))
    t_true, left = _march(o, d, t, hit, ROUND, 4)
    t = np.where(np.abs(left) < F32(0.25 * margin), t_true, t)
    depth = np.where(hit, F32(_START + pose.centre[2]) - t, F32(-5.0))
    return nv, depth


def upsample(a: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of a coarse (h, w) or (c, h, w) field to the canvas (H, W) or (c, H, W)."""
    if a.ndim == 2:
        return cv2.resize(a, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
    out = cv2.resize(np.ascontiguousarray(a.transpose(1, 2, 0)), (shape[1], shape[0]),
                     interpolation=cv2.INTER_LINEAR)
    return out.transpose(2, 0, 1)


def shade(n: np.ndarray, base: np.ndarray, rim: np.ndarray, gloss: float) -> np.ndarray:
    """Plastic under a key light from the upper left, sky fill, a glossy highlight and a tinted rim.

    n: (3, ...) view normals; base, rim: (3,) colours 0..1. Returns (..., 3).
    """
    nx, ny, nz = n[0], n[1], n[2]
    diff = np.maximum(nx * F32(LIGHT_DIR[0]) + ny * F32(LIGHT_DIR[1]) + nz * F32(LIGHT_DIR[2]), F32(0))
    sky = F32(0.5) + F32(0.5) * ny
    spec = np.maximum(nx * F32(HALF_VEC[0]) + ny * F32(HALF_VEC[1]) + nz * F32(HALF_VEC[2]), F32(0))
    spec = (spec * spec) ** 16 * F32(gloss)
    fres = (F32(1) - np.clip(nz, F32(0), F32(1))) ** 3
    lit = F32(0.4) + F32(0.5) * diff + F32(0.14) * sky
    out = lit[..., None] * base.astype(np.float32) + (spec + F32(0.06) * fres)[..., None]
    out += (fres * F32(0.28))[..., None] * rim.astype(np.float32)
    return out


@dataclass(frozen=True)
class Part:
    """A capsule (or sphere when a == b) stuck to the head, in view space."""

    a: tuple[float, float, float]
    b: tuple[float, float, float]
    radius: float
    colour: tuple[float, float, float]  # 0..1
    gloss: float
    emissive: bool = False


def parts(pose: Pose, accent: np.ndarray, metal: np.ndarray, light: np.ndarray) -> list[Part]:
    """Ear pods with bolts and the antenna, in view space, sorted back to front."""
    def v(p: tuple[float, float, float]) -> tuple[float, float, float]:
        q = pose.to_view(p)
        return float(q[0]), float(q[1]), float(q[2])

    out: list[Part] = []
    for side in (-1.0, 1.0):
        out.append(Part(v((side * EAR_SPAN[0], EAR_Y, 0)), v((side * EAR_SPAN[1], EAR_Y, 0)), EAR_RADIUS,
                        tuple(accent), 0.6))
        tip = side * (EAR_SPAN[1] + EAR_RADIUS - 0.012)
        out.append(Part(v((tip, EAR_Y, 0)), v((tip, EAR_Y, 0)), BOLT_RADIUS, tuple(metal), 0.9))
    out.append(Part(v((0, STALK[0], 0)), v((0, STALK[1], 0)), STALK_RADIUS, tuple(metal), 0.9))
    out.append(Part(v((0, BALL_Y, 0)), v((0, BALL_Y, 0)), BALL_RADIUS, tuple(light), 1.0, emissive=True))
    return sorted(out, key=lambda p: p.a[2] + p.b[2])


def part_surface(x: np.ndarray, y: np.ndarray, p: Part) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Outline distance, depth and view normal (3, ...) of a part seen from the front."""
    t = sdf.segment_t(x, y, p.a[:2], p.b[:2])
    cx = F32(p.a[0]) + t * F32(p.b[0] - p.a[0])
    cy = F32(p.a[1]) + t * F32(p.b[1] - p.a[1])
    cz = F32(p.a[2]) + t * F32(p.b[2] - p.a[2])
    dx, dy = x - cx, y - cy
    r2 = dx * dx + dy * dy
    dist = np.sqrt(r2) - F32(p.radius)
    dz = np.sqrt(np.maximum(F32(p.radius**2) - r2, F32(0)))
    n = np.stack([dx, dy, dz]) * F32(1.0 / p.radius)
    return dist, cz + dz, n
