"""Wires a configuration into devices, a processor and a pipeline, runs it, and reports its timing."""

from __future__ import annotations

import json
import logging
import os
import stat
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from avatar.capture.base import SourceKind, open_source
from avatar.config import AppConfig
from avatar.errors import ConfigError
from avatar.expression.events import TriggerEvent, TriggerSource
from avatar.expression.rig import Expression
from avatar.output.sinks import SinkKind, SinkOptions, build_sink, parse_sink_spec
from avatar.output.sinks.window import display_available
from avatar.pipeline import Pipeline
from avatar.processing import FrameProcessor, StageConfigs
from avatar.stats import RunStats, format_summary
from avatar.tracking.solver import Calibration

log = logging.getLogger(__name__)

def load_calibration(path: str | None) -> Calibration | None:
    """The profile at `path`, or None (the solver's defaults) when no path is given."""
    if not path:
        return None
    p = Path(path).expanduser()
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"cannot read calibration profile {str(p)!r}: {e.strerror}") from e
    except json.JSONDecodeError as e:
        raise ConfigError(f"calibration profile {str(p)!r} is not valid JSON (line {e.lineno}): {e.msg}") from e
    try:
        return Calibration.from_dict(data)
    except ConfigError as e:
        raise ConfigError(f"calibration profile {str(p)!r}: {e}; record a new one") from e


def _is_fifo(path: str) -> bool:
    try:
        return stat.S_ISFIFO(os.stat(path).st_mode)
    except OSError:
        return False


def offline(config: AppConfig) -> bool:
    """True when nothing live is involved: a file or script source into files only, so keep every frame."""
    if config.source.kind is SourceKind.CAMERA:
        return False
    for spec in map(parse_sink_spec, config.output.sinks):
        if spec.kind in (SinkKind.VCAM, SinkKind.WINDOW, SinkKind.BROWSER):
            return False
        if spec.kind is SinkKind.Y4M and spec.target and _is_fifo(spec.target):
            return False
    return True


def demo_config(config: AppConfig, explicit_sinks: bool, out: str) -> AppConfig:
    """The scripted performance into the preview window, or into a video file when there is no display."""
    config = config.override("source", source="script")
    if not explicit_sinks:
        sinks = ("window",) if display_available() else (f"file:{out}",)
        config = config.override("output", sinks=sinks)
    return config


def _prepare(config: AppConfig) -> AppConfig:
    if offline(config) and config.source.realtime:
        log.info("writing every frame: file outputs only, so no real-time pacing")
        config = config.override("source", realtime=False).override("pipeline", lossless=True)
    return config


def _sink_options(config: AppConfig, keys: list[Pipeline], extras: dict[str, Callable[[], object]]) -> SinkOptions:
    """Sink settings; hotkeys, typed words and the status page reach the pipeline (keys[0]) once it exists."""
    comp = config.compositor
    matte = comp.chroma if comp.background.value == "chroma" else comp.color
    # A virtual camera carries no alpha: a transparent background becomes chroma green, ready to key in OBS.
    vcam_matte = comp.chroma if comp.background.value == "transparent" else None

    def on_key(action: str) -> None:
        if keys:
            keys[0].action(action)

    def on_typed(action: str, word: str) -> None:
        if keys and action in {e.value for e in Expression}:
            keys[0].events.put(TriggerEvent(Expression.parse(action), keys[0].clock(), TriggerSource.TYPED, word))
        elif keys:
            keys[0].action(action, TriggerSource.TYPED)

    def status() -> dict[str, object]:
        return live_status(keys[0], extras) if keys else {}

    return SinkOptions(matte=matte, vcam_backend=config.output.vcam_backend or None, on_key=on_key,
                       vcam_matte=vcam_matte, on_typed=on_typed, status=status)


def live_status(pipeline: Pipeline, extras: dict[str, Callable[[], object]]) -> dict[str, object]:
    """What the control page shows; `extras` adds or replaces entries (the microphone sets "mic_level")."""
    stats, state = pipeline.stats, pipeline.processor.state
    interval_ms = stats.recent_ms("frame_interval")
    last = state.last_trigger
    status: dict[str, object] = {
        "fps": round(1000.0 / interval_ms, 1) if interval_ms > 0 else 0.0,
        "latency_ms": round(stats.recent_ms("end_to_end"), 1),  # capture → handed to the outputs
        "expression": state.target.value,
        "last_trigger": None if last is None else {
            "expression": last.expression.value, "word": last.word, "source": last.source.value},
        "mic_level": None,  # 0..1 while a microphone listens; None = no microphone
    }
    status.update({name: read() for name, read in extras.items()})
    return status


def build_pipeline(config: AppConfig, calibration: Calibration | None, stack: ExitStack) -> Pipeline:
    """Open the source and every sink (closed by `stack`) and connect them through a processor."""
    source = open_source(config.source)
    source.open()
    stack.callback(source.close)
    configs = StageConfigs(config.tracker, config.expression, config.mapper, config.smoother, config.engine,
                           config.compositor, face_expression=config.face_expression)
    processor = FrameProcessor(configs, calibration)
    stack.callback(processor.close)
    keys: list[Pipeline] = []  # filled below: hotkeys and the control page reach the pipeline built after it
    extras: dict[str, Callable[[], object]] = {}  # more live status for the control page, e.g. "mic_level"
    options = _sink_options(config, keys, extras)
    sinks = []
    for text in config.output.sinks:
        spec = parse_sink_spec(text)
        if spec.kind is SinkKind.VCAM and not spec.target and config.output.vcam_device:
            spec = parse_sink_spec(f"vcam:{config.output.vcam_device}")
        sink = build_sink(spec, options)
        sink.open(config.compositor.width, config.compositor.height, source.fps)
        stack.callback(sink.close)
        sinks.append(sink)
    pipeline = Pipeline(source, processor, sinks, config.pipeline)
    keys.append(pipeline)
    if config.voice.enabled and (config.voice.with_files or not offline(config)):
        from avatar.voice.live import start_listening

        listener = start_listening(config.voice, pipeline.events.put, stack, clock=pipeline.clock)
        if listener is not None:
            pipeline.mic_level = lambda: listener.level
            extras["mic_level"] = lambda: round(listener.level, 3)
    return pipeline


def run_app(config: AppConfig, calibration_path: str | None, json_summary: bool = False) -> RunStats:
    """Run until the source ends, a bound is reached, 'q' or Ctrl+C; print the timing summary."""
    config = _prepare(config)
    calibration = load_calibration(calibration_path)
    voice_profile = Path(calibration_path).with_suffix(".voice.json") if calibration_path else None
    if not config.voice.profile and voice_profile is not None and voice_profile.exists():
        config = config.override("voice", profile=str(voice_profile))  # `calibrate --voice` wrote it beside
    with ExitStack() as stack:
        pipeline = build_pipeline(config, calibration, stack)
        from avatar.voice.live import start_typed, typed_triggers_wanted

        if typed_triggers_wanted(config.voice):
            start_typed(config.voice, pipeline.events.put, pipeline.action)
        log.info("running: %s → %s (Ctrl+C to stop)", pipeline.source.name, ", ".join(config.output.sinks))
        try:
            stats = pipeline.run()
        finally:
            summary = pipeline.stats.summary()
            print(json.dumps(summary) if json_summary else format_summary(summary))
    return stats


def bench(config: AppConfig, calibration_path: str | None, frames: int) -> dict[str, float]:
    """Every stage timed on `frames` frames without pacing, into a null sink unless told otherwise."""
    if not any(s != "null" for s in config.output.sinks) or config.output.sinks == ("vcam", "window"):
        config = config.override("output", sinks=("null",))
    if config.source.kind is SourceKind.CAMERA and config.source.source == "0":
        config = config.override("source", source="script")
    config = config.override("source", realtime=False, loop=True).override("pipeline", lossless=True,
                                                                             max_frames=frames)
    config = config.override("voice", enabled=False)  # the microphone is not part of the frame timing
    with ExitStack() as stack:
        pipeline = build_pipeline(config, load_calibration(calibration_path), stack)
        stats = pipeline.run()
    result: dict[str, float] = {}
    for stage in ("capture", "tracking", "solver", "mapper", "smoother", "generator", "compositor", "sink"):
        samples = stats.series.get(stage)
        result[stage] = round(float(np.median(samples)) * 1000.0, 3) if samples else 0.0
    # Unpaced, every frame waits in a slot while the one before it is worked on; a live source at or below
    # the chain's rate does not wait, so end to end is capture→sink work; the queued figure is kept beside it.
    for key, series in (("end_to_end", "work"), ("queued_end_to_end", "end_to_end")):
        data = np.array(stats.series.get(series, [0.0]))
        result[f"{key}_p50"] = round(float(np.percentile(data, 50)) * 1000.0, 3)
        result[f"{key}_p99"] = round(float(np.percentile(data, 99)) * 1000.0, 3)
    result["fps"] = round(stats.fps, 2)
    result["frames"] = stats.frames_out
    result["faces_found"] = stats.faces_found
    return result
