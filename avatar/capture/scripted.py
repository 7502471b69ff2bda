"""A scripted performance: no camera, a timeline of poses and expressions on top of idle motion."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from avatar.capture.base import Clock, Pacer, Sleep, SourceConfig
from avatar.expression.events import TriggerEvent, TriggerSource
from avatar.expression.idle import idle_face
from avatar.expression.rig import FIELD_INDEX, HIGH, LOW, Expression, FaceParams
from avatar.expression.state import ease
from avatar.frames import Frame


@dataclass(frozen=True)
class Beat:
    """From time `t` on: say `word` (switch expression), and move towards `pose` (added to idle motion)."""

    t: float
    expression: Expression
    pose: dict[str, float] = field(default_factory=dict)
    talk: bool = False  # speech-like jaw motion during this beat


DEMO_PERFORMANCE: tuple[Beat, ...] = (
    Beat(0.0, Expression.NEUTRAL, {"head_yaw": -22.0}, talk=True),
    Beat(1.0, Expression.NEUTRAL, {"head_yaw": 22.0, "gaze_x": 0.6}),
    Beat(2.0, Expression.HAPPY, {"head_roll": 10.0, "mouth_smile": 0.4}, talk=True),
    Beat(4.0, Expression.SURPRISED, {"head_pitch": 12.0, "jaw_open": 0.5, "head_scale": 1.08}),
    Beat(5.8, Expression.SAD, {"head_pitch": -14.0, "head_roll": -8.0, "gaze_y": -0.5}),
    Beat(7.6, Expression.ANGRY, {"head_yaw": -10.0, "brow_furrow": 0.4}, talk=True),
    Beat(9.3, Expression.NEUTRAL, {"head_x": 0.0}),
)

_POSE_EASE_S = 0.6


def performance_face(t: float, beats: tuple[Beat, ...] = DEMO_PERFORMANCE) -> FaceParams:
    """Idle motion plus the beats' poses, eased from one beat to the next; pure."""
    v = idle_face(t).values.copy()
    prev: dict[str, float] = {}
    current: Beat | None = None
    for beat in beats:
        if beat.t <= t:
            prev, current = (current.pose if current else {}), beat
    if current is not None:
        k = ease((t - current.t) / _POSE_EASE_S)
        for name in set(prev) | set(current.pose):
            a, b = prev.get(name, 0.0), current.pose.get(name, 0.0)
            v[FIELD_INDEX[name]] += a + (b - a) * k
        if current.talk:
            syllables = max(0.0, math.sin(2 * math.pi * 3.7 * t)) * (0.5 + 0.5 * math.sin(2 * math.pi * 0.9 * t))
            v[FIELD_INDEX["jaw_open"]] += 0.45 * syllables
    n = len(v)
    return FaceParams(np.clip(v, LOW[:n], HIGH[:n]).astype(np.float32))


class ScriptedSource:
    """Frames carrying ready-made face params and the script's trigger events (no image, no tracking)."""

    def __init__(
        self, config: SourceConfig, clock: Clock, sleep: Sleep, beats: tuple[Beat, ...] = DEMO_PERFORMANCE
    ) -> None:
        self.config, self.clock, self.beats = config, clock, beats
        self.name, self.fps = "scripted performance", config.fps
        self._pacer = Pacer(clock, sleep) if config.realtime else None
        self._index = 0
        self._n = round(config.script_seconds * config.fps)

    def open(self) -> None:
        self._index = 0

    def read(self) -> Frame | None:
        if self._index >= self._n:
            return None
        t_media = self._index / self.fps
        if self._pacer is not None:
            self._pacer.wait(t_media)
        t_prev = (self._index - 1) / self.fps
        events = [
            TriggerEvent(b.expression, b.t, TriggerSource.SCRIPT, word=b.expression.value)
            for b in self.beats
            if t_prev < b.t <= t_media or (self._index == 0 and b.t == 0.0)
        ]
        t0 = self.clock()
        frame = Frame(self._index, t0, t_media, params=performance_face(t_media, self.beats))
        frame.timings["capture"] = self.clock() - t0
        frame.face_found = True
        frame.events = events
        self._index += 1
        return frame

    def close(self) -> None:
        self._index = self._n
