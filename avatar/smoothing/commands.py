"""Command-line glue for `emotebot smooth` and `emotebot train smoother`: flags in, calls out."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from avatar.errors import ConfigError, ModelError
from avatar.expression.rig import FaceParams, RigCode
from avatar.trackfile import TrackRecord

if TYPE_CHECKING:  # the stage pulls in onnxruntime: only when a command runs
    from avatar.smoothing.smoother import Smoother
    from avatar.smoothing.train_config import TrainConfig


def smooth_records(records: Iterable[TrackRecord], smoother: Smoother) -> Iterator[TrackRecord]:
    """The same records with their face fields smoothed; lines without a face carry the held output."""
    for r in records:
        code = smoother.step(RigCode.compose(r.params, {}), r.t, face=r.face)
        yield replace(r, params=FaceParams(code.values[: len(r.params.values)].copy()))


def _cmd_smooth(args: argparse.Namespace) -> int:
    from avatar.smoothing.smoother import Smoother, SmootherConfig
    from avatar.trackfile import read_track, write_track

    config = SmootherConfig(method=args.method, strength=args.strength)
    smoother = Smoother(config)
    if smoother.fallback is not None:
        print(f"emotebot: the GRU smoother is unavailable ({smoother.fallback}); used one-euro", file=sys.stderr)
    out = sys.stdout if args.out == "-" else None
    try:
        f = out or open(args.out, "w", encoding="utf-8")  # noqa: SIM115 (closed below unless stdout)
    except OSError as e:
        raise ConfigError(f"cannot write {args.out!r}: {e.strerror}") from e
    try:
        n = write_track(smooth_records(read_track(args.input), smoother), f)
    finally:
        if out is None:
            f.close()
    print(f"smoothed {n} frame(s) with {smoother.method.value} to {args.out}", file=sys.stderr)
    return 0


def add_smooth_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("smooth", help="smooth the face fields of a track file (JSON Lines from `emotebot track`)")
    p.add_argument("input", help="track file: one JSON object per frame")
    p.add_argument("--out", required=True, help="output track file ('-' for standard output)")
    p.add_argument("--method", choices=("gru", "one-euro", "none"), default="gru", help="smoother (default gru)")
    p.add_argument("--strength", type=float, default=1.0,
                   help="0 = off .. 3; how noisy to take the tracking to be (default 1: a webcam in room light)")
    p.set_defaults(func=_cmd_smooth)


class _Bar:
    """A one-line progress bar on stderr: steps, loss, elapsed and remaining time."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.tty = sys.stderr.isatty()

    def __call__(self, step: int, total: int, loss: float) -> None:
        if not self.tty and step % max(1, total // 20) and step != total:
            return
        elapsed = time.monotonic() - self.t0
        eta = elapsed / step * (total - step)
        filled = int(30 * step / total)
        line = f"[{'#' * filled}{'.' * (30 - filled)}] {step}/{total} loss {loss:.3f} {elapsed:.0f}s, ~{eta:.0f}s left"
        print(("\r" if self.tty else "") + line, end="" if self.tty else "\n", file=sys.stderr, flush=True)


def train_config(args: argparse.Namespace) -> TrainConfig:
    """The training run the flags describe (every flag defaults to the shipped model's setting)."""
    from avatar.smoothing.train_config import TrainConfig

    lo, hi = args.field_scale
    return TrainConfig(seed=args.seed, steps=args.steps, batch=args.batch, frames=args.frames, clips=args.clips,
                       lr=args.lr, jitter_weight=args.jitter_weight, still_weight=args.still_weight,
                       field_scale_lo=lo, field_scale_hi=hi, hop_rate=args.hop_rate, sway=args.sway,
                       jumps=args.jumps, bursts=args.bursts, hidden=args.hidden, max_minutes=args.minutes)


def _cmd_train_smoother(args: argparse.Namespace) -> int:
    try:
        import torch  # noqa: F401 (checked here so the error says how to install it)

        from avatar.smoothing.ship import train_and_ship
    except ImportError as e:
        raise ModelError(f"training needs torch, safetensors and onnx ({e.name} is missing): "
                         "pip install -e '.[train]'") from e
    config = train_config(args)
    shipped = train_and_ship(config, Path(args.engines), progress=_Bar(), eval_clips=args.eval_clips)
    print(file=sys.stderr)
    print(f"checkpoint: {shipped.checkpoint}\nmodel: {shipped.onnx} (sha256 {shipped.entry.sha256[:16]}…)\n"
          f"held-out: {shipped.entry.metrics['held_out_synthetic']}")
    return 0


def add_train_smoother_parser(train_sub: argparse._SubParsersAction) -> None:
    """`emotebot train smoother`, added to the `train` group."""
    from avatar.runtime.manifest import SHIPPED_ENGINES
    from avatar.smoothing.train_config import TrainConfig

    p = train_sub.add_parser("smoother", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                             help="train the GRU smoother on synthetic clips with measured noise, export it to "
                             "ONNX and update engines/manifest.json")
    p.add_argument("--seed", type=int, default=0, help="seeds clips, noise and weights")
    p.add_argument("--steps", type=int, default=TrainConfig.steps, help="optimiser steps")
    p.add_argument("--batch", type=int, default=TrainConfig.batch, help="clips per step")
    p.add_argument("--frames", type=int, default=TrainConfig.frames, help="frames per clip")
    p.add_argument("--clips", type=int, default=TrainConfig.clips, help="synthetic clips in the pool")
    p.add_argument("--hidden", type=int, default=TrainConfig.hidden, help="GRU units")
    p.add_argument("--lr", type=float, default=TrainConfig.lr, help="Adam learning rate (cosine-decayed)")
    p.add_argument("--jitter-weight", type=float, default=TrainConfig.jitter_weight,
                   help="loss weight of the second-difference error")
    p.add_argument("--still-weight", type=float, default=TrainConfig.still_weight,
                   help="loss weight of the output's own shaking where the truth is still")
    p.add_argument("--field-scale", type=float, nargs=2, metavar=("LO", "HI"),
                   default=(TrainConfig.field_scale_lo, TrainConfig.field_scale_hi),
                   help="each field's noise x log-uniform LO..HI per clip (training only)")
    p.add_argument("--hop-rate", type=float, default=TrainConfig.hop_rate,
                   help="extra share of frames with a heavy-tailed jump (training only)")
    p.add_argument("--sway", type=float, default=TrainConfig.sway,
                   help="slow motion on every field, up to this many noise sigmas (training only)")
    p.add_argument("--jumps", type=float, default=TrainConfig.jumps,
                   help="instant steps of the truth per field per minute (training only)")
    p.add_argument("--bursts", type=float, default=TrainConfig.bursts,
                   help="sigma of the noise's log level wandering in time: noise in bursts (training only)")
    p.add_argument("--minutes", type=float, default=TrainConfig.max_minutes, help="stop after this long")
    p.add_argument("--eval-clips", type=int, default=64, help="held-out clips scored for the manifest")
    p.add_argument("--engines", default=str(SHIPPED_ENGINES), help="where the model and manifest go")
    p.set_defaults(func=_cmd_train_smoother)
