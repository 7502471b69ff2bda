"""FACS-style cues (action units, 0..1) read from a face relative to its neutral: what expressions are made of."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

import numpy as np

from avatar.tracking.base import BLENDSHAPE_INDEX
from avatar.tracking.calibration import Calibration


@dataclass(frozen=True)
class FaceCues:
    """Intensity of each facial action, 0 (absent, as at neutral) .. 1 (strong). FACS numbers in brackets."""

    inner_brow_raise: float = 0.0  # (AU1) inner brow ends up: sadness, surprise
    outer_brow_raise: float = 0.0  # (AU2) outer brows up: surprise
    brow_lower: float = 0.0  # (AU4) brows down and drawn together: anger, concentration
    upper_lid_raise: float = 0.0  # (AU5) eyes opened wide: surprise, fear
    cheek_raise: float = 0.0  # (AU6) cheeks push the lower lids up: a felt smile
    lid_tighten: float = 0.0  # (AU7) lids narrowed without a smile: anger
    lip_corner_pull: float = 0.0  # (AU12) corners up and out: a smile
    lip_corner_depress: float = 0.0  # (AU15) corners down: sadness
    lip_press: float = 0.0  # (AU24) lips pressed together: anger
    jaw_drop: float = 0.0  # (AU26/27) mouth open: surprise, laughter, shouting

    def as_dict(self) -> dict[str, float]:
        return {f.name: float(getattr(self, f.name)) for f in fields(self)}


def _unit(x: float) -> float:
    return float(min(1.0, max(0.0, x)))


def from_geometry(m: Mapping[str, float], c: Calibration, params: Mapping[str, float]) -> FaceCues:
    """Cues from landmark measurements (`m`, see measure.py) and the solved rig fields (`params`)."""
    brows = (m["brow_left"] + m["brow_right"] - c.brow_left - c.brow_right) / 2
    openness = (m["eye_open_left"] / c.eye_open_left + m["eye_open_right"] / c.eye_open_right) / 2
    # A narrowed eye that is not a blink: lids at 55-90 % of neutral. Which action it is depends on the mouth.
    narrow = _unit((1.0 - openness) / 0.3) if openness > 0.45 else 0.0
    smile = max(0.0, params["mouth_smile"])
    closed = params["jaw_open"] < 0.1
    return FaceCues(
        inner_brow_raise=_unit((m["brow_inner"] - c.brow_inner) / 0.03),
        outer_brow_raise=_unit(brows / 0.035),
        brow_lower=params["brow_furrow"],
        upper_lid_raise=_unit((openness - 1.0) / 0.25),
        cheek_raise=narrow * smile,
        lid_tighten=narrow * (1.0 - smile),
        lip_corner_pull=smile,
        lip_corner_depress=max(0.0, -params["mouth_smile"]),
        lip_press=_unit((c.mouth_round - m["mouth_round"]) / 0.12) if closed else 0.0,
        jaw_drop=params["jaw_open"],
    )


def _score(b: np.ndarray, neutral: np.ndarray, *names: str) -> float:
    """Mean rise of these blendshapes above the user's neutral scores."""
    idx = [BLENDSHAPE_INDEX[n] for n in names]
    return float(np.mean(b[idx] - neutral[idx]))


def from_blendshapes(b: np.ndarray, c: Calibration, geometric: FaceCues) -> FaceCues:
    """Cues from the 52 blendshape scores; corner depression also trusts geometry, where MediaPipe's frown is weak."""
    n = np.asarray(c.blendshapes, dtype=np.float32)
    squint = _score(b, n, "eyeSquintLeft", "eyeSquintRight")
    smile = _unit(_score(b, n, "mouthSmileLeft", "mouthSmileRight") / 0.7)
    return FaceCues(
        inner_brow_raise=_unit(_score(b, n, "browInnerUp") / 0.6),
        outer_brow_raise=_unit(_score(b, n, "browOuterUpLeft", "browOuterUpRight") / 0.6),
        brow_lower=_unit(_score(b, n, "browDownLeft", "browDownRight") / 0.45),
        upper_lid_raise=_unit(_score(b, n, "eyeWideLeft", "eyeWideRight") / 0.3),
        cheek_raise=max(_unit(_score(b, n, "cheekSquintLeft", "cheekSquintRight") / 0.3), _unit(squint / 0.3) * smile),
        lid_tighten=_unit(squint / 0.3) * (1.0 - smile),
        lip_corner_pull=smile,
        lip_corner_depress=max(_unit(_score(b, n, "mouthFrownLeft", "mouthFrownRight") / 0.3),
                               geometric.lip_corner_depress),
        lip_press=max(_unit(_score(b, n, "mouthPressLeft", "mouthPressRight") / 0.4),
                      _unit(_score(b, n, "mouthRollLower", "mouthRollUpper") / 0.6)),
        jaw_drop=_unit((_score(b, n, "jawOpen") - _score(b, n, "mouthClose")) / 0.6),
    )
