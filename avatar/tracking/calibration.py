"""The user's neutral face: the measurements (and blendshape scores) the solver reads every expression against."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from avatar.errors import ConfigError
from avatar.expression.rig import RIG_VERSION
from avatar.tracking.base import BLENDSHAPE_NAMES, Landmarks
from avatar.tracking.measure import MEASUREMENTS, measure

# 2 added brow_inner, neutral blendshape scores, per-user gains and the tracker that made the profile.
CALIBRATION_VERSION = 2

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
    "brow_inner": (0.0, 0.6),
    "brow_gap": (0.02, 0.6),
    "mouth_open": (0.0, 0.5),
    "mouth_width": (0.05, 1.0),
    "mouth_corner": (-0.2, 0.2),
    "mouth_round": (0.0, 2.0),
}

# Rig fields a per-user gain may scale (set by guided calibration or learnt online), and the allowed gains.
GAIN_FIELDS: tuple[str, ...] = (
    "eye_blink_left", "eye_blink_right", "gaze_x", "gaze_y", "brow_raise_left", "brow_raise_right",
    "brow_furrow", "jaw_open", "mouth_smile", "mouth_funnel",
)  # fmt: skip
GAIN_LIMITS = (0.25, 4.0)

# Median neutral blendshape scores over the neutral frames of eight fixture clips; the rest are 0.
_DEFAULT_BLENDSHAPES = {
    "browInnerUp": 0.12, "browOuterUpLeft": 0.08, "browOuterUpRight": 0.08, "eyeBlinkLeft": 0.12,
    "eyeBlinkRight": 0.12, "eyeLookDownLeft": 0.09, "eyeLookDownRight": 0.09, "eyeLookUpLeft": 0.1,
    "eyeLookUpRight": 0.1, "eyeSquintLeft": 0.35, "eyeSquintRight": 0.35, "mouthPressLeft": 0.03,
    "mouthPressRight": 0.03, "mouthRollLower": 0.02, "mouthShrugLower": 0.02,
}  # fmt: skip
DEFAULT_BLENDSHAPES: tuple[float, ...] = tuple(_DEFAULT_BLENDSHAPES.get(n, 0.0) for n in BLENDSHAPE_NAMES)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


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
    brow_left: float = 0.18  # brow height above the eye corners, face widths
    brow_right: float = 0.18
    brow_inner: float = 0.2  # inner brow ends above the inner eye corners, face widths
    brow_gap: float = 0.22  # inner brow ends apart, face widths
    mouth_open: float = 0.0  # inner-lip gap, face widths: lips together
    mouth_width: float = 0.36  # lip corners apart, face widths
    mouth_corner: float = -0.005  # lip corners against the lip centre, face widths
    mouth_round: float = 0.34  # outer-lip height / mouth width
    # Neutral score of each of the 52 blendshapes (BLENDSHAPE_NAMES order): faces differ at rest (squint, brows).
    blendshapes: tuple[float, ...] = DEFAULT_BLENDSHAPES
    # (rig field, gain) pairs: the user's own full range, from guided calibration; fields not listed use 1.
    gains: tuple[tuple[str, float], ...] = ()
    tracker: str = ""  # the back end that recorded it: "facemesh", "tasks" (or another registered) or "" (unknown)

    def __post_init__(self) -> None:
        for name, (low, high) in _LIMITS.items():
            value = getattr(self, name)
            if not _is_number(value) or not low <= value <= high:
                raise ConfigError(
                    f"calibration field {name!r} must be a number from {low:g} to {high:g}, got {value!r}"
                )
        shapes = self.blendshapes
        if len(shapes) != len(BLENDSHAPE_NAMES) or not all(_is_number(v) and 0 <= v <= 1 for v in shapes):
            raise ConfigError(f"calibration blendshapes must be {len(BLENDSHAPE_NAMES)} scores from 0 to 1")
        for field, gain in self.gains:
            if field not in GAIN_FIELDS:
                raise ConfigError(f"calibration gain for {field!r} is not allowed; allowed: {', '.join(GAIN_FIELDS)}")
            if not _is_number(gain) or not GAIN_LIMITS[0] <= gain <= GAIN_LIMITS[1]:
                raise ConfigError(f"calibration gain {field!r} must be a number from {GAIN_LIMITS[0]:g} to "
                                  f"{GAIN_LIMITS[1]:g}, got {gain!r}")
        if not isinstance(self.tracker, str) or not re.fullmatch(r"[a-z0-9_-]{0,32}", self.tracker):
            raise ConfigError(f"calibration tracker must be a tracker name such as facemesh or tasks; "
                              f"got {self.tracker!r}")

    @classmethod
    def default(cls) -> Calibration:
        """Population-average neutral.

        Shape values and blendshape scores are rounded medians over the neutral frames of eight fixture face
        clips; position and size assume a centred face at arm's length from a webcam.
        """
        return cls()

    @classmethod
    def from_landmarks(cls, samples: Sequence[Landmarks], tracker: str = "") -> Calibration:
        """The median of each measurement over a few seconds of the user holding a neutral face."""
        if not samples:
            raise ConfigError("calibration needs at least one frame with a face; none was given")
        measured = [measure(lm) for lm in samples]
        values = {name: float(np.median([m[name] for m in measured])) for name in MEASUREMENTS}
        with_shapes = [lm.blendshapes for lm in samples if lm.blendshapes is not None]
        shapes = tuple(float(v) for v in np.median(with_shapes, axis=0)) if with_shapes else DEFAULT_BLENDSHAPES
        return cls(**_clamped(values), blendshapes=shapes, tracker=tracker)

    def gain(self, field: str) -> float:
        return dict(self.gains).get(field, 1.0)

    def with_gains(self, gains: Mapping[str, float]) -> Calibration:
        """A copy whose gains are these (each clamped to GAIN_LIMITS)."""
        low, high = GAIN_LIMITS
        items = tuple((f, float(min(high, max(low, g)))) for f, g in sorted(gains.items()))
        return dataclasses.replace(self, gains=items)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"version": CALIBRATION_VERSION, "rig_version": RIG_VERSION, "tracker": self.tracker}
        out.update({name: round(float(getattr(self, name)), 6) for name in MEASUREMENTS})
        out["blendshapes"] = {n: round(float(v), 4) for n, v in zip(BLENDSHAPE_NAMES, self.blendshapes, strict=True)}
        out["gains"] = {f: round(float(g), 4) for f, g in self.gains}
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Calibration:
        """Read a profile written by to_dict; a malformed or mismatched one raises ConfigError naming the field."""
        if not isinstance(d, Mapping):
            raise ConfigError(f"a calibration profile is a JSON object, got {type(d).__name__}")
        if d.get("version") != CALIBRATION_VERSION:
            raise ConfigError(
                f"calibration field 'version' must be {CALIBRATION_VERSION}, got {d.get('version')!r}; "
                "run `emotebot calibrate` again to write a current profile"
            )
        if d.get("rig_version") != RIG_VERSION:
            raise ConfigError(f"calibration field 'rig_version' must be {RIG_VERSION}, got {d.get('rig_version')!r}"
                              "; run `emotebot calibrate` again")
        extra = {"version", "rig_version", "tracker", "blendshapes", "gains"}
        unknown = sorted(set(d) - set(MEASUREMENTS) - extra)
        if unknown:
            raise ConfigError(
                f"unknown calibration field(s) {', '.join(map(repr, unknown))}; "
                f"allowed: {', '.join([*MEASUREMENTS, *sorted(extra)])}"
            )
        missing = [name for name in MEASUREMENTS if name not in d]
        if missing:
            raise ConfigError(f"calibration field(s) {', '.join(map(repr, missing))} missing")
        return cls(**{name: d[name] for name in MEASUREMENTS}, blendshapes=_read_blendshapes(d.get("blendshapes")),
                   gains=_read_gains(d.get("gains")), tracker=d.get("tracker", ""))


def _clamped(values: dict[str, float]) -> dict[str, Any]:
    """Measurements held inside _LIMITS: an extreme face at calibration should not make an unusable profile."""
    return {k: min(_LIMITS[k][1], max(_LIMITS[k][0], v)) for k, v in values.items()}


def _read_blendshapes(value: Any) -> tuple[float, ...]:
    if value is None:
        return DEFAULT_BLENDSHAPES
    if not isinstance(value, Mapping):
        raise ConfigError("calibration field 'blendshapes' must be an object of {name: neutral score}")
    unknown = sorted(set(value) - set(BLENDSHAPE_NAMES))
    if unknown:
        raise ConfigError(f"calibration field 'blendshapes' names unknown blendshape(s) {', '.join(unknown)}")
    return tuple(value.get(n, 0.0) for n in BLENDSHAPE_NAMES)


def _read_gains(value: Any) -> tuple[tuple[str, float], ...]:
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise ConfigError("calibration field 'gains' must be an object of {rig field: gain}")
    return tuple(sorted(value.items()))


def profile_path(profile: str, directory: str | Path = "calibration") -> Path:
    """Where profile NAME lives: calibration/NAME.json; a path (with / or .json) is taken as it is."""
    if not profile or any(c in profile for c in "/\\") or profile.endswith(".json"):
        if not profile:
            raise ConfigError("a calibration profile needs a name, e.g. --profile me")
        return Path(profile).expanduser()
    return Path(directory) / f"{profile}.json"


def load_profile(path: str | Path) -> Calibration:
    """The profile in a JSON file, or a ConfigError that names the file and what is wrong with it."""
    p = Path(path).expanduser()
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise ConfigError(f"no calibration profile at {str(p)!r}; record one with `emotebot calibrate`") from e
    except OSError as e:
        raise ConfigError(f"cannot read calibration profile {str(p)!r}: {e.strerror}") from e
    except json.JSONDecodeError as e:
        raise ConfigError(f"calibration profile {str(p)!r} is not valid JSON (line {e.lineno}): {e.msg}") from e
    try:
        return Calibration.from_dict(data)
    except ConfigError as e:
        raise ConfigError(f"calibration profile {str(p)!r}: {e}") from e


def save_profile(calibration: Calibration, path: str | Path) -> Path:
    p = Path(path).expanduser()
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(calibration.to_dict(), indent=2) + "\n", encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot write calibration profile {str(p)!r}: {e.strerror}") from e
    return p
