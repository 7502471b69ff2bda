"""The user's neutral face: the measurements the solver reads every expression relative to."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from avatar.errors import ConfigError
from avatar.tracking.facemesh import Landmarks
from avatar.tracking.measure import MEASUREMENTS, measure

CALIBRATION_VERSION = 1

# Plausible neutral values; anything outside is a broken profile, not an unusual face.
_LIMITS: dict[str, tuple[float, float]] = {
    "yaw": (-60.0, 60.0),
    "pitch": (-60.0, 60.0),
    "roll": (-60.0, 60.0),
    "center_x": (-0.5, 1.5),
    "center_y": (-0.5, 1.5),
    "face_width": (0.01, 3.0),
    "eye_open_left": (0.02, 1.0),
    "eye_open_right": (0.02, 1.0),
    "gaze_x": (-1.0, 1.0),
    "gaze_y": (-1.0, 1.0),
    "brow_left": (0.0, 0.6),
    "brow_right": (0.0, 0.6),
    "brow_gap": (0.02, 0.6),
    "mouth_open": (0.0, 0.5),
    "mouth_width": (0.05, 1.0),
    "mouth_corner": (-0.2, 0.2),
    "mouth_round": (0.0, 2.0),
}


@dataclass(frozen=True)
class Calibration:
    """Neutral value of every raw measurement (see avatar.tracking.measure.MEASUREMENTS for the units)."""

    yaw: float = 0.0  # degrees: the pose the user calls "straight ahead"
    pitch: float = -5.0  # faces looking into a camera read about -5° in the landmark frame
    roll: float = 0.0
    center_x: float = 0.5  # face centre, normalised image coordinates
    center_y: float = 0.5
    face_width: float = 0.3  # fraction of the image width: a face at arm's length from a webcam
    eye_open_left: float = 0.33  # lid gap / eye width with the eyes relaxed and open
    eye_open_right: float = 0.33
    gaze_x: float = 0.0  # iris offset looking at the screen, half eye widths
    gaze_y: float = 0.15  # the iris sits a little above the line of the eye corners
    brow_left: float = 0.185  # brow height above the eye corners, face widths
    brow_right: float = 0.185
    brow_gap: float = 0.225  # inner brow ends apart, face widths
    mouth_open: float = 0.0  # inner-lip gap, face widths: lips together
    mouth_width: float = 0.37  # lip corners apart, face widths
    mouth_corner: float = -0.005  # lip corners against the lip centre, face widths
    mouth_round: float = 0.34  # outer-lip height / mouth width

    def __post_init__(self) -> None:
        for name, (low, high) in _LIMITS.items():
            value = getattr(self, name)
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            if not ok or not low <= value <= high:
                raise ConfigError(
                    f"calibration field {name!r} must be a number from {low:g} to {high:g}, got {value!r}"
                )

    @classmethod
    def default(cls) -> Calibration:
        """Population-average neutral.

        Shape values are rounded medians over the neutral frames of seven fixture face clips; position and
        size assume a centred face at arm's length from a webcam.
        """
        return cls()

    @classmethod
    def from_landmarks(cls, samples: Sequence[Landmarks]) -> Calibration:
        """The median of each measurement over a few seconds of the user holding a neutral face."""
        if not samples:
            raise ConfigError("calibration needs at least one frame with a face; none was given")
        measured = [measure(lm) for lm in samples]
        return cls(**{name: float(np.median([m[name] for m in measured])) for name in MEASUREMENTS})

    def to_dict(self) -> dict[str, Any]:
        return {"version": CALIBRATION_VERSION, **{name: round(float(v), 6) for name, v in self._items()}}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Calibration:
        """Read a profile written by to_dict; a malformed one raises ConfigError naming the field."""
        if not isinstance(d, Mapping):
            raise ConfigError(f"a calibration profile is a JSON object, got {type(d).__name__}")
        if d.get("version") != CALIBRATION_VERSION:
            raise ConfigError(
                f"calibration field 'version' must be {CALIBRATION_VERSION}, got {d.get('version')!r}; "
                "run `emotebot calibrate` again to write a current profile"
            )
        unknown = sorted(set(d) - set(MEASUREMENTS) - {"version"})
        if unknown:
            raise ConfigError(
                f"unknown calibration field(s) {', '.join(map(repr, unknown))}; "
                f"allowed: {', '.join(MEASUREMENTS)}"
            )
        missing = [name for name in MEASUREMENTS if name not in d]
        if missing:
            raise ConfigError(f"calibration field(s) {', '.join(map(repr, missing))} missing")
        return cls(**{name: d[name] for name in MEASUREMENTS})

    def _items(self) -> list[tuple[str, float]]:
        return [(f.name, getattr(self, f.name)) for f in dataclasses.fields(self)]
