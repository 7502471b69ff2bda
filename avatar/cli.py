"""The `emotebot` command line."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from avatar import __version__
from avatar.errors import ConfigError, EmoteBotError
from avatar.generator.commands import add_build_engine_parser, add_train_generator_parser
from avatar.runtime.engines import ENGINES
from avatar.smoothing.commands import add_smooth_parser, add_train_smoother_parser
from avatar.tracking.commands import (
    add_calibrate_args,
    add_models_parser,
    add_track_parser,
    calibration_arg,
    cmd_calibrate_face,
)
from avatar.voice.commands import (
    add_calibrate_voice_args,
    add_listen_parser,
    add_voice_flags,
    apply_voice_flags,
    cmd_calibrate_voice,
)

log = logging.getLogger("emotebot")

# Flags shared by run, demo and bench: (flag, section, field, help). One table, so no flag set is repeated.
_STAGE_FLAGS: tuple[tuple[str, str, str, str], ...] = (
    ("--source", "source", "source", "camera index or name (camera:NAME), video, image, folder, or 'script'"),
    ("--width", "source", "width", "requested camera width"),
    ("--height", "source", "height", "requested camera height"),
    ("--fps", "source", "fps", "requested camera rate / rate of image and scripted sources"),
    ("--engine", "engine", "engine", "head engine: reference (the studio renderer), or the neural generator on "
     "onnx, torch, tensorrt or auto (fastest available)"),
    ("--size", "engine", "size", "head image size in pixels (default 256)"),
    ("--background", "compositor", "background", "transparent, color, chroma or image"),
    ("--background-image", "compositor", "image_path", "image file for --background image"),
    ("--output-size", "compositor", "", "output frame size WxH (default 1280x720)"),
    ("--smoothing", "smoother", "method", "gru (default), one-euro or none"),
    ("--transition", "expression", "transition_s", "seconds an expression switch takes"),
    ("--vcam-device", "output", "vcam_device", "virtual camera device, e.g. /dev/video10"),
    ("--vcam-backend", "output", "vcam_backend", "pyvirtualcam back end: v4l2loopback, obs, unitycapture"),
    ("--max-frames", "pipeline", "max_frames", "stop after N frames"),
    ("--tracker", "tracker", "backend", "face tracker: auto (Tasks if engines/ has its model), facemesh, tasks"),
    ("--face-model", "tracker", "face_model", "face_landmarker.task for the Tasks tracker (default: engines/)"),
    ("--duration", "pipeline", "duration_s", "stop after S seconds"),
)


def _add_stage_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE", help="TOML file with any option (see `emotebot config`)")
    for flag, _, _, help_text in _STAGE_FLAGS:
        p.add_argument(flag, default=None, help=help_text)
    p.add_argument("--sink", action="append", metavar="SPEC",
                   help="output, repeatable: vcam[:DEVICE], window, file:PATH, y4m:PATH, browser[:PORT], null")
    p.add_argument("--hud", action="store_true", default=None, help="draw fps, latency and expression")
    p.add_argument("--loop", action="store_true", default=None, help="restart a video file at its end")
    p.add_argument("--fast", action="store_true", default=None,
                   help="files and scripts as fast as possible, every frame kept (no real-time pacing)")
    p.add_argument("--calibration", metavar="FILE", help="calibration profile (JSON) of the user's neutral face")
    p.add_argument("--profile", metavar="NAME", help="calibration/NAME.json, written by `emotebot calibrate`")
    p.add_argument("--calibration-dir", default="calibration", help=argparse.SUPPRESS)
    p.add_argument("--face-expression", action="store_true", default=None,
                   help="EmoteBot's expression follows yours (triggers still override it)")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="set any config option, repeatable")
    add_voice_flags(p)


def _apply_flags(args: argparse.Namespace):  # -> AppConfig
    from avatar.config import load_config

    config = load_config(args.config)
    for flag, section, key, _ in _STAGE_FLAGS:
        value = getattr(args, flag.lstrip("-").replace("-", "_"))
        if value is None:
            continue
        if flag == "--output-size":
            w, _, h = value.lower().partition("x")
            config = config.override("compositor", width=w, height=h)
        else:
            config = config.override(section, **{key: value})
    if args.sink:
        config = config.override("output", sinks=tuple(args.sink))
    if args.hud:
        config = config.override("pipeline", hud=True)
    if args.loop:
        config = config.override("source", loop=True)
    if args.face_expression:
        config = config.override("face_expression", enabled=True)
    if args.fast:
        config = config.override("source", realtime=False).override("pipeline", lossless=True)
    config = apply_voice_flags(config, args)
    return apply_sets(config, args.set)


def apply_sets(config, items: Sequence[str]):  # (AppConfig, ["SECTION.KEY=VALUE"]) -> AppConfig
    """The --set items applied in order; a mistake names the item and what is allowed."""
    for item in items:
        name, eq, value = item.partition("=")
        section, dot, key = name.strip().partition(".")
        if not eq or not dot:
            raise ConfigError(f"--set takes SECTION.KEY=VALUE, got {item!r}")
        from avatar.config import SECTIONS

        if section not in SECTIONS:
            raise ConfigError(f"--set: unknown section {section!r}; allowed: {', '.join(SECTIONS)}")
        fields = [f.name for f in dataclasses.fields(SECTIONS[section])]
        if key not in fields:
            raise ConfigError(f"--set: unknown setting {section}.{key}; allowed: {', '.join(fields)}")
        config = config.override(section, **{key: value.strip()})
    return config


def _cmd_run(args: argparse.Namespace) -> int:
    from avatar.app import run_app

    config = _apply_flags(args)
    run_app(config, calibration_arg(args), json_summary=False)
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from avatar.app import demo_config, run_app

    config = demo_config(_apply_flags(args), explicit_sinks=bool(args.sink), out=args.out)
    run_app(config, calibration_arg(args), json_summary=False)
    for spec in config.output.sinks:
        if spec.startswith("file:"):
            print(f"demo video written to {Path(spec[5:]).resolve()}")
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from avatar.app import bench

    result = bench(_apply_flags(args), calibration_arg(args), frames=args.frames)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for k, v in result.items():
            print(f"{k:>16}: {v}")
    return 0


def _cmd_render(args: argparse.Namespace) -> int:
    from avatar.render import render_codes

    n = render_codes(args.codes, args.out, engine=args.engine, size=args.size,
                     output_size=args.output_size, background=args.background, fps=args.fps)
    print(f"rendered {n} frame(s) to {args.out}")
    return 0


def _cmd_devices(args: argparse.Namespace) -> int:
    from avatar.devices import describe_devices

    print(describe_devices())
    return 0


def _cmd_doctor(args: argparse.Namespace) -> int:
    from avatar.config import load_config
    from avatar.doctor import format_report, run_checks, run_will_work

    config = load_config(args.config)
    if args.source is not None:
        config = config.override("source", source=args.source)
    if args.sink:
        config = config.override("output", sinks=tuple(args.sink))
    checks = run_checks(config)
    if args.json:
        print(json.dumps([{**dataclasses.asdict(c), "status": c.status.value} for c in checks], indent=2))
    else:
        print(format_report(checks, config))
    return 0 if run_will_work(checks) else 1


def _cmd_config(args: argparse.Namespace) -> int:
    from avatar.config import dump_config

    print(dump_config(_apply_flags(args)), end="")
    return 0


def _cmd_calibrate(args: argparse.Namespace) -> int:
    if args.voice:
        return cmd_calibrate_voice(args)
    return cmd_calibrate_face(args)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="emotebot", description="Your webcam face drives EmoteBot, a robot avatar "
                                "for calls and streams (virtual camera, window, file).")
    p.add_argument("--version", action="version", version=f"emotebot {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="more logging")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = sub.add_parser("run", help="drive EmoteBot live from a camera (or a file) into the outputs")
    _add_stage_flags(run)
    run.set_defaults(func=_cmd_run)

    demo = sub.add_parser("demo", help="a scripted 10 s performance: no webcam needed")
    _add_stage_flags(demo)
    demo.add_argument("--out", default="demo.mp4", help="video file when there is no display (demo.mp4)")
    demo.set_defaults(func=_cmd_demo)

    bench = sub.add_parser("bench", help="time every stage without real-time pacing")
    _add_stage_flags(bench)
    bench.add_argument("--frames", type=int, default=150, help="frames to time (default 150)")
    bench.add_argument("--json", action="store_true", help="print JSON")
    bench.set_defaults(func=_cmd_bench)

    render = sub.add_parser("render", help="draw rig codes (JSON Lines) into images or a video")
    render.add_argument("codes", help="JSON Lines file: one object of rig fields per line")
    render.add_argument("--out", required=True, help="a folder (PNG per code) or a video file (.mp4, .avi)")
    render.add_argument("--engine", default="reference", choices=ENGINES,
                        help="reference (the studio renderer), or the generator on onnx, torch, tensorrt, auto")
    render.add_argument("--size", type=int, default=256, help="head size in pixels")
    render.add_argument("--output-size", default="", help="WxH: place the head by its pose in a frame this "
                        "size (default: the head image alone)")
    render.add_argument("--background", default="transparent", help="transparent, color or chroma")
    render.add_argument("--fps", type=float, default=30.0, help="frame rate of a video output")
    render.set_defaults(func=_cmd_render)

    devices = sub.add_parser("devices", help="list cameras, microphones and virtual camera back ends")
    devices.set_defaults(func=_cmd_devices)

    doctor = sub.add_parser("doctor", help="check cameras, microphone, virtual camera, GPU, models and display; "
                            "exit status 0 when `run` will work")
    doctor.add_argument("--config", metavar="FILE", help="check the run this TOML file describes")
    doctor.add_argument("--source", default=None, help="check this source instead of the configured one")
    doctor.add_argument("--sink", action="append", metavar="SPEC", help="check these outputs (repeatable)")
    doctor.add_argument("--json", action="store_true", help="print JSON")
    doctor.set_defaults(func=_cmd_doctor)

    add_track_parser(sub)
    calibrate = sub.add_parser("calibrate", help="record your neutral face (and with --guided your ranges) into "
                               "calibration/PROFILE.json")
    add_calibrate_args(calibrate)
    add_calibrate_voice_args(calibrate)
    calibrate.set_defaults(func=_cmd_calibrate)
    add_listen_parser(sub)
    add_models_parser(sub)
    add_smooth_parser(sub)
    train = sub.add_parser("train", help="train one of EmoteBot's models (needs pip install -e '.[train]')")
    train_sub = train.add_subparsers(dest="model", metavar="MODEL", required=True)
    add_train_smoother_parser(train_sub)  # other models add their own `train NAME` here
    add_train_generator_parser(train_sub)
    add_build_engine_parser(sub)

    config = sub.add_parser("config", help="print the full configuration (defaults, file, flags) as TOML")
    _add_stage_flags(config)
    config.set_defaults(func=_cmd_config)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="emotebot: %(message)s", stream=sys.stderr)
    for noisy in ("absl", "PIL", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return int(args.func(args))
    except EmoteBotError as e:
        print(f"emotebot: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("emotebot: stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
