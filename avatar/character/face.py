"""EmoteBot's screen face as shape parameters: expression presets, continuous blends, rig fields on top."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from avatar.expression.rig import Expression, RigCode


@dataclass(frozen=True)
class FaceShape:
    """Shape of the light drawn on the screen, in face-plane units (the screen is about 0.8 wide).

    Every field is a float so that expressions blend by a weighted sum of their presets.
    """

    eye_x: float = 0.17  # distance of each eye centre from the midline
    eye_y: float = 0.035  # eye centre height
    eye_w: float = 0.074  # eye half width
    eye_h: float = 0.102  # eye half height (open)
    eye_round: float = 1.0  # corner radius as a fraction of the smaller half size (1 = pill)
    lid_top: float = 0.0  # 0..1: how far the upper lid cuts down into the eye, at its centre
    lid_tilt: float = 0.0  # radians; + droops the outer corner (sad), − the inner one (angry)
    lid_bottom: float = 0.0  # 0..1: a round cut from below that leaves a "∩" arch (happy)
    pupil: float = 1.0  # 0..1 visibility of the dark pupil and sparkle that follow the gaze
    pupil_size: float = 0.56  # pupil radius as a fraction of the eye half width
    brow_x: float = 0.17  # brow centre distance from the midline
    brow_y: float = 0.205  # brow centre height
    brow_len: float = 0.055  # brow half length
    brow_thick: float = 0.024  # brow thickness
    brow_tilt: float = 0.0  # radians; + lifts the inner end (sad), − drops it (angry)
    brow_arch: float = 0.012  # bend of the brow, + = arched up in the middle
    brow_light: float = 0.75  # brow brightness relative to the eyes
    mouth_y: float = -0.165  # mouth centre height
    mouth_w: float = 0.085  # mouth half width
    mouth_curve: float = 0.35  # −1 frown .. 1 smile: how far the corners rise, in mouth half widths × 0.5
    mouth_open: float = 0.0  # opening height below the line
    mouth_round: float = 0.0  # 0..1 how round ("O") the opening is rather than a "D" below the line
    mouth_thick: float = 0.024  # stroke thickness of the lips line
    mouth_jag: float = 0.0  # zig-zag amplitude along the mouth line (gritted teeth)
    mouth_fill: float = 0.45  # brightness of the open mouth's inside
    blush: float = 0.0  # cheek glow strength
    tear: float = 0.0  # 0..1 size of a tear under the image-left eye


PRESETS: dict[Expression, FaceShape] = {
    Expression.NEUTRAL: FaceShape(),
    Expression.HAPPY: FaceShape(
        eye_y=0.05, eye_w=0.078, eye_h=0.09, lid_bottom=1.0, pupil=0.0,
        brow_y=0.215, brow_tilt=0.0, brow_arch=0.02, brow_light=0.55,
        mouth_y=-0.14, mouth_w=0.13, mouth_curve=0.8, mouth_open=0.085, mouth_fill=0.6, blush=1.0,
    ),
    Expression.SAD: FaceShape(
        eye_y=0.025, eye_h=0.085, lid_top=0.32, lid_tilt=0.42, pupil=0.8,
        brow_y=0.185, brow_x=0.165, brow_tilt=0.42, brow_arch=0.0,
        mouth_y=-0.18, mouth_w=0.075, mouth_curve=-0.75, tear=1.0,
    ),
    Expression.SURPRISED: FaceShape(
        eye_w=0.088, eye_h=0.105, eye_y=0.04, pupil=1.0, pupil_size=0.4,
        brow_y=0.245, brow_len=0.05, brow_arch=0.025, brow_light=0.9,
        mouth_y=-0.17, mouth_w=0.05, mouth_curve=0.0, mouth_open=0.075, mouth_round=1.0, mouth_fill=0.3,
    ),
    Expression.ANGRY: FaceShape(
        eye_y=0.03, eye_w=0.072, eye_h=0.08, lid_top=0.42, lid_tilt=-0.5, pupil=0.7,
        brow_x=0.15, brow_y=0.155, brow_len=0.065, brow_thick=0.03, brow_tilt=-0.55, brow_arch=-0.005,
        brow_light=1.0,
        mouth_y=-0.18, mouth_w=0.1, mouth_curve=-0.3, mouth_open=0.0, mouth_jag=0.024, mouth_fill=0.25,
    ),
}

_NAMES = tuple(f.name for f in fields(FaceShape))


def blend(weights: dict[Expression, float]) -> FaceShape:
    """The weighted mix of the expression presets (weights are expected to sum to 1)."""
    total = sum(max(w, 0.0) for w in weights.values()) or 1.0
    acc = dict.fromkeys(_NAMES, 0.0)
    for expr, w in weights.items():
        w = max(w, 0.0) / total
        if w == 0.0:
            continue
        preset = PRESETS[expr]
        for name in _NAMES:
            acc[name] += w * getattr(preset, name)
    return FaceShape(**acc)


@dataclass(frozen=True)
class EyeParams:
    """One eye after expression and rig fields; side = +1 for the image-right eye (its outer side is +u)."""

    side: float
    cx: float
    cy: float
    w: float
    h: float  # half height after blinking
    h_open: float  # half height when open
    round: float
    lid_top: float
    lid_tilt: float
    lid_bottom: float
    pupil: float
    pupil_size: float
    look_x: float  # gaze, −1..1
    look_y: float


@dataclass(frozen=True)
class BrowParams:
    """One brow segment: centre, half length, thickness, tilt (+ = inner end up) and arch."""

    side: float
    cx: float
    cy: float
    half_len: float
    thick: float
    tilt: float
    arch: float
    light: float


@dataclass(frozen=True)
class MouthParams:
    """The mouth: a curved line that opens into a filled shape below it."""

    cy: float
    w: float
    curve: float
    open: float
    thick: float
    jag: float
    fill: float
    roundness: float  # 0..1 how much of the funnel "O" is applied


@dataclass(frozen=True)
class FaceLayout:
    """Everything the face layer draws for one rig code."""

    eyes: tuple[EyeParams, EyeParams]
    brows: tuple[BrowParams, BrowParams]
    mouth: MouthParams
    blush: float
    tear: float


_CLOSED_H = 0.012  # half height of a fully blinked eye: a thin line stays lit
_MAX_OPEN = 0.14  # the widest the mouth opens, in face-plane units


def _clamp(v: float, lo: float, hi: float) -> float:
    return min(max(v, lo), hi)


def _eye(s: FaceShape, side: float, blink: float, gx: float, gy: float) -> EyeParams:
    openness = 1.0 - _clamp(blink, 0.0, 1.0)
    h = _CLOSED_H + (s.eye_h - _CLOSED_H) * openness
    # The upper lid comes down, so a closing eye sinks a little.
    cy = s.eye_y - 0.35 * (s.eye_h - h) + 0.022 * gy
    cx = side * s.eye_x + 0.03 * gx
    return EyeParams(
        side, cx, cy, s.eye_w, h, s.eye_h, s.eye_round, _clamp(s.lid_top, 0.0, 0.9), s.lid_tilt,
        _clamp(s.lid_bottom, 0.0, 1.0), _clamp(s.pupil, 0.0, 1.0) * openness, s.pupil_size, gx, gy,
    )


def _brow(s: FaceShape, side: float, raise_: float, furrow: float, gx: float) -> BrowParams:
    return BrowParams(
        side=side,
        cx=side * (s.brow_x - 0.03 * furrow) + 0.02 * gx,
        cy=s.brow_y + 0.055 * raise_ - 0.03 * furrow,
        half_len=s.brow_len,
        thick=s.brow_thick + 0.006 * furrow,
        tilt=s.brow_tilt - 0.5 * furrow + 0.12 * raise_,
        arch=s.brow_arch,
        light=_clamp(s.brow_light + 0.25 * furrow + 0.1 * abs(raise_), 0.0, 1.0),
    )


def layout(code: RigCode) -> FaceLayout:
    """Blend the expression presets by the code's weights, then add its face fields on top."""
    s = blend(code.weights)
    gx, gy = code["gaze_x"], code["gaze_y"]
    # User's left is image right (side +1): eye_blink_left and brow_raise_left act on that side.
    eyes = (
        _eye(s, -1.0, code["eye_blink_right"], gx, gy),
        _eye(s, 1.0, code["eye_blink_left"], gx, gy),
    )
    furrow = code["brow_furrow"]
    brows = (
        _brow(s, -1.0, code["brow_raise_right"], furrow, gx),
        _brow(s, 1.0, code["brow_raise_left"], furrow, gx),
    )
    jaw, funnel = code["jaw_open"], code["mouth_funnel"]
    w = s.mouth_w + 0.035 * jaw
    w = w + (0.048 - w) * funnel  # a funnel gathers the mouth into a small round "O"
    mouth = MouthParams(
        cy=s.mouth_y + 0.02 * jaw * (1.0 - funnel) + 0.01 * funnel,
        w=w,
        curve=_clamp(s.mouth_curve + code["mouth_smile"], -1.5, 1.5) * (1.0 - 0.85 * funnel),
        # Soft limit: jaw on top of an already open mouth (happy, surprised) must stay on the screen.
        open=_MAX_OPEN * math.tanh((s.mouth_open * (1.0 - 0.3 * funnel) + 0.1 * jaw + 0.06 * funnel) / _MAX_OPEN),
        thick=s.mouth_thick,
        jag=s.mouth_jag * (1.0 - jaw) * (1.0 - funnel),
        fill=_clamp(s.mouth_fill * (1.0 - 0.4 * funnel) + 0.15 * jaw, 0.0, 1.0),
        roundness=_clamp(s.mouth_round + funnel, 0.0, 1.0),
    )
    return FaceLayout(eyes, brows, mouth, _clamp(s.blush, 0.0, 1.0), _clamp(s.tear, 0.0, 1.0))
