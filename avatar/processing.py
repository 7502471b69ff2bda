"""The per-frame chain: tracking → solver → expression state → mapper → smoother → generator → compositor."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from avatar.expression.events import TriggerEvent
from avatar.expression.idle import idle_face
from avatar.expression.mapper import Mapper, MapperConfig
from avatar.expression.rig import FaceParams, RigCode
from avatar.expression.state import ExpressionConfig, ExpressionState
from avatar.frames import Frame, Image
from avatar.output.compositor import Compositor, CompositorConfig
from avatar.output.hud import HudInfo
from avatar.runtime.engines import EngineConfig, HeadEngine, make_engine
from avatar.smoothing.smoother import Smoother, SmootherConfig
from avatar.tracking.facemesh import FaceMeshTracker, Landmarks, TrackerConfig
from avatar.tracking.solver import Calibration, FaceSolver

log = logging.getLogger(__name__)

_PRESENCE_EASE_S = 0.5  # how long the avatar takes to ease to idle when the face is lost, and back
_CALIBRATION_FRAMES = 20  # neutral-face frames averaged by the 'c' hotkey
_AUTO_FRAMES = 15  # without a profile: the first frames with a face set where "centre" and "size 1" are


@dataclass(frozen=True)
class StageConfigs:
    """The configuration of every stage the processor runs."""

    tracker: TrackerConfig = TrackerConfig()
    expression: ExpressionConfig = ExpressionConfig()
    mapper: MapperConfig = MapperConfig()
    smoother: SmootherConfig = SmootherConfig()
    engine: EngineConfig = EngineConfig()
    compositor: CompositorConfig = CompositorConfig()


class FrameProcessor:
    """Runs one frame through every stage, recording each stage's time on the frame."""

    def __init__(
        self,
        configs: StageConfigs,
        calibration: Calibration | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.configs, self.clock = configs, clock
        self._tracker: FaceMeshTracker | None = None  # made on the first image: scripted sources need none
        self.solver = FaceSolver(calibration)
        self.state = ExpressionState(configs.expression)
        self.mapper = Mapper(configs.mapper)
        self.smoother = Smoother(configs.smoother)
        self.engine: HeadEngine = make_engine(configs.engine)
        self.compositor = Compositor(configs.compositor)
        self._held = FaceParams.rest()  # last tracked face, held while the face is lost
        self._presence = 0.0  # 1 = following the face, 0 = idle animation
        self._t_last: float | None = None
        self._calibrating: list[Landmarks] | None = None
        # Without a profile, where the user sits is learnt from their first half second: people sit off-centre
        # and at any distance, and the avatar should not start half out of the frame. Shape stays default.
        self._auto_position: list[Landmarks] | None = [] if calibration is None else None
        self.last_code = RigCode.rest()

    def request_calibration(self) -> None:
        """Take the next frames with a face as the user's neutral face."""
        self._calibrating = []
        log.info("calibrating: look at the camera with a relaxed, neutral face")

    def _timed(self, frame: Frame, stage: str, t0: float) -> float:
        t1 = self.clock()
        frame.timings[stage] = frame.timings.get(stage, 0.0) + (t1 - t0)
        return t1

    def _track(self, frame: Frame) -> None:
        if frame.image is None or frame.params is not None:
            return
        if self._tracker is None:
            self._tracker = FaceMeshTracker(self.configs.tracker)
        t0 = self.clock()
        lm = self._tracker.process(frame.image)
        t0 = self._timed(frame, "tracking", t0)
        if lm is None:
            return
        self._learn_neutral(lm)
        frame.params = self.solver.process(lm)
        frame.face_found = True
        self._timed(frame, "solver", t0)

    def _learn_neutral(self, lm: Landmarks) -> None:
        if self._calibrating is not None:
            self._calibrating.append(lm)
            if len(self._calibrating) >= _CALIBRATION_FRAMES:
                self.solver = FaceSolver(Calibration.from_landmarks(self._calibrating))
                self._calibrating = self._auto_position = None
                log.info("calibrated to your neutral face")
        elif self._auto_position is not None:
            self._auto_position.append(lm)
            if len(self._auto_position) >= _AUTO_FRAMES:
                seen = Calibration.from_landmarks(self._auto_position)
                where = {k: getattr(seen, k) for k in ("center_x", "center_y", "face_width")}
                self.solver = FaceSolver(dataclasses.replace(self.solver.calibration, **where))
                self._auto_position = None

    def _face_or_idle(self, frame: Frame) -> FaceParams:
        """Follow the face while it is there; ease to the idle animation when it is lost, and back."""
        t = frame.t_media
        dt = 0.0 if self._t_last is None else min(max(t - self._t_last, 0.0), 0.5)
        self._t_last = t
        if frame.params is not None and frame.face_found:
            self._held = frame.params
            self._presence = min(1.0, self._presence + dt / _PRESENCE_EASE_S) if dt else 1.0
        else:
            self._presence = max(0.0, self._presence - dt / _PRESENCE_EASE_S)
        p = self._presence
        if p >= 1.0:
            return self._held
        idle = idle_face(t).values
        return FaceParams((p * self._held.values + (1.0 - p) * idle).astype(np.float32))

    def process(self, frame: Frame, events: list[TriggerEvent], hud: HudInfo | None) -> Image:
        """The composited RGBA output for this frame."""
        self._track(frame)
        t0 = self.clock()
        face = self._face_or_idle(frame)
        weights = self.state.step(frame.events + events, frame.t_media)
        code = self.mapper.process(face, weights)
        t0 = self._timed(frame, "mapper", t0)
        code = self.smoother.step(code, frame.t_media)
        self.last_code = code
        t0 = self._timed(frame, "smoother", t0)
        head = self.engine.render(code)
        t0 = self._timed(frame, "generator", t0)
        out = self.compositor.process(head, code, hud)
        self._timed(frame, "compositor", t0)
        return out

    def close(self) -> None:
        if self._tracker is not None:
            self._tracker.close()
            self._tracker = None
        self.engine.close()
