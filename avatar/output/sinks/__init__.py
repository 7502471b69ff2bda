"""Outputs: the Sink protocol, spec parsing and open_sink(), which builds and opens the sink a spec names."""

from __future__ import annotations

from avatar.output.sinks.base import (
    SPEC_FORMS,
    Sink,
    SinkKind,
    SinkOptions,
    SinkSpec,
    parse_sink_spec,
)
from avatar.output.sinks.file import FileSink
from avatar.output.sinks.null import NullSink
from avatar.output.sinks.vcam import VirtualCameraSink
from avatar.output.sinks.window import HOTKEYS, WindowSink, display_available
from avatar.output.sinks.y4m import Y4mSink

__all__ = [
    "HOTKEYS",
    "SPEC_FORMS",
    "FileSink",
    "NullSink",
    "Sink",
    "SinkKind",
    "SinkOptions",
    "SinkSpec",
    "VirtualCameraSink",
    "WindowSink",
    "Y4mSink",
    "build_sink",
    "display_available",
    "open_sink",
    "parse_sink_spec",
]


def build_sink(spec: SinkSpec, options: SinkOptions) -> Sink:
    """The sink a spec names, not yet opened."""
    kind = spec.kind
    if kind is SinkKind.NULL:
        return NullSink()
    if kind is SinkKind.WINDOW:
        return WindowSink(options.window_title, options.on_key)
    if kind is SinkKind.FILE:
        return FileSink(str(spec.target), options.matte)
    if kind is SinkKind.Y4M:
        return Y4mSink(str(spec.target), options.matte)
    if kind is SinkKind.BROWSER:
        from avatar.output.browser import BrowserSink  # its server is only needed when asked for

        return BrowserSink(spec.target, options)
    return VirtualCameraSink(spec.target, options.vcam_backend, options.vcam_matte or options.matte)


def open_sink(
    spec: SinkSpec, width: int, height: int, fps: float, options: SinkOptions | None = None
) -> Sink:
    """Build the sink a spec names and open it at width×height and fps; raises SinkError/ConfigError."""
    sink = build_sink(spec, options or SinkOptions())
    sink.open(width, height, fps)
    return sink
