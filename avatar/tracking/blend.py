"""Rig fields from the Tasks back end's 52 blendshape scores, relative to the user's neutral scores."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from avatar.errors import ConfigError
from avatar.tracking.base import BLENDSHAPE_INDEX


@dataclass(frozen=True)
class BlendConfig:
    """How far each blendshape score must rise above neutral for a full-scale rig value (all > 0).

    Read off the fixture clips against the geometric solver and by eye: MediaPipe's scores are compressed (a
    firmly shut wink scores about 0.5, a full blink about 0.8) and looking down raises eyeBlink by about 0.3.
    """

    blink_dead: float = 0.18  # eyeBlink rise ignored: what looking down (not a blink) adds
    blink_full: float = 0.45  # eyeBlink rise at which the eye reads fully closed
    gaze_x_full: float = 0.8  # eyeLookOut - eyeLookIn, averaged over both eyes, for gaze_x = ±1
    gaze_y_full: float = 0.45  # eyeLookUp - eyeLookDown for gaze_y = ±1
    brow_up_full: float = 0.6  # mean of browInnerUp and browOuterUp for brow_raise = 1
    brow_down_full: float = 0.45  # browDown for brow_raise = -1 and brow_furrow = 1
    jaw_full: float = 0.85  # jawOpen - mouthClose (lips apart) for jaw_open = 1
    smile_full: float = 0.75  # mouthSmile for mouth_smile = 1
    frown_full: float = 0.3  # mouthFrown for mouth_smile = -1 (MediaPipe scores frowns low)
    funnel_full: float = 0.8  # the larger of mouthFunnel and mouthPucker for mouth_funnel = 1

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            if not ok or value <= 0 or value > 2:
                raise ConfigError(f"blendshape {f.name} must be a number from 0 to 2 (not 0), got {value!r}")


class _Scores:
    """Blendshape rises above neutral, looked up by name."""

    def __init__(self, b: np.ndarray, neutral: tuple[float, ...]) -> None:
        self.b, self.n = b, neutral

    def __call__(self, name: str) -> float:
        i = BLENDSHAPE_INDEX[name]
        return float(self.b[i]) - self.n[i]


def blend_fields(b: np.ndarray, neutral: tuple[float, ...], k: BlendConfig) -> dict[str, float]:
    """Eye, brow and mouth rig fields from (52,) scores. "Left" is the user's own in both vocabularies."""
    s = _Scores(b, neutral)
    out: dict[str, float] = {}
    for side, name in (("left", "Left"), ("right", "Right")):
        out[f"eye_blink_{side}"] = (s(f"eyeBlink{name}") - k.blink_dead) / (k.blink_full - k.blink_dead)
        up = (s("browInnerUp") + s(f"browOuterUp{name}")) / 2 / k.brow_up_full
        out[f"brow_raise_{side}"] = up - s(f"browDown{name}") / k.brow_down_full
    # The user's left eye looking "out" and the right eye looking "in" both turn the eyes to their left (+x).
    across = (s("eyeLookOutLeft") - s("eyeLookInLeft") + s("eyeLookInRight") - s("eyeLookOutRight")) / 2
    vertical = (s("eyeLookUpLeft") + s("eyeLookUpRight") - s("eyeLookDownLeft") - s("eyeLookDownRight")) / 2
    out["gaze_x"] = across / k.gaze_x_full
    out["gaze_y"] = vertical / k.gaze_y_full
    out["brow_furrow"] = (s("browDownLeft") + s("browDownRight")) / 2 / k.brow_down_full
    # jawOpen rises with the chin even when the lips stay sealed (mouthClose rises with it): the mouth that
    # shows is the difference, plus lips drawn apart in a shout.
    lips_apart = (s("mouthLowerDownLeft") + s("mouthLowerDownRight") + s("mouthUpperUpLeft")
                  + s("mouthUpperUpRight")) / 4
    out["jaw_open"] = (s("jawOpen") - s("mouthClose") + 0.6 * max(lips_apart, 0.0)) / k.jaw_full
    smile = (s("mouthSmileLeft") + s("mouthSmileRight")) / 2 / k.smile_full
    frown = (s("mouthFrownLeft") + s("mouthFrownRight")) / 2 / k.frown_full
    out["mouth_smile"] = max(smile, 0.0) - max(frown, 0.0)
    out["mouth_funnel"] = max(s("mouthFunnel"), s("mouthPucker")) / k.funnel_full
    return out
