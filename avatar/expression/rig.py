"""The rig contract (version 1): the one definition of every field the stages exchange."""

from __future__ import annotations

import enum
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from avatar.errors import RigError

log = logging.getLogger(__name__)

RIG_VERSION = 1


class Expression(enum.Enum):
    """The closed set of expressions EmoteBot can show."""

    NEUTRAL = "neutral"
    HAPPY = "happy"
    SAD = "sad"
    SURPRISED = "surprised"
    ANGRY = "angry"

    @classmethod
    def parse(cls, name: str) -> Expression:
        try:
            return cls(name.strip().lower())
        except ValueError:
            allowed = ", ".join(e.value for e in cls)
            raise RigError(f"unknown expression {name!r}; allowed: {allowed}") from None


EXPRESSIONS: tuple[Expression, ...] = tuple(Expression)


@dataclass(frozen=True)
class FieldSpec:
    """One rig field: its name, allowed range, resting value and meaning."""

    name: str
    low: float
    high: float
    rest: float
    meaning: str


# Face fields: what the solver reads from a face (FaceParams). Left/right are the user's own. The camera
# faces the user, so the user's left is the image's right, and EmoteBot (facing the viewer) uses the same
# convention: no mirroring anywhere, "+x" is image right for head_x, head_yaw, head_roll and gaze_x.
FACE_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("head_yaw", -45.0, 45.0, 0.0, "degrees, + = turn to the user's own left (nose to image right)"),
    FieldSpec("head_pitch", -45.0, 45.0, 0.0, "degrees, look up (+) / down (-)"),
    FieldSpec("head_roll", -60.0, 60.0, 0.0, "degrees, + = tilt to the user's left shoulder (top to image right)"),
    FieldSpec("head_x", -1.0, 1.0, 0.0, "offset from neutral in face widths, + = user's left (image right)"),
    FieldSpec("head_y", -1.0, 1.0, 0.0, "face centre offset from neutral in face widths, + = up"),
    FieldSpec("head_scale", 0.5, 2.0, 1.0, "face size relative to neutral"),
    FieldSpec("eye_blink_left", 0.0, 1.0, 0.0, "0 open .. 1 closed"),
    FieldSpec("eye_blink_right", 0.0, 1.0, 0.0, "0 open .. 1 closed"),
    FieldSpec("gaze_x", -1.0, 1.0, 0.0, "+ = eyes towards the user's left (image right)"),
    FieldSpec("gaze_y", -1.0, 1.0, 0.0, "eyes down (-) / up (+)"),
    FieldSpec("brow_raise_left", -1.0, 1.0, 0.0, "-1 lowered .. 1 raised"),
    FieldSpec("brow_raise_right", -1.0, 1.0, 0.0, "-1 lowered .. 1 raised"),
    FieldSpec("brow_furrow", 0.0, 1.0, 0.0, "brows drawn together"),
    FieldSpec("jaw_open", 0.0, 1.0, 0.0, "0 closed .. 1 wide open"),
    FieldSpec("mouth_smile", -1.0, 1.0, 0.0, "-1 frown .. 1 smile"),
    FieldSpec("mouth_funnel", 0.0, 1.0, 0.0, "'O' / pucker"),
)

EXPRESSION_FIELDS: tuple[FieldSpec, ...] = tuple(
    FieldSpec(e.value, 0.0, 1.0, 1.0 if e is Expression.NEUTRAL else 0.0, "expression weight; weights sum to 1")
    for e in Expression
)

RIG_FIELDS: tuple[FieldSpec, ...] = FACE_FIELDS + EXPRESSION_FIELDS
FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in RIG_FIELDS)
FACE_FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in FACE_FIELDS)
FIELD_INDEX: dict[str, int] = {name: i for i, name in enumerate(FIELD_NAMES)}
N_FACE = len(FACE_FIELDS)
N_FIELDS = len(RIG_FIELDS)

LOW = np.array([f.low for f in RIG_FIELDS], dtype=np.float32)
HIGH = np.array([f.high for f in RIG_FIELDS], dtype=np.float32)
REST = np.array([f.rest for f in RIG_FIELDS], dtype=np.float32)


def _check_names(values: Mapping[str, float], allowed: tuple[str, ...], what: str) -> None:
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise RigError(f"unknown {what} field(s) {', '.join(unknown)}; valid fields: {', '.join(allowed)}")


@dataclass(frozen=True)
class FaceParams:
    """The 16 face fields read from one frame, as a float32 vector in FACE_FIELDS order."""

    values: np.ndarray  # (N_FACE,) float32

    @classmethod
    def rest(cls) -> FaceParams:
        return cls(REST[:N_FACE].copy())

    @classmethod
    def from_dict(cls, values: Mapping[str, float]) -> FaceParams:
        _check_names(values, FACE_FIELD_NAMES, "face")
        vec = REST[:N_FACE].copy()
        for name, value in values.items():
            vec[FIELD_INDEX[name]] = value
        return cls(vec)

    def to_dict(self) -> dict[str, float]:
        return {name: round(float(v), 5) for name, v in zip(FACE_FIELD_NAMES, self.values, strict=True)}

    def __getitem__(self, name: str) -> float:
        return float(self.values[FIELD_INDEX[name]])


@dataclass(frozen=True)
class RigCode:
    """Everything the generator draws: face fields then expression weights, float32, RIG_FIELDS order."""

    values: np.ndarray  # (N_FIELDS,) float32

    @classmethod
    def rest(cls) -> RigCode:
        return cls(REST.copy())

    @classmethod
    def compose(cls, face: FaceParams, weights: Mapping[Expression, float]) -> RigCode:
        vec = REST.copy()
        vec[:N_FACE] = face.values
        w = np.array([max(0.0, float(weights.get(e, 0.0))) for e in Expression], dtype=np.float32)
        vec[N_FACE:] = _normalise_weights(w)
        return cls(vec)

    @classmethod
    def from_dict(cls, values: Mapping[str, float], *, warn: bool = True) -> RigCode:
        """Build a code from field names; missing fields rest, unknown ones are refused, others clamped."""
        code, report = parse_code(values)
        if warn and report:
            log.warning("rig code adjusted: %s", report)
        return code

    def to_dict(self) -> dict[str, float]:
        return {name: round(float(v), 5) for name, v in zip(FIELD_NAMES, self.values, strict=True)}

    @property
    def face(self) -> FaceParams:
        return FaceParams(self.values[:N_FACE].copy())

    @property
    def weights(self) -> dict[Expression, float]:
        return {e: float(self.values[N_FACE + i]) for i, e in enumerate(Expression)}

    @property
    def dominant(self) -> Expression:
        return EXPRESSIONS[int(np.argmax(self.values[N_FACE:]))]

    def __getitem__(self, name: str) -> float:
        return float(self.values[FIELD_INDEX[name]])

    def replace(self, **fields: float) -> RigCode:
        """A copy with some fields changed (then clamped); expression weights are renormalised."""
        _check_names(fields, FIELD_NAMES, "rig")
        vec = self.values.copy()
        for name, value in fields.items():
            vec[FIELD_INDEX[name]] = value
        return sanitize(vec)[0]


def _normalise_weights(w: np.ndarray) -> np.ndarray:
    total = float(w.sum())
    if not math.isfinite(total) or total <= 1e-6:
        return REST[N_FACE:].copy()
    return (w / total).astype(np.float32)


def sanitize(vec: np.ndarray) -> tuple[RigCode, str]:
    """Clamp to the field ranges, replace NaN/inf by the rest value, renormalise weights.

    Returns the code and a short report of what changed ("" when nothing did), so callers can warn once.
    """
    vec = np.asarray(vec, dtype=np.float32).reshape(-1)
    if vec.shape[0] != N_FIELDS:
        raise RigError(f"a rig code has {N_FIELDS} values (rig version {RIG_VERSION}), got {vec.shape[0]}")
    out = vec.copy()
    notes = []
    bad = ~np.isfinite(out)
    if bad.any():
        notes.append("non-finite " + ", ".join(FIELD_NAMES[i] for i in np.flatnonzero(bad)) + " set to rest")
        out[bad] = REST[bad]
    clamped = np.clip(out, LOW, HIGH)
    moved = np.flatnonzero(np.abs(clamped - out) > 1e-6)
    if moved.size:
        notes.append("clamped " + ", ".join(f"{FIELD_NAMES[i]}={out[i]:g}" for i in moved))
    clamped[N_FACE:] = _normalise_weights(clamped[N_FACE:])
    return RigCode(clamped), "; ".join(notes)


def parse_code(values: Mapping[str, float]) -> tuple[RigCode, str]:
    """A code from field names, and a report of what was clamped; unknown fields raise RigError.

    Missing face fields take their rest value. A code naming some expression weights means those (the others
    are 0); one naming none is neutral.
    """
    _check_names(values, FIELD_NAMES, "rig")
    vec = REST.copy()
    if any(FIELD_INDEX[name] >= N_FACE for name in values):
        vec[N_FACE:] = 0.0
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise RigError(f"rig field {name!r} must be a number, got {value!r}")
        vec[FIELD_INDEX[name]] = float(value)
    return sanitize(vec)
