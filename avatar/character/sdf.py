"""Signed-distance primitives on numpy pixel grids: negative inside, positive outside, in drawing units."""

from __future__ import annotations

import numpy as np

F32 = np.float32


def coverage(d: np.ndarray, px: float) -> np.ndarray:
    """Anti-aliased coverage of a shape: a one-pixel ramp across its boundary (px = pixel size in units)."""
    return np.clip(F32(0.5) - d * F32(1.0 / px), F32(0.0), F32(1.0))


def round_rect(x: np.ndarray, y: np.ndarray, hx: float, hy: float, r: float) -> np.ndarray:
    """Rectangle of half sizes (hx, hy) centred at 0 with corner radius r (clamped to fit)."""
    r = float(min(max(r, 0.0), hx, hy))
    qx = np.abs(x) - F32(hx - r)
    qy = np.abs(y) - F32(hy - r)
    outside = np.hypot(np.maximum(qx, F32(0)), np.maximum(qy, F32(0)))
    inside = np.minimum(np.maximum(qx, qy), F32(0))
    return outside + inside - F32(r)


def circle(x: np.ndarray, y: np.ndarray, cx: float, cy: float, r: float) -> np.ndarray:
    return np.hypot(x - F32(cx), y - F32(cy)) - F32(r)


def segment_t(x: np.ndarray, y: np.ndarray, a: tuple[float, float], b: tuple[float, float]) -> np.ndarray:
    """Parameter (0..1) of the point of segment a-b closest to each pixel."""
    ex, ey = b[0] - a[0], b[1] - a[1]
    inv = 1.0 / max(ex * ex + ey * ey, 1e-12)
    return np.clip(((x - F32(a[0])) * F32(ex) + (y - F32(a[1])) * F32(ey)) * F32(inv), F32(0), F32(1))


def capsule(
    x: np.ndarray, y: np.ndarray, a: tuple[float, float], b: tuple[float, float], r: float
) -> np.ndarray:
    """Segment a-b thickened by radius r (the exact outline of a projected 3D capsule)."""
    t = segment_t(x, y, a, b)
    return np.hypot(x - F32(a[0]) - t * F32(b[0] - a[0]), y - F32(a[1]) - t * F32(b[1] - a[1])) - F32(r)


def tapered_capsule(x: np.ndarray, y: np.ndarray, r1: float, r2: float, h: float) -> np.ndarray:
    """A round end of radius r1 at 0 joined to one of radius r2 at (0, h): a tear drop when r2 is tiny."""
    ax = np.abs(x)
    b = (r1 - r2) / h
    a = float(np.sqrt(max(1.0 - b * b, 0.0)))
    k = ax * F32(-b) + y * F32(a)  # position along the cone's side direction
    d_low = np.hypot(ax, y) - F32(r1)
    d_high = np.hypot(ax, y - F32(h)) - F32(r2)
    d_side = ax * F32(a) + y * F32(b) - F32(r1)
    return np.where(k < 0, d_low, np.where(k > F32(a * h), d_high, d_side))


def convex_polygon(x: np.ndarray, y: np.ndarray, pts: list[tuple[float, float]]) -> np.ndarray:
    """Exact signed distance to a convex polygon given counter-clockwise (y up) vertices."""
    best: np.ndarray | None = None
    inside: np.ndarray | None = None
    n = len(pts)
    if n < 3:
        raise ValueError(f"a polygon needs at least 3 vertices, got {n}")
    for i in range(n):
        a, b = pts[i], pts[(i + 1) % n]
        t = segment_t(x, y, a, b)
        d2 = (x - F32(a[0]) - t * F32(b[0] - a[0])) ** 2 + (y - F32(a[1]) - t * F32(b[1] - a[1])) ** 2
        best = d2 if best is None else np.minimum(best, d2)
        # Left of every counter-clockwise edge means inside.
        left = (F32(b[0] - a[0]) * (y - F32(a[1])) - F32(b[1] - a[1]) * (x - F32(a[0]))) >= 0
        inside = left if inside is None else inside & left
    assert best is not None and inside is not None  # n >= 3: the loop ran
    d = np.sqrt(best)
    return np.where(inside, -d, d)


def convex_hull(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Counter-clockwise convex hull (monotone chain); collinear and duplicate points dropped."""
    pts = sorted(set((round(p[0], 9), round(p[1], 9)) for p in points))
    if len(pts) < 3:
        return pts

    def cross(o: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list[tuple[float, float]] = []
    upper: list[tuple[float, float]] = []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 1e-12:
            lower.pop()
        lower.append(p)
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 1e-12:
            upper.pop()
        upper.append(p)
    return lower[:-1] + upper[:-1]


def smooth_max(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Intersection with its crease rounded over a width k (polynomial smooth maximum)."""
    if k <= 0:
        return np.maximum(a, b)
    h = np.clip(F32(0.5) - F32(0.5 / k) * (b - a), F32(0), F32(1))
    return b + (a - b) * h + F32(k) * h * (F32(1) - h)


def glow(d: np.ndarray, radius: float) -> np.ndarray:
    """Soft light falloff outside a shape (1 on and inside it)."""
    return np.exp(-np.maximum(d, F32(0)) * F32(1.0 / radius))
