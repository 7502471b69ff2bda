"""Analytic layout raster: the rig code drawn as flat, anti-aliased masks with plain tensor ops, no weights.

The generator's conditioning. A decoder that must discover from 21 numbers where the eyes are learns geometry
slowly (DESIGN: 21.8 dB after 14 CPU minutes); here the geometry is computed, in closed form, with the same
formulas the studio renderer uses (avatar/character/face.py, head.py, facedraw.py), and the learned part only
has to shade. Signed distances are evaluated at half resolution, where they are smooth, upsampled bilinearly
and turned into one-pixel coverage ramps at full resolution, so edges stay crisp. Every op is one that ONNX
opset 17, ONNX Runtime and TensorRT support natively (no Hypot, no grid sampling, no data-dependent shapes).
"""

from __future__ import annotations

import math
from dataclasses import fields

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812  (the name every torch reader knows)

from avatar.character import head
from avatar.character.face import PRESETS, FaceShape
from avatar.expression.rig import EXPRESSIONS, FIELD_INDEX, N_FACE

SHAPE_NAMES = tuple(f.name for f in fields(FaceShape))
_SHAPE = {name: i for i, name in enumerate(SHAPE_NAMES)}
N_DIRS = 32  # directions of the head outline's support function: ≤ 0.1 px error on its rounded corners at 256
_FRONT_Z = 0.15  # view depth beyond which a part is drawn over the shell (ears at rest sit behind its sides)
CLAMP_PX = 4.0  # distances are clamped to ±this many output pixels before upsampling: only the ramp matters
_CLOSED_H, _MAX_OPEN = 0.012, 0.14  # face.py: a blinked eye's half height, the widest mouth opening
# Capsules stuck to the head, head space: ear pods, bolts, antenna stalk, antenna ball (head.parts()).
_TIP = head.EAR_SPAN[1] + head.EAR_RADIUS - 0.012
_PARTS = (
    ((-head.EAR_SPAN[0], head.EAR_Y, 0.0), (-head.EAR_SPAN[1], head.EAR_Y, 0.0), head.EAR_RADIUS),
    ((head.EAR_SPAN[0], head.EAR_Y, 0.0), (head.EAR_SPAN[1], head.EAR_Y, 0.0), head.EAR_RADIUS),
    ((-_TIP, head.EAR_Y, 0.0), (-_TIP, head.EAR_Y, 0.0), head.BOLT_RADIUS),
    ((_TIP, head.EAR_Y, 0.0), (_TIP, head.EAR_Y, 0.0), head.BOLT_RADIUS),
    ((0.0, head.STALK[0], 0.0), (0.0, head.STALK[1], 0.0), head.STALK_RADIUS),
    ((0.0, head.BALL_Y, 0.0), (0.0, head.BALL_Y, 0.0), head.BALL_RADIUS),
)
# Output channels of LayoutRaster.forward, in order (coverages and intensities 0..1 unless noted).
CHANNELS = ("alpha", "front", "bezel", "glass", "lit", "hot", "tear", "blush", "emit_r", "emit_g", "emit_b")
# Quarter-resolution planes for the shading trunk: the first 8 as coverages, the nearest-light strength, the
# nearest pupil's strength, the blush, and the face-plane coordinates u, v.
LOW_CHANNELS = ("alpha", "front", "bezel", "glass", "lit", "pupil", "spark", "tear", "strength", "pupil_strength",
                "blush", "u", "v")
COND_SIZE = 21 + 3 + 4 + 6  # code, light colour, sin/cos of yaw and pitch, depth of each part


def _sqrt(x: torch.Tensor) -> torch.Tensor:
    return torch.sqrt(torch.clamp(x, min=1e-12))


def _hypot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return _sqrt(a * a + b * b)


def round_rect(x: torch.Tensor, y: torch.Tensor, hx, hy, r) -> torch.Tensor:
    """Signed distance to a rectangle of half sizes (hx, hy) with corner radius r (sdf.round_rect)."""
    qx = torch.abs(x) - (hx - r)
    qy = torch.abs(y) - (hy - r)
    outside = _hypot(torch.clamp(qx, min=0.0), torch.clamp(qy, min=0.0))
    return outside + torch.clamp(torch.maximum(qx, qy), max=0.0) - r


def _circle(u: torch.Tensor, v: torch.Tensor, cx, cy, r) -> torch.Tensor:
    return _hypot(u - cx, v - cy) - r


def light_colour(weights: torch.Tensor, lights: torch.Tensor) -> torch.Tensor:
    """The renderer's face light: expression colours mixed by weight, kept as bright as its parts. (B, 3)."""
    mix = weights @ lights  # (B, 3)
    peak = weights @ lights.amax(dim=1, keepdim=True)  # (B, 1)
    return mix * peak / torch.clamp(mix.amax(dim=1, keepdim=True), min=1e-6)


class LayoutRaster(nn.Module):
    """RigCode (B, 21) → flat layout planes at full and quarter resolution, and a conditioning vector."""

    gx: torch.Tensor  # buffers, declared for type checkers
    gy: torch.Tensor
    qx: torch.Tensor
    qy: torch.Tensor
    dirs: torch.Tensor
    presets: torch.Tensor
    lights: torch.Tensor
    sides: torch.Tensor
    part_ends: torch.Tensor
    part_r: torch.Tensor
    grad: torch.Tensor

    def __init__(self, size: int, lights: torch.Tensor) -> None:
        super().__init__()
        self.size = size
        g = size // 2  # distance fields live at half resolution
        c = (torch.arange(g, dtype=torch.float32) + 0.5) * (2.0 / g) - 1.0
        self.register_buffer("gx", c.view(1, 1, 1, g), persistent=False)  # canvas x, y up
        self.register_buffer("gy", (-c).view(1, 1, g, 1), persistent=False)
        q = size // 4  # the head outline is smooth enough for quarter resolution
        cq = (torch.arange(q, dtype=torch.float32) + 0.5) * (2.0 / q) - 1.0
        self.register_buffer("qx", cq.view(1, 1, 1, q), persistent=False)
        self.register_buffer("qy", (-cq).view(1, 1, q, 1) - head.CENTRE_Y, persistent=False)
        ang = torch.arange(N_DIRS, dtype=torch.float32) * (2.0 * math.pi / N_DIRS)
        self.register_buffer("dirs", torch.stack([torch.cos(ang), torch.sin(ang)], 1), persistent=False)  # (N, 2)
        presets = [[float(getattr(PRESETS[e], n)) for n in SHAPE_NAMES] for e in EXPRESSIONS]
        self.register_buffer("presets", torch.tensor(presets), persistent=False)  # (5, n_shape)
        self.register_buffer("lights", lights.float().view(len(EXPRESSIONS), 3), persistent=False)
        self.register_buffer("sides", torch.tensor([-1.0, 1.0]).view(1, 2, 1, 1), persistent=False)
        ends = torch.tensor([[p[0], p[1]] for p in _PARTS], dtype=torch.float32)  # (6, 2, 3)
        self.register_buffer("part_ends", ends, persistent=False)
        self.register_buffer("part_r", torch.tensor([p[2] for p in _PARTS]).view(1, 6, 1, 1), persistent=False)
        self.window = _window(g)
        grad = torch.tensor([[[[0, 0, 0], [-0.5, 0, 0.5], [0, 0, 0]]], [[[0, 0.5, 0], [0, 0, 0], [0, -0.5, 0]]]])
        self.register_buffer("grad", grad.repeat(2, 1, 1, 1).float(), persistent=False)  # (4, 1, 3, 3)

    def _field(self, code: torch.Tensor, name: str) -> torch.Tensor:
        i = FIELD_INDEX[name]
        return code[:, i:i + 1].view(-1, 1, 1, 1)

    def forward(self, code: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(full-resolution planes (B, 11, S, S), quarter-resolution planes (B, 13, S/4, S/4), cond (B, 34))."""
        B = code.shape[0]
        shape = (code[:, N_FACE:] @ self.presets).view(B, -1, 1, 1)  # the expression presets blended by weight

        def s(name: str) -> torch.Tensor:
            return shape[:, _SHAPE[name]:_SHAPE[name] + 1]

        yaw = self._field(code, "head_yaw") * (math.pi / 180.0)
        pitch = self._field(code, "head_pitch") * (math.pi / 180.0)
        sy, cy, sp, cp = torch.sin(yaw), torch.cos(yaw), torch.sin(pitch), torch.cos(pitch)
        light = light_colour(code[:, N_FACE:], self.lights)  # (B, 3)
        R = self._rotation(sy, cy, sp, cp)  # (B, 3, 3) head → view
        px = self.size / 2.0  # output pixels per canvas unit
        shell = self._shell(R) * px  # (B, 1, G, G) signed distance in output pixels
        parts, depth = self._parts(R)
        # A part well behind the head's centre plane is hidden where the shell covers it (a soft depth test).
        behind = torch.clamp(0.5 - (depth - _FRONT_Z) / 0.1, 0.0, 1.0).view(B, 6, 1, 1)
        parts = parts * px
        # The front face is a plane: view (x, y) = A (u, v) + c with A = R[:2, :2] (face.py/facedraw.py).
        u, v, scale = self._face_plane(sy, cy, sp, cp, px)
        face, maps, tear_w = self._face(code, s, u, v, scale)
        sdf = torch.cat([torch.minimum(shell, parts.amin(1, keepdim=True)),
                         (parts + behind * 40.0).amin(1, keepdim=True), face], 1)  # (B, 8, G, G)
        sdf = torch.clamp(sdf, -CLAMP_PX, CLAMP_PX)
        cov = torch.clamp(F.interpolate(0.5 - sdf, scale_factor=2.0, mode="bilinear", align_corners=False), 0.0, 1.0)
        full = self._compose(cov, F.interpolate(maps, scale_factor=2.0, mode="bilinear", align_corners=False),
                             tear_w, light)
        half = torch.cat([torch.clamp(0.5 - 0.5 * sdf, 0.0, 1.0), maps, u, v.expand(-1, -1, -1, u.shape[3])], 1)
        cond = torch.cat([code, light, sy.view(B, 1), cy.view(B, 1), sp.view(B, 1), cp.view(B, 1), depth], 1)
        return full, F.avg_pool2d(half, 2), cond

    def _face(self, code, s, u_all, v_all, scale) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The screen and the lit face: distances (B, 6, G, G), strength maps (B, 3, G, G), the tear's strength.

        Computed only inside the window that holds the screen at every pose (about half the grid), then padded:
        distances with "far away", the strength maps by repeating their edge.
        """
        r0, r1, c0, c1 = self.window
        u, v = u_all[:, :, r0:r1, c0:c1], v_all[:, :, r0:r1]
        screen = round_rect(u, v, head.SCREEN_HALF[0], head.SCREEN_HALF[1], head.SCREEN_ROUND) * scale
        eyes, eye_w = self._eyes(code, s, u, v, scale)
        brows, brow_w = self._brows(code, s, u, v)
        mouth, fill = self._mouth(code, s, u, v)
        extras, tear_w = self._tear_blush(code, s, u, v)
        # Lights of one colour share a channel: their union's distance, and a map of the nearest one's strength.
        lights = torch.cat([eyes[:, 0:4], brows * scale, mouth * scale], 1)  # (B, 8, h, w)
        ones = torch.ones_like(fill)
        strength = torch.cat([ones, ones, eye_w[:, 0:2], brow_w, ones, fill], 1)  # (B, 8, 1, 1)
        pupils = eyes[:, 4:6]
        sdf = torch.cat([screen - head.BEZEL * scale, screen, lights.amin(1, keepdim=True),
                         pupils.amin(1, keepdim=True), eyes[:, 6:8].amin(1, keepdim=True), extras[:, :1] * scale], 1)
        maps = torch.cat([_nearest(lights, strength), _nearest(pupils, eye_w[:, 2:4]), extras[:, 1:2]], 1)
        g = self.size // 2
        pad = (c0, g - c1, r0, g - r1)
        return F.pad(sdf, pad, value=CLAMP_PX), F.pad(maps, pad, mode="replicate"), tear_w

    def _rotation(self, sy, cy, sp, cp) -> torch.Tensor:
        sy, cy, sp, cp = (t.view(-1) for t in (sy, cy, sp, cp))
        zero = torch.zeros_like(sy)
        rows = [torch.stack([cy, -sy * sp, sy * cp], 1), torch.stack([zero, cp, sp], 1),
                torch.stack([-sy, -cy * sp, cy * cp], 1)]
        return torch.stack(rows, 1)  # pitch about x, then yaw about y (head.rotation)

    def _shell(self, R: torch.Tensor) -> torch.Tensor:  # noqa: N803  (a rotation matrix)
        """The head's outline: the projected inner box (a zonotope) rounded by ROUND, via its support function."""
        inner = torch.tensor([h - head.ROUND for h in head.HALF], dtype=R.dtype, device=R.device)
        gens = R[:, :2, :] * inner.view(1, 1, 3)  # (B, 2, 3): projected half axes
        support = torch.abs(self.dirs @ gens).sum(2)  # (B, N): how far the box reaches in each direction
        ux, uy = self.dirs[:, 0].view(1, -1, 1, 1), self.dirs[:, 1].view(1, -1, 1, 1)
        d = (ux * self.qx - support.view(-1, N_DIRS, 1, 1)) + uy * self.qy  # (B, N, Q, Q)
        # Fixed directions round the corners; the edges' own normals (± each axis turned 90°) make the flat
        # sides exact. Any direction bounds a convex set, so a degenerate (end-on) axis does no harm.
        perp = torch.stack([-gens[:, 1], gens[:, 0]], 2)  # (B, 3, 2)
        perp = perp / _sqrt((perp * perp).sum(2, keepdim=True))
        normals = torch.cat([perp, -perp], 1)  # (B, 6, 2)
        n_support = torch.abs(normals @ gens).sum(2)  # (B, 6)
        nx, ny = normals[:, :, 0:1].unsqueeze(-1), normals[:, :, 1:2].unsqueeze(-1)  # (B, 6, 1, 1)
        d_edges = (nx * self.qx - n_support.unsqueeze(-1).unsqueeze(-1)) + ny * self.qy  # (B, 6, Q, Q)
        d = torch.maximum(d.amax(dim=1, keepdim=True), d_edges.amax(dim=1, keepdim=True)) - head.ROUND
        return F.interpolate(d, scale_factor=2.0, mode="bilinear", align_corners=False)

    def _parts(self, R: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # noqa: N803
        """Ear pods, bolts and antenna as projected capsules: distances (B, 6, G, G) and part depths (B, 6)."""
        ends = self.part_ends @ R.unsqueeze(1).transpose(-1, -2)  # (B, 6, 2, 3) view space, before centring
        a, b = ends[:, :, 0], ends[:, :, 1]
        ax, ay = a[..., 0:1].unsqueeze(-1), a[..., 1:2].unsqueeze(-1) + head.CENTRE_Y  # (B, 6, 1, 1)
        ex, ey = (b[..., 0:1] - a[..., 0:1]).unsqueeze(-1), (b[..., 1:2] - a[..., 1:2]).unsqueeze(-1)
        dx, dy = self.gx - ax, self.gy - ay
        t = torch.clamp((dx * ex + dy * ey) / (ex * ex + ey * ey + 1e-9), 0.0, 1.0)
        d = _hypot(dx - t * ex, dy - t * ey) - self.part_r  # (B, 6, G, G)
        depth = 0.5 * (a[..., 2] + b[..., 2])  # (B, 6)
        return d, depth

    def _face_plane(self, sy, cy, sp, cp, px: float):
        cx_view = sy * cp * head.HALF[2]
        cy_view = head.CENTRE_Y + sp * head.HALF[2]
        v = (self.gy - cy_view) / cp  # (B, 1, G, 1)
        u = ((self.gx - cx_view) + sy * sp * v) / cy  # (B, 1, G, G)
        scale = _sqrt(cy * cp) * px  # face-plane units → output pixels (facedraw.FacePlane.px)
        return u, v, scale

    def _eyes(self, code, s, u, v, scale) -> tuple[torch.Tensor, torch.Tensor]:
        """Both eyes (image left, right): pill with lids, arch, closing line, pupil, sparkle. 8 channels."""
        side = self.sides
        blink = torch.cat([self._field(code, "eye_blink_right"), self._field(code, "eye_blink_left")], 1)
        gx, gy = self._field(code, "gaze_x"), self._field(code, "gaze_y")
        w, h_open = s("eye_w"), s("eye_h")
        openness = 1.0 - blink
        h = _CLOSED_H + (h_open - _CLOSED_H) * openness  # (B, 2, 1, 1)
        ecx = side * s("eye_x") + 0.03 * gx
        ecy = s("eye_y") - 0.35 * (h_open - h) + 0.022 * gy
        lid_b = s("lid_bottom")
        squash = torch.clamp(h / h_open, min=1e-3)
        y_close = -0.3 * h_open + (h_open - 0.92 * w * 0.45 - 0.3 * w) * lid_b
        qu = (u - ecx) * side
        qv_rel = v - ecy
        qv = (qv_rel - y_close) / squash + y_close
        d = self._eye_field(qu, qv, w, h_open, s)
        # The squash stretches the field: normalise by its numeric gradient (facedraw._aa), in half-res pixels.
        g = F.conv2d(d, self.grad, padding=1, groups=2)  # (B, 4, G, G); the border is far from any eye
        norm = _sqrt(g[:, 0::2] ** 2 + g[:, 1::2] ** 2)
        d = d / torch.clamp(norm, min=1e-6) * 2.0  # half-res pixels → output pixels
        half = w * 0.85
        bend = -0.12 * w + 0.55 * w * lid_b
        along = torch.clamp(qu / half, -1.0, 1.0)
        rv = qv_rel - y_close - bend * (1.0 - along * along)
        line = (_hypot(torch.clamp(torch.abs(qu) - half, min=0.0), rv) - 0.012) * scale
        pr = s("pupil_size") * w
        ratio = torch.clamp(1.2 * h / w, max=1.0)
        pu, pv = ecx + gx * 0.4 * w, ecy + gy * 0.36 * h - 0.05 * h
        pupil = _circle(u, v, pu, pv, pr * ratio)
        r1 = torch.clamp(h / w, max=1.0)
        spark = torch.minimum(_circle(u, v, pu - 0.3 * pr, pv + 0.32 * pr * r1, 0.3 * pr * r1),
                              _circle(u, v, pu + 0.38 * pr, pv - 0.36 * pr, 0.14 * pr))
        out = torch.cat([d, line, pupil * scale, spark * scale], 1)  # (B, 8, G, G)
        weights = torch.cat([torch.clamp(2.5 * (1.0 - squash), max=1.0),
                             torch.clamp(s("pupil"), 0.0, 1.0) * openness], 1)  # (B, 4, 1, 1)
        return out, weights

    @staticmethod
    def _eye_field(qu, qv, w, h, s) -> torch.Tensor:
        pill = round_rect(qu, qv, w, h, s("eye_round") * torch.minimum(w, h))
        ra, rb = w * 0.92, w * 0.3
        ay = qv - (h - ra - rb)
        sn, cs = math.sin(math.radians(68)), math.cos(math.radians(68))
        ax = torch.abs(qu)
        arch = torch.where(cs * ax > sn * ay, _hypot(ax - sn * ra, ay - cs * ra), torch.abs(_hypot(ax, ay) - ra)) - rb
        d = pill + (arch - pill) * s("lid_bottom")
        tilt = s("lid_tilt")
        t = torch.sin(tilt) / torch.cos(tilt)
        lid_top = torch.clamp(s("lid_top"), 0.0, 0.9)
        # The renderer skips the lid when it is absent; push it out of the way instead of branching.
        absent = torch.clamp(1.0 - 50.0 * (lid_top + torch.abs(tilt)), 0.0, 1.0)
        lid = (qv - (h - 2.0 * h * lid_top + 0.1 * absent) + t * qu) / _sqrt(1.0 + t * t)
        k = 0.012
        mix = torch.clamp(0.5 - (0.5 / k) * (lid - d), 0.0, 1.0)  # sdf.smooth_max
        return lid + (d - lid) * mix + k * mix * (1.0 - mix)

    def _brows(self, code, s, u, v) -> tuple[torch.Tensor, torch.Tensor]:
        side = self.sides
        raise_ = torch.cat([self._field(code, "brow_raise_right"), self._field(code, "brow_raise_left")], 1)
        furrow, gx = self._field(code, "brow_furrow"), self._field(code, "gaze_x")
        half_len = s("brow_len")
        bcx = side * (s("brow_x") - 0.03 * furrow) + 0.02 * gx
        bcy = s("brow_y") + 0.055 * raise_ - 0.03 * furrow
        thick = s("brow_thick") + 0.006 * furrow
        tilt = s("brow_tilt") - 0.5 * furrow + 0.12 * raise_
        qu, qv = (u - bcx) * side, v - bcy
        c, sn = torch.cos(tilt), torch.sin(tilt)
        ru, rv = qu * c - qv * sn, qu * sn + qv * c
        along = ru / half_len
        rv = rv - s("brow_arch") * (1.0 - along * along)
        taper = thick * 0.5 * (1.0 - 0.35 * torch.clamp(along, -1.0, 1.0))
        d = _hypot(torch.clamp(torch.abs(ru) - half_len, min=0.0), rv) - taper  # (B, 2, G, G)
        light = torch.clamp(s("brow_light") + 0.25 * furrow + 0.1 * torch.abs(raise_), 0.0, 1.0)
        return d, light

    def _mouth(self, code, s, u, v) -> tuple[torch.Tensor, torch.Tensor]:
        """The lips line and the opening (facedraw.draw_mouth): 2 channels, and the opening's brightness."""
        jaw, funnel = self._field(code, "jaw_open"), self._field(code, "mouth_funnel")
        w = s("mouth_w") + 0.035 * jaw
        w = w + (0.048 - w) * funnel
        mcy = s("mouth_y") + 0.02 * jaw * (1.0 - funnel) + 0.01 * funnel
        curve = torch.clamp(s("mouth_curve") + self._field(code, "mouth_smile"), -1.5, 1.5) * (1.0 - 0.85 * funnel)
        opening = (s("mouth_open") * (1.0 - 0.3 * funnel) + 0.1 * jaw + 0.06 * funnel) / _MAX_OPEN
        opening = _MAX_OPEN * torch.tanh(opening)
        jag = s("mouth_jag") * (1.0 - jaw) * (1.0 - funnel)
        fill = torch.clamp(s("mouth_fill") * (1.0 - 0.4 * funnel) + 0.15 * jaw, 0.0, 1.0)
        roundness = torch.clamp(s("mouth_round") + funnel, 0.0, 1.0)
        t = torch.clamp(u / w, -1.2, 1.2)
        k = 0.5 * w * curve
        yc = mcy + k * (t * t - 0.35)
        slope = 2.0 * k * t / w
        ph = (t + 1.0) * 1.5
        frac = ph - torch.floor(ph) - 0.5
        env = torch.clamp(1.0 - t ** 4, 0.0, 1.0)
        yc = yc + 2.0 * jag * (2.0 * torch.abs(frac) - 0.5) * env
        slope = slope + (6.0 * jag / w) * torch.sign(frac) * env
        up = 0.2 + 0.8 * roundness
        b = torch.clamp(opening * (1.0 + up) * 0.5 * (1.0 - 0.3 * roundness), min=0.002)
        vy = (v - yc - opening * (up - 1.0) * 0.5) / _sqrt(1.0 + slope * slope)
        ex, ey = u / w, vy / b
        k0 = _sqrt(ex * ex + ey * ey)
        k1 = _sqrt((ex / w) ** 2 + (ey / b) ** 2)
        region = k0 * (k0 - 1.0) / torch.clamp(k1, min=1e-6)
        corner_y = mcy + 0.5 * w * curve * 0.65 + opening * (up - 1.0) * 0.5
        region = torch.where(torch.abs(u) > w, _hypot(torch.abs(u) - w, v - corner_y), region)
        stroke = torch.abs(region) - s("mouth_thick") * 0.5
        return torch.cat([stroke, region], 1), fill

    def _tear_blush(self, code, s, u, v) -> tuple[torch.Tensor, torch.Tensor]:
        """The tear under the image-left eye (a distance), the cheek glow (an intensity), the tear's strength."""
        gx, gy = self._field(code, "gaze_x"), self._field(code, "gaze_y")
        amount = torch.clamp(s("tear"), 0.0, 1.0)
        blinks = torch.cat([self._field(code, "eye_blink_right"), self._field(code, "eye_blink_left")], 1)
        h_open, w = s("eye_h"), s("eye_w")
        h = _CLOSED_H + (h_open - _CLOSED_H) * (1.0 - blinks)  # (B, 2, 1, 1)
        ecx = self.sides * s("eye_x") + 0.03 * gx
        ecy = s("eye_y") - 0.35 * (h_open - h) + 0.022 * gy
        size = 0.018 + 0.012 * amount
        tx, ty = ecx[:, :1] - 0.35 * w, ecy[:, :1] - h[:, :1] - 0.07 - 0.03 * amount
        tear = _tapered_capsule(torch.abs(u - tx), v - ty, size, size * 0.08, size * 2.2)
        bx, by = ecx + self.sides * 0.045, ecy - 0.135
        r2 = ((u - bx) / 0.065) ** 2 + ((v - by) / 0.034) ** 2
        blush = torch.exp(-r2 * r2 * 0.6).amax(dim=1, keepdim=True) * torch.clamp(s("blush"), 0.0, 1.0)
        return torch.cat([tear, blush], 1), torch.clamp(amount * 1.5, max=1.0)

    @staticmethod
    def _compose(cov: torch.Tensor, maps: torch.Tensor, tear_w: torch.Tensor, light: torch.Tensor) -> torch.Tensor:
        """Flat-shade the coverages the way the renderer combines its layers (pupils, sparkles, emission)."""
        lit, pupil, hot = cov[:, 4:5] * maps[:, 0:1], cov[:, 5:6] * maps[:, 1:2], cov[:, 6:7] * maps[:, 1:2]
        hot = hot * cov[:, 4:5]  # a sparkle is clipped to its eye
        lit = torch.maximum(lit * (1.0 - 0.72 * pupil), hot)
        rgb = light.view(-1, 3, 1, 1)
        emit = lit * (rgb * 0.88 + 0.12) + hot * (1.0 - rgb) * 0.9
        return torch.cat([cov[:, 0:4], lit, hot, cov[:, 7:8] * tear_w, maps[:, 2:3], emit], 1)


def _nearest(d: torch.Tensor, strength: torch.Tensor, tau: float = 0.5) -> torch.Tensor:
    """The strength of the nearest of several shapes at each pixel (a soft arg-min over distances in pixels)."""
    # exp/sum by hand: ONNX Runtime's Softmax over a non-last axis transposes, and costs more than the rest.
    e = torch.exp((d.amin(1, keepdim=True) - d) * (1.0 / tau))
    return (e * strength).sum(1, keepdim=True) / e.sum(1, keepdim=True)


def _window(g: int, margin: int = 6) -> tuple[int, int, int, int]:
    """Rows and columns (r0, r1, c0, c1) of the half-resolution grid that hold the bezel at every pose (±45°),
    with `margin` pixels to spare for the coverage ramp, the upsampling and the eyes' gradient stencil."""
    hx, hy = head.SCREEN_HALF[0] + head.BEZEL, head.SCREEN_HALF[1] + head.BEZEL
    xs, ys = [], []
    for yaw in range(-45, 46, 5):
        for pitch in range(-45, 46, 5):
            y_, p_ = math.radians(yaw), math.radians(pitch)
            for u in (-hx, hx):
                for v in (-hy, hy):  # view = A (u, v) + c, as in _face_plane
                    xs.append(math.cos(y_) * u - math.sin(y_) * math.sin(p_) * v
                              + math.sin(y_) * math.cos(p_) * head.HALF[2])
                    ys.append(math.cos(p_) * v + math.sin(p_) * head.HALF[2] + head.CENTRE_Y)
    c0 = max(math.floor((min(xs) + 1.0) * g / 2.0 - 0.5) - margin, 0)
    c1 = min(math.ceil((max(xs) + 1.0) * g / 2.0 - 0.5) + margin + 1, g)
    r0 = max(math.floor((1.0 - max(ys)) * g / 2.0 - 0.5) - margin, 0)
    r1 = min(math.ceil((1.0 - min(ys)) * g / 2.0 - 0.5) + margin + 1, g)
    return r0, r1, c0, c1


def _tapered_capsule(ax: torch.Tensor, y: torch.Tensor, r1, r2, h) -> torch.Tensor:
    """sdf.tapered_capsule with |x| given: a round end r1 at 0 joined to one of radius r2 at (0, h)."""
    b = (r1 - r2) / h
    a = _sqrt(1.0 - b * b)
    k = -ax * b + y * a
    d_low = _hypot(ax, y) - r1
    d_high = _hypot(ax, y - h) - r2
    d_side = ax * a + y * b - r1
    return torch.where(k < 0.0, d_low, torch.where(k > a * h, d_high, d_side))
