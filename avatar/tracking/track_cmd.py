"""`emotebot track SOURCE --out F.jsonl`: what the tracking stage reads from a video, an image or a folder."""

from __future__ import annotations

import dataclasses
import itertools
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from avatar.capture.base import SourceConfig, SourceKind, open_source
from avatar.capture.files import read_image
from avatar.errors import ConfigError, SourceError
from avatar.expression.rig import FaceParams
from avatar.frames import Frame
from avatar.trackfile import TrackRecord, write_track
from avatar.tracking.base import BLENDSHAPE_NAMES, TrackerConfig
from avatar.tracking.calibration import Calibration
from avatar.tracking.reader import FaceRead, FaceReader

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrackOptions:
    """What `emotebot track` reads with and writes."""

    tracker: TrackerConfig = TrackerConfig()  # back end and detection settings
    calibration: Calibration | None = None  # None: learnt online for videos, the default for still images
    landmarks: bool = False  # add every landmark ([x, y, z], MediaPipe's normalised coordinates) to each line
    max_frames: int | None = None  # stop after this many frames (a camera runs until Ctrl+C otherwise)


@dataclass(frozen=True)
class TrackSummary:
    frames: int
    faces: int
    backend: str


def _frames(source: str, max_frames: int | None) -> Iterator[Frame]:
    """Every frame of the source once: a video to its end, an image once, a folder in sorted name order."""
    config = SourceConfig(source=source, realtime=False)
    if config.kind is SourceKind.SCRIPT:
        raise ConfigError("track reads real faces: give a video, an image, a folder of images or a camera")
    if config.kind is SourceKind.IMAGE:
        path = Path(source).expanduser()
        if not path.exists():
            raise SourceError(f"source {source!r} does not exist; give a video, an image, a folder or a camera")
        yield Frame(0, 0.0, 0.0, image=read_image(path))
        return
    src = open_source(config)
    src.open()
    try:
        n = 0
        while max_frames is None or n < max_frames:
            frame = src.read()
            if frame is None:
                return
            yield frame
            n += 1
    finally:
        src.close()


def _record(frame: Frame, read: FaceRead, landmarks: bool) -> TrackRecord:
    if read.reading is None or read.landmarks is None:
        return TrackRecord(frame.t_media, frame.index, False, FaceParams.rest())
    extra: dict[str, Any] = {}
    if landmarks:
        extra["landmarks"] = [[round(float(v), 6) for v in p] for p in read.landmarks.points]
    if read.landmarks.blendshapes is not None:
        extra["blendshapes"] = {n: round(float(v), 5) for n, v in zip(BLENDSHAPE_NAMES, read.landmarks.blendshapes,
                                                                       strict=True)}
    return TrackRecord(frame.t_media, frame.index, True, read.reading.params, read.expression or {}, extra)


def _still_aware(source: str, tracker: TrackerConfig) -> TrackerConfig:
    """Stills are detected one by one: tracking from one unrelated photo to the next would carry faces over."""
    if SourceConfig(source=source).kind in (SourceKind.IMAGE, SourceKind.FOLDER) and not tracker.static_images:
        return dataclasses.replace(tracker, static_images=True)
    return tracker


def track_records(source: str, options: TrackOptions, summary: dict[str, Any] | None = None) -> Iterator[TrackRecord]:
    """One TrackRecord per frame; `summary` (if given) receives "backend", "frames" and "faces" as it goes."""
    info = summary if summary is not None else {}
    info.update(backend="", frames=0, faces=0)
    frames = _frames(source, options.max_frames)
    first = next(frames, None)  # the source opens before the tracker loads: a bad path fails fast
    if first is None:
        return
    reader = FaceReader(_still_aware(source, options.tracker), options.calibration)
    info["backend"] = reader.backend
    warned: set[str] = set()
    try:
        for frame in itertools.chain([first], frames):
            record = _record(frame, _read(reader, frame, warned), options.landmarks)
            info["frames"] += 1
            info["faces"] += int(record.face)
            yield record
    finally:
        reader.close()


def _read(reader: FaceReader, frame: Frame, warned: set[str]) -> FaceRead:
    """A frame the tracker cannot take (too small, say) is logged once and recorded as faceless."""
    if frame.image is None:
        return FaceRead(None, None, None)
    try:
        return reader.process(frame.image, frame.t_media)
    except SourceError as e:
        if str(e) not in warned:
            warned.add(str(e))
            log.warning("frame %d: %s; recorded without a face", frame.index, e)
        return FaceRead(None, None, None)


def run_track(source: str, out: IO[str], options: TrackOptions) -> TrackSummary:
    """Write the source's track lines to `out`; the summary says how many frames had a face."""
    info: dict[str, Any] = {}
    write_track(track_records(source, options, info), out)
    return TrackSummary(info.get("frames", 0), info.get("faces", 0), info.get("backend", ""))
