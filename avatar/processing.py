"""The per-frame chain: tracking → solver → expression state → mapper → smoother → generator → compositor."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from avatar.errors import SourceError
from avatar.expression.events import TriggerEvent
from avatar.expression.idle import idle_face
from avatar.expression.mapper import Mapper, MapperConfig
from avatar.expression.rig import Expression, FaceParams, RigCode
from avatar.expression.state import ExpressionConfig, ExpressionState
from avatar.frames import Frame, Image
from avatar.output.compositor import Compositor, CompositorConfig
from avatar.output.hud import HudInfo
from avatar.runtime.engines import EngineConfig, HeadEngine, make_engine
from avatar.smoothing.smoother import Smoother, SmootherConfig
from avatar.tracking.base import Landmarks, TrackerConfig
from avatar.tracking.calibration import Calibration
from avatar.tracking.mirror import MirrorConfig, MirrorSmoother
from avatar.tracking.reader import FaceReader

log = logging.getLogger(__name__)

_PRESENCE_EASE_S = 0.5  # how long the avatar takes to ease to idle when the face is lost, and back
_CALIBRATION_FRAMES = 20  # neutral-face frames averaged by the 'c' hotkey


@dataclass(frozen=True)
class StageConfigs:
    """The configuration of every stage the processor runs."""

    tracker: TrackerConfig = TrackerConfig()
    expression: ExpressionConfig = ExpressionConfig()
    mapper: MapperConfig = MapperConfig()
    smoother: SmootherConfig = SmootherConfig()
    engine: EngineConfig = EngineConfig()
    compositor: CompositorConfig = CompositorConfig()
    face_expression: MirrorConfig = MirrorConfig()  # expression read from the face ("mirror" mode)


class FrameProcessor:
    """Runs one frame through every stage, recording each stage's time on the frame."""

    def __init__(
        self,
        configs: StageConfigs,
        calibration: Calibration | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.configs, self.clock = configs, clock
        # Made on the first image (scripted sources need none). Without a profile it learns the user's neutral
        # face and ranges online (running medians), so the avatar starts centred and sensible within a second.
        self._reader: FaceReader | None = None
        self._calibration = calibration
        self._mirror = MirrorSmoother(configs.face_expression)
        self._face_expression: dict[Expression, float] | None = None
        self.state = ExpressionState(configs.expression)
        self.mapper = Mapper(configs.mapper)
        self.smoother = Smoother(configs.smoother)
        self.engine: HeadEngine = make_engine(configs.engine)
        self.compositor = Compositor(configs.compositor)
        self._held = FaceParams.rest()  # last tracked face, held while the face is lost
        self._presence = 0.0  # 1 = following the face, 0 = idle animation
        self._t_last: float | None = None
        self._calibrating: list[Landmarks] | None = None
        self._bad_frames: set[str] = set()  # tracker errors already logged
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
        if self._reader is None:
            self._reader = FaceReader(self.configs.tracker, self._calibration,
                                      mirror_config=self.configs.face_expression)
        t0 = self.clock()
        try:
            lm = self._reader.track(frame.image, frame.t_media)
        except SourceError as e:  # a frame the tracker cannot take (too small, say): no face in it, logged once
            if str(e) not in self._bad_frames:
                self._bad_frames.add(str(e))
                log.warning("frame %d: %s; treated as no face", frame.index, e)
            lm = None
        t0 = self._timed(frame, "tracking", t0)
        if lm is None:
            self._face_expression = self._mirror.step(None, frame.t_media)
            return
        self._learn_neutral(self._reader, lm)
        read = self._reader.solve(lm, frame.t_media)
        frame.params = read.reading.params if read.reading is not None else None
        frame.face_found = frame.params is not None
        self._face_expression = self._mirror.step(read.expression, frame.t_media)
        self._timed(frame, "solver", t0)

    def _learn_neutral(self, reader: FaceReader, lm: Landmarks) -> None:
        """The 'c' hotkey: the next frames with a face become the user's neutral (online learning stops)."""
        if self._calibrating is None:
            return
        self._calibrating.append(lm)
        if len(self._calibrating) >= _CALIBRATION_FRAMES:
            reader.set_calibration(Calibration.from_landmarks(self._calibrating, tracker=reader.backend))
            self._calibrating = None
            log.info("calibrated to your neutral face")

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
        weights = self.state.step(frame.events + events, frame.t_media, face=self._face_expression)
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
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        self.engine.close()
