"""`emotebot calibrate` (face): record the user's neutral face and, optionally, guided extremes into a profile."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from avatar.capture.base import SourceConfig, SourceKind, open_source
from avatar.errors import ConfigError, SourceError
from avatar.frames import Frame
from avatar.tracking.base import Landmarks, TrackerConfig
from avatar.tracking.calibration import GAIN_LIMITS, Calibration
from avatar.tracking.solver import FaceSolver
from avatar.tracking.tracker import FaceTracker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Step:
    """One guided expression: what to ask for and which rig field(s) it stretches (sign: the direction)."""

    name: str
    prompt: str
    fields: tuple[str, ...]
    sign: float = 1.0


# Gaze: + is the user's own left (image right), so "look to your left" stretches gaze_x upwards.
GUIDED: tuple[Step, ...] = (
    Step("open mouth", "Open your mouth as wide as you comfortably can", ("jaw_open",)),
    Step("raise brows", "Raise your eyebrows as high as you can", ("brow_raise_left", "brow_raise_right")),
    Step("smile", "Smile broadly", ("mouth_smile",)),
    Step("look left", "Keep your head still; look to your left with your eyes", ("gaze_x",)),
    Step("look right", "Keep your head still; look to your right with your eyes", ("gaze_x",), -1.0),
)
_FULL = 0.95  # an extreme the user makes on request reads this much of the rig's range
_MIN_SEEN = 0.15  # a step whose field moved less than this did not happen (wrong face, no face)


@dataclass(frozen=True)
class CalibrateOptions:
    """How `emotebot calibrate` records."""

    source: str = "0"  # camera index or name, or a video of the user (neutral first, then the guided steps)
    tracker: TrackerConfig = TrackerConfig()
    neutral_s: float = 3.0  # seconds of neutral face
    guided: bool = False  # then ask for each extreme in GUIDED
    settle_s: float = 1.0  # after each prompt, time to get there before recording
    step_s: float = 2.0  # seconds recorded per guided step

    def __post_init__(self) -> None:
        for name in ("neutral_s", "settle_s", "step_s"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0 <= value <= 60 or (name == "neutral_s" and value <= 0):
                raise ConfigError(f"calibrate {name} must be a number of seconds from 0 to 60, got {value!r}")


Progress = Callable[[str, float], None]  # (what is being recorded, fraction done 0..1)


def _frames(options: CalibrateOptions) -> Iterator[Frame]:
    config = SourceConfig(source=options.source, realtime=False)
    if config.kind in (SourceKind.SCRIPT, SourceKind.IMAGE, SourceKind.FOLDER):
        raise ConfigError("calibrate records a moving face: give a camera (default 0) or a video of yourself")
    src = open_source(config)
    src.open()
    try:
        while (frame := src.read()) is not None:
            yield frame
    finally:
        src.close()


def _record(frames: Iterator[Frame], tracker: FaceTracker, start: float, seconds: float, label: str,
            progress: Progress) -> tuple[list[Landmarks], float, bool]:
    """Faces seen from media time `start` for `seconds`: them, the end time, and whether the source ran out."""
    faces: list[Landmarks] = []
    end = start + seconds
    ran_out = True
    for frame in frames:
        if frame.image is None:
            continue
        lm = tracker.process(frame.image, frame.t_media)
        if frame.t_media < start:
            continue
        if lm is not None:
            faces.append(lm)
        progress(label, min(0.99, (frame.t_media - start) / max(seconds, 1e-6)))  # 1.0 once, below
        if frame.t_media >= end:
            ran_out = False
            break
    progress(label, 1.0)
    return faces, end, ran_out


def _gain(step: Step, faces: list[Landmarks], solver: FaceSolver) -> dict[str, float]:
    """Gains that make this user's extreme read _FULL: the 90th percentile of the stretched field(s)."""
    if not faces:
        log.warning("no face during '%s': keeping the default range", step.name)
        return {}
    raw = np.array([[solver.read(lm).raw[f] for f in step.fields] for lm in faces]) * step.sign
    seen = np.percentile(raw, 90, axis=0)
    gains = {}
    for field, value in zip(step.fields, seen, strict=True):
        if value < _MIN_SEEN:
            log.warning("'%s' barely moved %s (%.2f): keeping its default range", step.name, field, value)
            continue
        gains[field] = float(np.clip(_FULL / value, *GAIN_LIMITS))
    return gains


def calibrate(options: CalibrateOptions, progress: Progress, prompt: Callable[[str], None]) -> Calibration:
    """Record the neutral face (and guided extremes) from the source; raise when no face was seen."""
    with FaceTracker(options.tracker) as tracker:
        frames = _frames(options)
        prompt("Look at the camera with a relaxed, neutral face")
        neutral, t, _ = _record(frames, tracker, 0.0, options.neutral_s, "neutral", progress)
        if len(neutral) < 3:
            raise SourceError(f"calibration saw a face in {len(neutral)} frame(s) of {options.neutral_s:g} s; "
                              "sit in front of the camera, in good light, and try again")
        cal = Calibration.from_landmarks(neutral, tracker=tracker.name)
        if not options.guided:
            return cal
        solver = FaceSolver(cal)
        gains: dict[str, float] = {}
        for step in GUIDED:
            prompt(step.prompt)
            faces, t, ran_out = _record(frames, tracker, t + options.settle_s, options.step_s, step.name, progress)
            for field, g in _gain(step, faces, solver).items():
                gains[field] = min(gains.get(field, g), g)  # two steps on one field (look left/right): the tighter
            if ran_out:
                log.warning("the source ended during '%s': the steps after it keep their default ranges", step.name)
                break
        return cal.with_gains(gains)
