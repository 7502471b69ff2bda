"""Landmarks to FaceParams: every face field of the rig, relative to the user's calibrated neutral face."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from avatar.errors import ConfigError
from avatar.expression.rig import FACE_FIELD_NAMES, FIELD_INDEX, HIGH, LOW, N_FACE, REST, FaceParams
from avatar.tracking.base import Landmarks
from avatar.tracking.blend import BlendConfig, blend_fields
from avatar.tracking.calibration import Calibration
from avatar.tracking.cues import FaceCues, from_blendshapes, from_geometry
from avatar.tracking.measure import angles_from_rotation, measure, rotation_from_angles

__all__ = ["Calibration", "FaceReading", "FaceSolver", "SolverConfig"]


@dataclass(frozen=True)
class SolverConfig:
    """How far each measurement must move from neutral to reach a full-scale rig value (all > 0).

    Defaults were read off the fixture clips: a wide-open mouth, a grin, a full blink, a hard sideways look.
    """

    blink_closed: float = 0.1  # eye openness of a closed eye as a fraction of neutral (lids never quite meet)
    blink_dead: float = 0.2  # blink amount ignored: looking down lowers the upper lids about this much
    gaze_range_x: float = 0.45  # iris offset in half eye widths that reads as gaze_x = ±1
    gaze_range_y: float = 0.3  # same for gaze_y; lids hide the iris sooner vertically
    brow_range: float = 0.035  # brow height change in face widths that reads as brow_raise = ±1
    furrow_drop_range: float = 0.035  # inner-brow drop (face widths) for brow_furrow = 1
    furrow_range: float = 0.15  # fraction by which the inner brows close up for brow_furrow = 1
    jaw_range: float = 0.35  # inner-lip gap in face widths for jaw_open = 1
    smile_corner_range: float = 0.035  # corner lift (face widths) worth half a full smile, or a full frown
    smile_width_range: float = 0.3  # mouth widening (fraction of neutral) that counts as the other half
    open_corner_lift: float = 0.11  # corners rise this much per unit of jaw opening without any smile
    funnel_narrow_range: float = 0.3  # mouth narrowing (fraction of neutral) for mouth_funnel = 1
    funnel_round_range: float = 0.15  # rise in roundness that tells a narrow "O" from pressed lips
    use_blendshapes: bool = True  # eyes, brows and mouth from blendshapes when the tracker gives them (Tasks)
    blend: BlendConfig = BlendConfig()  # ranges of the blendshape scores

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            if f.name in ("use_blendshapes", "blend"):
                continue
            value = getattr(self, f.name)
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            if not ok or value <= 0:
                raise ConfigError(f"solver {f.name} must be a number > 0, got {value!r}")
        for name in ("blink_closed", "blink_dead"):
            if getattr(self, name) >= 1:
                raise ConfigError(f"solver {name} must be below 1 (a fraction), got {getattr(self, name)}")


@dataclass(frozen=True)
class FaceReading:
    """Everything read from one face: the rig's face fields and the FACS-style cues behind expressions."""

    params: FaceParams  # relative to the calibration, scaled by its per-user gains, clamped to the rig
    cues: FaceCues
    raw: FaceParams  # before per-user gains and unclamped (what calibration and the normaliser learn ranges from)


_FACE_REST = REST[:N_FACE]
_LOW, _HIGH = LOW[:N_FACE], HIGH[:N_FACE]


class FaceSolver:
    """A pure function of (landmarks, calibration): measure, compare with neutral, clamp to the rig.

    Geometry gives every field from either back end; with the Tasks back end the eyes, brows and mouth come
    from its blendshapes instead (and the head pose from its transform, see measure.py).
    """

    def __init__(self, calibration: Calibration | None = None, config: SolverConfig = SolverConfig()) -> None:
        self.calibration = calibration if calibration is not None else Calibration.default()
        self.config = config
        c = self.calibration
        self._neutral_rotation_t = rotation_from_angles(c.yaw, c.pitch, c.roll).T
        self._gains = np.ones(N_FACE, dtype=np.float32)
        for name, gain in c.gains:
            self._gains[FIELD_INDEX[name]] = gain

    @staticmethod
    def measure(lm: Landmarks) -> dict[str, float]:
        """Raw geometric measurements (see avatar.tracking.measure.MEASUREMENTS); no calibration involved."""
        return measure(lm)

    def process(self, lm: Landmarks) -> FaceParams:
        return self.read(lm).params

    def read(self, lm: Landmarks) -> FaceReading:
        """The face fields and the cues of one face."""
        m = measure(lm)
        values = {**self._head(m, lm), **self._eyes(m, lm), **self._brows(m), **self._mouth(m)}
        cues = from_geometry(m, self.calibration, self._clamped(values))
        if lm.blendshapes is not None and self.config.use_blendshapes:
            geometric_funnel = values["mouth_funnel"]
            values.update(blend_fields(lm.blendshapes, self.calibration.blendshapes, self.config.blend))
            # MediaPipe scores pursed lips well but a wide-open "O" hardly at all; the lip shape shows both.
            values["mouth_funnel"] = max(values["mouth_funnel"], geometric_funnel)
            cues = from_blendshapes(lm.blendshapes, self.calibration, cues)
        vec = self._vector(values)
        gained = _FACE_REST + (vec - _FACE_REST) * self._gains  # the user's own ranges, when calibrated
        raw = FaceParams(vec.astype(np.float32))
        return FaceReading(FaceParams(np.clip(gained, _LOW, _HIGH).astype(np.float32)), cues, raw)

    @staticmethod
    def _vector(values: dict[str, float]) -> np.ndarray:
        vec = _FACE_REST.copy()
        for name in FACE_FIELD_NAMES:
            vec[FIELD_INDEX[name]] = values[name]
        bad = ~np.isfinite(vec)
        vec[bad] = _FACE_REST[bad]
        return vec

    def _clamped(self, values: dict[str, float]) -> dict[str, float]:
        vec = np.clip(self._vector(values), _LOW, _HIGH)
        return {name: float(vec[FIELD_INDEX[name]]) for name in FACE_FIELD_NAMES}

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
            closing = (neutral - m[f"eye_open_{side}"]) / (neutral * (1 - k.blink_closed))
            out[f"eye_blink_{side}"] = (closing - k.blink_dead) / (1 - k.blink_dead)
        if lm.has_irises:
            out["gaze_x"] = (m["gaze_x"] - c.gaze_x) / k.gaze_range_x
            out["gaze_y"] = (m["gaze_y"] - c.gaze_y) / k.gaze_range_y
        else:  # without iris points there is no gaze to read: look ahead
            out["gaze_x"] = out["gaze_y"] = 0.0
        return out

    def _brows(self, m: dict[str, float]) -> dict[str, float]:
        c, k = self.calibration, self.config
        # A frown mostly lowers the inner brows; how far they close up counts less, because a broad smile
        # also narrows the measured gap (it widens the cheeks the gap is divided by).
        drop = max(0.0, (c.brow_inner - m["brow_inner"]) / k.furrow_drop_range)
        closing = max(0.0, (1 - m["brow_gap"] / c.brow_gap) / k.furrow_range)
        return {
            "brow_raise_left": (m["brow_left"] - c.brow_left) / k.brow_range,
            "brow_raise_right": (m["brow_right"] - c.brow_right) / k.brow_range,
            "brow_furrow": 0.7 * drop + 0.3 * closing,
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
