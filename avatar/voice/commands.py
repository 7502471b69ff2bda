"""The voice parts of the command line: run flags, `emotebot listen` and `emotebot calibrate --voice`."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from avatar.errors import ConfigError


def add_voice_flags(p: argparse.ArgumentParser) -> None:
    """Flags of run/demo/bench/config: microphone on/off and typed triggers."""
    p.add_argument("--no-voice", action="store_true", default=None, help="do not listen to the microphone")
    p.add_argument("--mic", nargs="?", const="", default=None, metavar="DEVICE",
                   help="listen for trigger words on this microphone (index or name; none given: the default), "
                        "even when the outputs are files")
    p.add_argument("--stdin-triggers", action="store_true", default=None,
                   help="read trigger words typed on standard input (default: only when it is a terminal)")


def apply_voice_flags(config: Any, args: argparse.Namespace) -> Any:
    if getattr(args, "no_voice", None):
        config = config.override("voice", enabled=False)
    mic = getattr(args, "mic", None)
    if mic is not None:
        config = config.override("voice", enabled=True, with_files=True, **({"device": mic} if mic else {}))
    if getattr(args, "stdin_triggers", None):
        config = config.override("voice", stdin="on")
    return config


def add_listen_parser(sub: argparse._SubParsersAction) -> None:
    listen = sub.add_parser("listen", help="spot trigger words in a WAV file or from the microphone (JSON Lines)")
    where = listen.add_mutually_exclusive_group(required=True)
    where.add_argument("--file", metavar="WAV", help="a PCM WAV file (any rate; stereo is mixed down)")
    where.add_argument("--mic", nargs="?", const="", metavar="DEVICE",
                       help="the microphone (index or name; none given: the default)")
    listen.add_argument("--out", default="-", help="JSON Lines file, one detection per line ('-': standard output)")
    listen.add_argument("--duration", type=float, default=0.0, help="stop listening to the microphone after S s")
    listen.add_argument("--profile", metavar="NAME", help="voice profile calibration/NAME.voice.json")
    listen.add_argument("--calibration-dir", default="calibration", help=argparse.SUPPRESS)
    listen.add_argument("--config", metavar="FILE", help="TOML file whose [voice] section is used")
    listen.add_argument("--set", action="append", default=[], metavar="voice.KEY=VALUE",
                        help="set a [voice] option, repeatable")
    listen.set_defaults(func=cmd_listen)


def voice_profile_path(profile: str | None, directory: str) -> str:
    if not profile:
        return ""
    if "/" in profile or profile.endswith(".json"):
        return profile
    return str(Path(directory) / f"{profile}.voice.json")


def _voice_config(args: argparse.Namespace):
    from avatar.cli import apply_sets
    from avatar.config import load_config

    config = apply_sets(load_config(args.config), args.set).voice
    path = voice_profile_path(args.profile, args.calibration_dir)
    if path:
        config = dataclasses.replace(config, profile=path)
    return config


def cmd_listen(args: argparse.Namespace) -> int:
    from avatar.voice.listen import listen_mic, make_spotter, spot_file, write_lines

    config = _voice_config(args)
    with ExitStack() as stack:
        out = sys.stdout if args.out == "-" else stack.enter_context(open(args.out, "w", encoding="utf-8"))
        if args.file:
            n = write_lines(spot_file(args.file, make_spotter(config), config.block_s), out)
        else:
            if args.mic:
                config = dataclasses.replace(config, device=args.mic)
            n = listen_mic(config, out, args.duration)
    if args.out != "-":
        print(f"{n} detection(s) written to {args.out}", file=sys.stderr)
    return 0


def add_calibrate_voice_args(p: argparse.ArgumentParser) -> None:
    """`calibrate --voice`: the flags beside the face calibration's."""
    p.add_argument("--voice", action="store_true",
                   help="calibrate the trigger words to your voice instead: say each a few times, then read a "
                        "sentence; writes calibration/PROFILE.voice.json")
    p.add_argument("--mic", default="", metavar="DEVICE", help="--voice: microphone index or name")
    p.add_argument("--repeats", type=int, default=3, help="--voice: takes of each trigger (default 3)")
    p.add_argument("--takes", type=Path, metavar="DIR",
                   help="--voice: use recorded WAVs instead of the microphone (happy_1.wav, …, ordinary.wav)")
    p.add_argument("--set", action="append", default=[], metavar="voice.KEY=VALUE",
                   help="--voice: set a [voice] option (vocabulary, pronunciations, …), repeatable")


def cmd_calibrate_voice(args: argparse.Namespace) -> int:
    from avatar.voice.calibrate import record_takes, takes_from_folder, tune
    from avatar.voice.mic import MicConfig, MicStream
    from avatar.voice.profile import save_profile
    from avatar.voice.vocabulary import parse_vocabulary

    if args.repeats < 1:
        raise ConfigError(f"--repeats must be at least 1, got {args.repeats}")
    config = _voice_config(argparse.Namespace(config=args.config, set=args.set, profile=None,
                                              calibration_dir=args.calibration_dir))
    phrases = parse_vocabulary(config).phrases
    if args.takes:
        takes = takes_from_folder(args.takes, phrases)
    else:
        mic = MicStream(MicConfig(args.mic, config.block_s))
        mic.open()
        try:
            takes = record_takes(mic, phrases, args.repeats, lambda text: print(f">>> {text}", file=sys.stderr))
        finally:
            mic.close()
    profile = tune(takes, config)
    path = save_profile(profile, voice_profile_path(args.profile, args.calibration_dir))
    notes: dict[str, dict] = profile.notes.get("phrases", {})  # type: ignore[assignment]
    for phrase, note in notes.items():
        threshold = profile.thresholds.get(phrase)
        shown = f"threshold {threshold:.2f}" if threshold is not None else "pocketsphinx only"
        print(f"  {phrase:>12}: takes {note['takes']} ordinary max {note['ordinary_max']} → {shown}"
              f"{'  (' + note['warning'] + ')' if note['warning'] else ''}", file=sys.stderr)
    print(f"voice profile written to {path}; `emotebot run --profile {args.profile}` uses it "
          f"({json.dumps(profile.thresholds)})", file=sys.stderr)
    return 0
