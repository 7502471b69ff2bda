"""The application's configuration: one frozen dataclass per stage, loaded from TOML, overridden by flags."""

from __future__ import annotations

import dataclasses
import enum
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomllib

from avatar.capture.base import SourceConfig
from avatar.errors import ConfigError
from avatar.expression.mapper import MapperConfig
from avatar.expression.state import ExpressionConfig
from avatar.output.compositor import CompositorConfig
from avatar.pipeline import PipelineConfig
from avatar.runtime.engines import EngineConfig
from avatar.smoothing.smoother import SmootherConfig
from avatar.tracking.base import TrackerConfig
from avatar.tracking.mirror import MirrorConfig
from avatar.voice.config import VoiceConfig


@dataclass(frozen=True)
class OutputConfig:
    """Where EmoteBot goes."""

    sinks: tuple[str, ...] = ("vcam", "window")  # vcam[:DEVICE], window, file:PATH, y4m:PATH, browser[:PORT], null
    vcam_device: str = ""  # e.g. /dev/video10; empty = the back end's default device
    vcam_backend: str = ""  # v4l2loopback, obs, unitycapture; empty = try each in turn


@dataclass(frozen=True)
class AppConfig:
    """Every option of `emotebot run`, by section; the TOML file has the same sections and keys."""

    source: SourceConfig = field(default_factory=SourceConfig)
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    expression: ExpressionConfig = field(default_factory=ExpressionConfig)
    face_expression: MirrorConfig = field(default_factory=MirrorConfig)  # expression read from the face
    mapper: MapperConfig = field(default_factory=MapperConfig)
    smoother: SmootherConfig = field(default_factory=SmootherConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)
    compositor: CompositorConfig = field(default_factory=CompositorConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    voice: VoiceConfig = field(default_factory=VoiceConfig)  # spoken trigger words (microphone)

    def override(self, section: str, **values: Any) -> AppConfig:
        """A copy with some fields of one section replaced (each value converted and validated)."""
        current = getattr(self, section)
        hints = typing.get_type_hints(type(current))
        converted = {k: _convert(v, hints[k], f"{section}.{k}") for k, v in values.items()}
        return dataclasses.replace(self, **{section: dataclasses.replace(current, **converted)})


SECTIONS: dict[str, type] = {f.name: typing.get_type_hints(AppConfig)[f.name] for f in dataclasses.fields(AppConfig)}


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _convert(value: Any, tp: Any, where: str) -> Any:
    """A TOML or command-line value as the field's declared type, or a ConfigError naming the field."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if (value is None or value == "") and type(None) in args:
            return None  # TOML has no null: an empty string means "not set"
        inner = [a for a in args if a is not type(None)]
        return _convert(value, inner[0], where)
    if origin is tuple:
        if isinstance(value, str):
            value = [v for v in value.split(",") if v]
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where} must be a list, got {value!r}")
        item = args[0] if args else str
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(v, item, where) for v in value)
        if len(value) != len(args):
            raise ConfigError(f"{where} must hold {len(args)} values, got {value!r}")
        return tuple(_convert(v, a, where) for v, a in zip(value, args, strict=True))
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            allowed = ", ".join(str(e.value) for e in tp)
            raise ConfigError(f"{where} must be one of {allowed}; got {value!r}") from None
    if tp is bool:
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no", "on", "off"):
            return value.lower() in ("true", "1", "yes", "on")
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {value!r}")
        return value
    if tp in (int, float):
        if isinstance(value, bool):
            raise ConfigError(f"{where} must be a number, got {value!r}")
        try:
            number = tp(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where} must be {_type_name(tp)}, got {value!r}") from None
        if tp is int and isinstance(value, float) and not value.is_integer():
            raise ConfigError(f"{where} must be a whole number, got {value!r}")
        return number
    if tp is str:
        if not isinstance(value, str | int | float):
            raise ConfigError(f"{where} must be text, got {value!r}")
        return str(value)
    return value


def _line_of(text: str, section: str, key: str | None = None) -> int | None:
    """The line a section (or a key inside it) is written on, for error messages."""
    in_section = False
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if s.startswith("["):
            in_section = s.strip("[] ") == section
            if in_section and key is None:
                return n
        elif in_section and key is not None and re.match(rf"{re.escape(key)}\s*=", s):
            return n
    return None


def _build_section(name: str, table: Any, text: str, where: str) -> Any:
    cls = SECTIONS[name]
    if not isinstance(table, dict):
        raise ConfigError(f"{where}, line {_line_of(text, name)}: [{name}] must be a table of settings")
    hints = typing.get_type_hints(cls)
    allowed = [f.name for f in dataclasses.fields(cls)]
    values = {}
    for key, value in table.items():
        line = _line_of(text, name, key)
        if key not in allowed:
            raise ConfigError(f"{where}, line {line}: unknown setting {name}.{key}; allowed: {', '.join(allowed)}")
        try:
            values[key] = _convert(value, hints[key], f"{name}.{key}")
        except ConfigError as e:
            raise ConfigError(f"{where}, line {line}: {e}") from None
    try:
        return cls(**values)
    except ConfigError as e:
        raise ConfigError(f"{where}: {e}") from None


def load_config(path: str | Path | None) -> AppConfig:
    """The defaults, or a TOML file's settings over them; any mistake is a ConfigError with file and line."""
    if path is None:
        return AppConfig()
    p = Path(path).expanduser()
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot read config file {str(p)!r}: {e.strerror}") from e
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{p}: not valid TOML: {e}") from e
    sections = {}
    for name, table in data.items():
        if name not in SECTIONS:
            line = _line_of(text, name)
            raise ConfigError(f"{p}, line {line}: unknown section [{name}]; allowed: {', '.join(SECTIONS)}")
        sections[name] = _build_section(name, table, text, str(p))
    return AppConfig(**sections)


def dump_config(config: AppConfig) -> str:
    """The whole configuration as TOML, every option with its comment from the code."""
    lines = ["# EmoteBot configuration: every option, with its default. Use with `emotebot run --config FILE`."]
    for name in SECTIONS:
        section = getattr(config, name)
        lines.append(f"\n[{name}]")
        for f in dataclasses.fields(section):
            lines.append(f"{f.name} = {_toml_value(getattr(section, f.name))}")
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if value is None:
        return '""'
    return repr(value)
