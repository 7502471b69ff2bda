"""TOML configuration: every option loads, flags override, mistakes name the file, line and field."""

from __future__ import annotations

import pytest

from avatar.cli import _apply_flags, build_parser
from avatar.config import AppConfig, dump_config, load_config
from avatar.errors import ConfigError
from avatar.output.compositor import Background


def write(tmp_path, text: str):
    p = tmp_path / "emotebot.toml"
    p.write_text(text)
    return p


def test_dump_then_load_round_trips_every_option(tmp_path):
    config = AppConfig().override("compositor", background="chroma").override("output", sinks=["null"])
    again = load_config(write(tmp_path, dump_config(config)))
    assert again == config


def test_values_are_converted_to_field_types(tmp_path):
    text = '[source]\nsource = "script"\nfps = 25\n[compositor]\nbackground = "color"\n'
    cfg = load_config(write(tmp_path, text))
    assert cfg.source.fps == 25.0 and isinstance(cfg.source.fps, float)
    assert cfg.compositor.background is Background.COLOR


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[source]\nfps = 25\nfpz = 3\n", ["line 3", "source.fpz", "allowed:", "fps"]),
        ("[sauce]\nfps = 25\n", ["line 1", "unknown section [sauce]", "source"]),
        ("[compositor]\n\nbackground = \"plaid\"\n", ["line 3", "background", "transparent", "chroma"]),
        ("[source]\nfps = \"fast\"\n", ["line 2", "source.fps", "float"]),
        ("[source]\nfps = 900\n", ["source.fps", "1..240"]),
        ("[source\nfps = 1\n", ["not valid TOML", "line 1"]),
    ],
)
def test_malformed_config_names_file_line_and_field(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        load_config(path)
    message = str(e.value)
    assert str(path) in message
    for part in expected:
        assert part in message


def test_missing_config_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "nope.toml")


def test_flags_override_the_file(tmp_path):
    path = write(tmp_path, '[source]\nsource = "script"\nfps = 25\n[engine]\nsize = 128\n')
    args = build_parser().parse_args(["run", "--config", str(path), "--fps", "15", "--sink", "null",
                                      "--set", "mapper.gain=1.5", "--output-size", "640x360"])
    cfg = _apply_flags(args)
    assert cfg.source.source == "script" and cfg.source.fps == 15.0 and cfg.engine.size == 128
    assert cfg.output.sinks == ("null",) and cfg.mapper.gain == 1.5
    assert (cfg.compositor.width, cfg.compositor.height) == (640, 360)


def test_bad_flag_values_are_config_errors():
    for argv in (["run", "--set", "mapper.gain"], ["run", "--set", "nope.x=1"], ["run", "--fps", "abc"]):
        with pytest.raises(ConfigError):
            _apply_flags(build_parser().parse_args(argv))
