"""Command-line glue for `emotebot track`, `emotebot calibrate` (face) and `emotebot models`: flags in, calls out."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

from avatar.errors import ConfigError

_TRACKERS = ("auto", "facemesh", "tasks")


def add_tracker_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tracker", choices=_TRACKERS, default=None,
                   help="face tracker: auto (Tasks when a face_landmarker.task is there, else FaceMesh), "
                        "facemesh or tasks")
    p.add_argument("--face-model", metavar="PATH", default=None,
                   help="face_landmarker.task for the Tasks tracker (default: engines/face_landmarker.task)")
    p.add_argument("--max-faces", type=int, default=None,
                   help="faces looked at per frame; EmoteBot follows the largest, most central one")


def tracker_config(args: argparse.Namespace):  # -> TrackerConfig
    """The [tracker] section of --config (if given) with the tracker flags over it."""
    from avatar.tracking.base import TrackerBackend, TrackerConfig

    base = TrackerConfig()
    if getattr(args, "config", None):  # the full config pulls in every stage: only when a file is given
        from avatar.config import load_config

        base = load_config(args.config).tracker
    values: dict[str, Any] = {}
    if args.tracker is not None:
        values["backend"] = TrackerBackend(args.tracker)
    if args.face_model is not None:
        values["face_model"] = args.face_model
    if args.max_faces is not None:
        values["max_faces"] = args.max_faces
    return dataclasses.replace(base, **values)


def calibration_arg(args: argparse.Namespace) -> str | None:
    """The profile file `run` reads: --calibration FILE, or --profile NAME (calibration/NAME.json)."""
    from avatar.tracking.calibration import profile_path

    calibration, profile = getattr(args, "calibration", None), getattr(args, "profile", None)
    if calibration and profile:
        raise ConfigError("give --calibration FILE or --profile NAME, not both")
    return str(profile_path(profile, args.calibration_dir)) if profile else calibration


def add_track_parser(sub: argparse._SubParsersAction) -> None:
    track = sub.add_parser("track", help="read faces from a video, image or folder into JSON Lines (one per frame)")
    track.add_argument("source", help="a video, an image, a folder of images (sorted by name) or a camera index")
    track.add_argument("--out", required=True, help="JSON Lines file to write ('-' for standard output)")
    track.add_argument("--landmarks", action="store_true", help="add every landmark [x, y, z] to each line")
    track.add_argument("--config", metavar="FILE", help="TOML file whose [tracker] section is used")
    add_tracker_args(track)
    track.add_argument("--calibration", metavar="FILE", help="calibration profile (default: learnt online; "
                       "the population default for still images)")
    track.add_argument("--profile", metavar="NAME", help="calibration/NAME.json")
    track.add_argument("--calibration-dir", default="calibration", help=argparse.SUPPRESS)
    track.add_argument("--max-frames", type=int, default=None, help="stop after N frames")
    track.set_defaults(func=cmd_track)


def cmd_track(args: argparse.Namespace) -> int:
    from avatar.tracking.calibration import load_profile
    from avatar.tracking.track_cmd import TrackOptions, run_track

    path = calibration_arg(args)
    options = TrackOptions(tracker_config(args), load_profile(path) if path else None, args.landmarks,
                           args.max_frames)
    if args.out == "-":
        summary = run_track(args.source, sys.stdout, options)
    else:
        out = Path(args.out)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            with out.open("w", encoding="utf-8") as f:
                summary = run_track(args.source, f, options)
        except OSError as e:
            raise ConfigError(f"cannot write {str(out)!r}: {e.strerror}") from e
    print(f"tracked {summary.frames} frame(s), a face in {summary.faces}, with the {summary.backend or 'no'} "
          f"tracker → {args.out}", file=sys.stderr)
    return 0


def add_calibrate_args(p: argparse.ArgumentParser) -> None:
    """The face calibration's flags (the voice calibration adds its own to the same command)."""
    p.add_argument("--source", default="0", help="camera index or name (default 0), or a video of yourself")
    p.add_argument("--profile", default="me", help="profile name: writes calibration/NAME.json (default: me)")
    p.add_argument("--calibration-dir", default="calibration", help="folder of profiles (default: calibration)")
    p.add_argument("--seconds", type=float, default=3.0, help="seconds of neutral face to record (default 3)")
    p.add_argument("--guided", action="store_true",
                   help="then ask for extremes (open mouth, raise brows, smile, look left/right): your own ranges")
    p.add_argument("--config", metavar="FILE", help="TOML file whose [tracker] section is used")
    add_tracker_args(p)


def cmd_calibrate_face(args: argparse.Namespace) -> int:
    from avatar.tracking.calibrate_cmd import CalibrateOptions, calibrate
    from avatar.tracking.calibration import profile_path, save_profile

    if args.profile == "default":
        raise ConfigError("the profile name 'default' is the shipped population average; choose another name")
    options = CalibrateOptions(source=args.source, tracker=tracker_config(args), neutral_s=args.seconds,
                               guided=args.guided)
    tty = sys.stderr.isatty()

    def prompt(text: str) -> None:
        print(("\n" if tty else "") + f">>> {text}", file=sys.stderr)

    def progress(label: str, done: float) -> None:
        if tty:
            bar = "#" * int(done * 30)
            print(f"\r  {label:<12} [{bar:<30}] {done:4.0%}", end="", file=sys.stderr, flush=True)
        elif done >= 1.0:
            print(f"  {label}: recorded", file=sys.stderr)

    cal = calibrate(options, progress, prompt)
    path = save_profile(cal, profile_path(args.profile, args.calibration_dir))
    gains = ", ".join(f"{f} ×{g:.2f}" for f, g in cal.gains) or "default ranges"
    print(f"{chr(10) if tty else ''}calibration written to {path} ({cal.tracker} tracker; {gains}); "
          f"use it with: emotebot run --profile {args.profile}", file=sys.stderr)
    return 0


def add_models_parser(sub: argparse._SubParsersAction) -> None:
    models = sub.add_parser("models", help="download optional model files (on request only; verified by sha256)")
    actions = models.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    fetch = actions.add_parser("fetch", help="download a model into engines/ and verify it")
    fetch.add_argument("name", help="face-landmarker")
    fetch.add_argument("--url", default=None, help="download from this address instead of the official one")
    fetch.add_argument("--dest", default=None, help="folder to write into (default: engines/)")
    fetch.set_defaults(func=cmd_models_fetch)
    listing = actions.add_parser("list", help="the models that can be fetched, and whether they are here")
    listing.set_defaults(func=cmd_models_list)


def cmd_models_fetch(args: argparse.Namespace) -> int:
    from avatar.models import fetch

    def progress(done: int, total: int) -> None:
        if sys.stderr.isatty() and total:
            print(f"\r  {done / total:4.0%} of {total / 1e6:.1f} MB", end="", file=sys.stderr, flush=True)

    path = fetch(args.name, Path(args.dest) if args.dest else None, url=args.url, progress=progress)
    print(f"{args.name}: verified, at {path}")
    return 0


def cmd_models_list(args: argparse.Namespace) -> int:
    from avatar.models import MODELS, engines_dir, file_sha256

    for spec in MODELS.values():
        path = engines_dir() / spec.filename
        state = "missing"
        if path.is_file():
            state = "verified" if file_sha256(path) == spec.sha256 else "present, but not the expected release"
        print(f"{spec.name:<16} {state:<10} {path}  ({spec.about})")
    return 0
