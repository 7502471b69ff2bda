"""Wires a configuration into devices, a processor and a pipeline, runs it, and reports its timing."""

from __future__ import annotations

import json
import logging
import os
import stat
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from avatar.capture.base import SourceKind, open_source
from avatar.config import AppConfig
from avatar.errors import ConfigError
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
        if spec.kind in (SinkKind.VCAM, SinkKind.WINDOW):
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


def _sink_options(config: AppConfig, on_key) -> SinkOptions:
    comp = config.compositor
    matte = comp.chroma if comp.background.value == "chroma" else comp.color
    return SinkOptions(matte=matte, vcam_backend=config.output.vcam_backend or None, on_key=on_key)


def build_pipeline(config: AppConfig, calibration: Calibration | None, stack: ExitStack) -> Pipeline:
    """Open the source and every sink (closed by `stack`) and connect them through a processor."""
    source = open_source(config.source)
    source.open()
    stack.callback(source.close)
    configs = StageConfigs(config.tracker, config.expression, config.mapper, config.smoother, config.engine,
                           config.compositor)
    processor = FrameProcessor(configs, calibration)
    stack.callback(processor.close)
    keys: list[Pipeline] = []  # filled below: the window's hotkeys reach the pipeline built after it

    def on_key(action: str) -> None:
        if keys:
            keys[0].action(action)

    options = _sink_options(config, on_key)
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
    return pipeline


def run_app(config: AppConfig, calibration_path: str | None, json_summary: bool = False) -> RunStats:
    """Run until the source ends, a bound is reached, 'q' or Ctrl+C; print the timing summary."""
    config = _prepare(config)
    calibration = load_calibration(calibration_path)
    with ExitStack() as stack:
        pipeline = build_pipeline(config, calibration, stack)
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
