"""The whole face reading: track one face, solve it against a calibration (fixed or learnt), read its expression."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from avatar.expression.rig import Expression
from avatar.frames import Image
from avatar.tracking.base import Landmarks, TrackerConfig
from avatar.tracking.calibration import Calibration
from avatar.tracking.follow import FollowConfig
from avatar.tracking.mirror import ExpressionReader, MirrorConfig
from avatar.tracking.normaliser import NormaliserConfig, OnlineNormaliser
from avatar.tracking.solver import FaceReading, FaceSolver, SolverConfig
from avatar.tracking.tracker import FaceTracker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FaceRead:
    """One frame's reading: all None when no face was found."""

    landmarks: Landmarks | None
    reading: FaceReading | None
    expression: dict[Expression, float] | None  # weights read from the face (always computed; cheap)


class FaceReader:
    """Tracker + solver + online normaliser + expression reader, with the calibration logic in one place.

    With a calibration profile the solver reads against it. Without one, an OnlineNormaliser learns the
    user's neutral (and ranges) from running medians; a single photo has no history, so still images are read
    against the population default instead.
    """

    def __init__(
        self,
        tracker_config: TrackerConfig | None = None,
        calibration: Calibration | None = None,
        solver_config: SolverConfig | None = None,
        normaliser_config: NormaliserConfig | None = None,
        tracker: FaceTracker | None = None,
        mirror_config: MirrorConfig | None = None,
    ) -> None:
        self.tracker_config = tracker_config if tracker_config is not None else TrackerConfig()
        self.tracker = tracker if tracker is not None else FaceTracker(self.tracker_config, FollowConfig())
        self.solver_config = solver_config if solver_config is not None else SolverConfig()
        self.solver = FaceSolver(calibration, self.solver_config)
        online = calibration is None and not self.tracker_config.static_images
        self.normaliser = OnlineNormaliser(normaliser_config, tracker=self.tracker.name) if online else None
        self.expressions = ExpressionReader(mirror_config)
        if calibration is not None and calibration.tracker and calibration.tracker != self.tracker.name:
            log.warning("the calibration profile was recorded with the %s tracker and is read with %s: the "
                        "neutral still applies, but per-user ranges may be off; run `emotebot calibrate` again",
                        calibration.tracker, self.tracker.name)

    @property
    def backend(self) -> str:
        return self.tracker.name

    @property
    def calibration(self) -> Calibration:
        return self.solver.calibration

    def set_calibration(self, calibration: Calibration) -> None:
        """Read against this calibration from now on (online learning stops)."""
        self.solver = FaceSolver(calibration, self.solver_config)
        self.normaliser = None

    def track(self, image: Image, t: float) -> Landmarks | None:
        return self.tracker.process(image, t)

    def solve(self, lm: Landmarks, t: float) -> FaceRead:
        """Read one tracked face at media time `t`; the normaliser learns from it for the frames after."""
        reading = self.solver.read(lm)
        expression = self.expressions.process(reading.cues)
        if self.normaliser is not None:
            # Until the user's neutral is known (the first ~0.4 s) cues are measured against a population
            # average, which reads many resting faces as sad or cross: show neutral rather than guess.
            if self.normaliser.calibration is None:
                expression = {e: float(e is Expression.NEUTRAL) for e in expression}
            learnt = self.normaliser.step(lm, reading.raw, t)
            if learnt is not None and learnt is not self.solver.calibration:
                self.solver = FaceSolver(learnt, self.solver_config)
        return FaceRead(lm, reading, expression)

    def process(self, image: Image, t: float) -> FaceRead:
        lm = self.track(image, t)
        return self.solve(lm, t) if lm is not None else FaceRead(None, None, None)

    def close(self) -> None:
        self.tracker.close()
