"""Mapper: face parameters and expression weights in, the generator's RigCode out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from avatar.errors import ConfigError
from avatar.expression.rig import FACE_FIELD_NAMES, N_FACE, REST, Expression, FaceParams, RigCode, sanitize


@dataclass(frozen=True)
class MapperConfig:
    """How strongly the user's face drives EmoteBot."""

    gain: float = 1.0  # scales every face field's deviation from rest (1 = as tracked)
    follow_head_position: bool = True  # False keeps EmoteBot centred (head_x, head_y, head_scale at rest)
    mirror: bool = False  # True flips left/right (for users who prefer a mirror-image avatar)

    def __post_init__(self) -> None:
        if not 0.0 <= self.gain <= 3.0:
            raise ConfigError(f"mapper.gain must be within 0..3, got {self.gain}")


_POSITION = np.array([n in ("head_x", "head_y", "head_scale") for n in FACE_FIELD_NAMES])
_MIRROR_NEGATE = np.array([n in ("head_yaw", "head_roll", "head_x", "gaze_x") for n in FACE_FIELD_NAMES])
_SWAPS = [("eye_blink_left", "eye_blink_right"), ("brow_raise_left", "brow_raise_right")]


class Mapper:
    """A pure stage: `process(face, weights) -> RigCode`."""

    def __init__(self, config: MapperConfig = MapperConfig()) -> None:
        self.config = config
        self._swap = np.arange(N_FACE)
        for a, b in _SWAPS:
            ia, ib = FACE_FIELD_NAMES.index(a), FACE_FIELD_NAMES.index(b)
            self._swap[ia], self._swap[ib] = ib, ia

    def process(self, face: FaceParams, weights: Mapping[Expression, float]) -> RigCode:
        rest = REST[:N_FACE]
        v = rest + (face.values - rest) * self.config.gain
        if not self.config.follow_head_position:
            v = np.where(_POSITION, rest, v)
        if self.config.mirror:
            v = np.where(_MIRROR_NEGATE, -v, v)[self._swap]
        code = RigCode.compose(FaceParams(v.astype(np.float32)), weights)
        return sanitize(code.values)[0]
