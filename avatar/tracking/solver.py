"""Landmarks to FaceParams: every face field of the rig, relative to the user's calibrated neutral face."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from avatar.errors import ConfigError
from avatar.expression.rig import FACE_FIELD_NAMES, FIELD_INDEX, HIGH, LOW, N_FACE, REST, FaceParams
from avatar.tracking.calibration import Calibration
from avatar.tracking.facemesh import Landmarks
from avatar.tracking.measure import angles_from_rotation, measure, rotation_from_angles

__all__ = ["Calibration", "FaceSolver", "SolverConfig"]


@dataclass(frozen=True)
class SolverConfig:
    """How far each measurement must move from neutral to reach a full-scale rig value (all > 0).

    Defaults were read off the fixture clips: a wide-open mouth, a grin, a full blink, a hard sideways look.
    """

    blink_closed: float = 0.1  # eye openness of a closed eye as a fraction of neutral (lids never quite meet)
    gaze_range_x: float = 0.45  # iris offset in half eye widths that reads as gaze_x = ±1
    gaze_range_y: float = 0.3  # same for gaze_y; lids hide the iris sooner vertically
    brow_range: float = 0.035  # brow height change in face widths that reads as brow_raise = ±1
    furrow_range: float = 0.15  # fraction by which the inner brows close up for brow_furrow = 1
    jaw_range: float = 0.35  # inner-lip gap in face widths for jaw_open = 1
    smile_corner_range: float = 0.035  # corner lift (face widths) worth half a full smile, or a full frown
    smile_width_range: float = 0.3  # mouth widening (fraction of neutral) that counts as the other half
    open_corner_lift: float = 0.11  # corners rise this much per unit of jaw opening without any smile
    funnel_narrow_range: float = 0.3  # mouth narrowing (fraction of neutral) for mouth_funnel = 1
    funnel_round_range: float = (
        0.15  # rise in roundness that confirms a narrow mouth is an "O", not pressed lips
    )

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            if not ok or value <= 0:
                raise ConfigError(f"solver {f.name} must be a number > 0, got {value!r}")
        if self.blink_closed >= 1:
            raise ConfigError(
                f"solver blink_closed must be below 1 (a fraction of neutral), got {self.blink_closed}"
            )


class FaceSolver:
    """A pure function of (landmarks, calibration): measure, compare with neutral, clamp to the rig."""

    def __init__(self, calibration: Calibration | None = None, config: SolverConfig = SolverConfig()) -> None:
        self.calibration = calibration if calibration is not None else Calibration.default()
        self.config = config
        c = self.calibration
        self._neutral_rotation_t = rotation_from_angles(c.yaw, c.pitch, c.roll).T

    @staticmethod
    def measure(lm: Landmarks) -> dict[str, float]:
        """Raw geometric measurements (see avatar.tracking.measure.MEASUREMENTS); no calibration involved."""
        return measure(lm)

    def process(self, lm: Landmarks) -> FaceParams:
        m = measure(lm)
        values = {**self._head(m, lm), **self._eyes(m, lm), **self._brows(m), **self._mouth(m)}
        vec = REST[:N_FACE].copy()
        for name in FACE_FIELD_NAMES:
            vec[FIELD_INDEX[name]] = values[name]
        vec[~np.isfinite(vec)] = REST[:N_FACE][~np.isfinite(vec)]
        return FaceParams(np.clip(vec, LOW[:N_FACE], HIGH[:N_FACE]).astype(np.float32))

    def _head(self, m: dict[str, float], lm: Landmarks) -> dict[str, float]:
        c = self.calibration
        # Relative to neutral in camera axes: turning about the vertical reads as pure yaw even when the
        # neutral head is pitched (a laptop camera above the screen).
        relative = rotation_from_angles(m["yaw"], m["pitch"], m["roll"]) @ self._neutral_rotation_t
        yaw, pitch, roll = angles_from_rotation(relative)
        aspect = lm.image_height / lm.image_width  # head_y counts face widths, which are fractions of width
        return {
            "head_yaw": yaw,
            "head_pitch": pitch,
            "head_roll": roll,
            "head_x": (m["center_x"] - c.center_x) / c.face_width,
            "head_y": -(m["center_y"] - c.center_y) * aspect / c.face_width,
            "head_scale": m["face_width"] / c.face_width,
        }

    def _eyes(self, m: dict[str, float], lm: Landmarks) -> dict[str, float]:
        c, k = self.calibration, self.config
        out = {}
        for side in ("left", "right"):
            neutral = getattr(c, f"eye_open_{side}")
            out[f"eye_blink_{side}"] = (neutral - m[f"eye_open_{side}"]) / (neutral * (1 - k.blink_closed))
        if lm.has_irises:
            out["gaze_x"] = (m["gaze_x"] - c.gaze_x) / k.gaze_range_x
            out["gaze_y"] = (m["gaze_y"] - c.gaze_y) / k.gaze_range_y
        else:  # without iris points there is no gaze to read: look ahead
            out["gaze_x"] = out["gaze_y"] = 0.0
        return out

    def _brows(self, m: dict[str, float]) -> dict[str, float]:
        c, k = self.calibration, self.config
        return {
            "brow_raise_left": (m["brow_left"] - c.brow_left) / k.brow_range,
            "brow_raise_right": (m["brow_right"] - c.brow_right) / k.brow_range,
            "brow_furrow": (1 - m["brow_gap"] / c.brow_gap) / k.furrow_range,
        }

    def _mouth(self, m: dict[str, float]) -> dict[str, float]:
        c, k = self.calibration, self.config
        opening = m["mouth_open"] - c.mouth_open
        # An open jaw lifts the corners relative to the lip centre by itself; only the rest is a smile.
        lift = m["mouth_corner"] - k.open_corner_lift * max(opening, 0.0) - c.mouth_corner
        widen = m["mouth_width"] / c.mouth_width - 1
        # A smile lifts and widens (half each); a frown only drops the corners, so the drop counts in full. A
        # narrower mouth is a pucker or pressed lips, not a frown.
        lift_weight = 0.5 if lift > 0 else 1.0
        smile = lift_weight * lift / k.smile_corner_range + 0.5 * max(widen, 0.0) / k.smile_width_range
        narrow = float(np.clip(-widen / k.funnel_narrow_range, 0.0, 1.0))
        rounder = float(np.clip((m["mouth_round"] - c.mouth_round) / k.funnel_round_range, 0.0, 1.0))
        return {
            "jaw_open": opening / k.jaw_range,
            "mouth_smile": smile,
            "mouth_funnel": narrow * rounder,
        }
