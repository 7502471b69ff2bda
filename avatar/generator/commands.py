"""`emotebot train generator` and `emotebot build-engine`: training, shipping and TensorRT engines from the CLI."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from avatar.errors import ConfigError, ModelError
from avatar.runtime.manifest import SHIPPED_ENGINES

SHEET = Path("docs") / "generator_sheet.png"


class _Bar:
    """A one-line progress bar on stderr: step, losses, the latest held-out scores, elapsed and remaining time."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.tty = sys.stderr.isatty()
        self.last_eval = ""
        self.first_step: int | None = None

    def __call__(self, step: int, total: int, info: dict[str, float]) -> None:
        if "psnr_db" in info:
            self.last_eval = f" | held-out {info['psnr_db']:.2f} dB SSIM {info['ssim']:.3f} " \
                             f"edges {info['gradient_ratio']:.2f}"
        if self.first_step is None:
            self.first_step = step - 1
        if not self.tty and step % 25 and step != total and "psnr_db" not in info:
            return  # a log file gets a line every 25 steps, a terminal every step
        elapsed = time.monotonic() - self.t0
        rate = elapsed / max(step - self.first_step, 1)
        width = 24
        filled = int(width * step / total)
        line = (f"[{'#' * filled}{'.' * (width - filled)}] {step}/{total} l1 {info.get('l1', 0):.4f} "
                f"edges {info.get('edges', 0):.4f}{self.last_eval} {elapsed:.0f}s, ~{rate * (total - step):.0f}s left")
        print(("\r" if self.tty else "") + line, end="" if self.tty else "\n", file=sys.stderr, flush=True)


def _train_config(args: argparse.Namespace) -> Any:
    from avatar.generator.network import GeneratorConfig
    from avatar.generator.train import TrainConfig

    return TrainConfig(model=GeneratorConfig(size=args.size), steps=args.steps, batch=args.batch, lr=args.lr,
                       adversarial=args.adversarial, adversarial_from=args.adversarial_from, data=args.data,
                       train_codes=args.train_codes, workers=args.workers, eval_codes=args.eval_codes,
                       eval_every=args.eval_every, checkpoint_every=args.eval_every, seed=args.seed,
                       device=args.device, threads=args.threads, max_minutes=args.max_minutes)


def reproduce_command(c: Any) -> str:
    """The command line that trains this TrainConfig again."""
    return (f"emotebot train generator --size {c.model.size} --steps {c.steps} --batch {c.batch} --lr {c.lr} "
            f"--adversarial {c.adversarial} --adversarial-from {c.adversarial_from} --data {c.data} "
            f"--train-codes {c.train_codes} --eval-codes {c.eval_codes} --eval-every {c.eval_every} "
            f"--seed {c.seed} --device {c.device} --threads {c.threads} --max-minutes {c.max_minutes} --ship")


def training_record(trainer: Any) -> dict[str, Any]:
    """What the manifest says about how the model was made."""
    import torch

    from avatar.generator.data import renderer_digest

    c = trainer.config
    data = (f"{c.train_codes} codes from sample_codes(seed={c.seed}) rendered once and cached" if c.data == "cache"
            else "fresh sample_codes every batch")
    return {"command": reproduce_command(c), "config": c.to_dict(), "steps": trainer.step,
            "train_seconds": round(trainer.elapsed, 1), "device": str(trainer.device), "torch": torch.__version__,
            "data": f"{data}, drawn by the studio renderer (avatar/character source digest {renderer_digest()})",
            "history": trainer.history}


def _cmd_train_generator(args: argparse.Namespace) -> int:
    try:
        from avatar.generator.data import default_cache_dir
        from avatar.generator.train import train
    except ImportError as e:
        raise ConfigError(f"training needs torch and safetensors: pip install -e '.[train]' ({e})") from e
    config = _train_config(args)
    cache = Path(args.cache) if args.cache else default_cache_dir()
    trainer = train(config, Path(args.run_dir), cache, resume=args.resume, progress=_Bar())
    print(file=sys.stderr)
    if trainer.history:
        print(f"held-out at step {trainer.step}: {trainer.history[-1]}")
    print(f"checkpoint: {Path(args.run_dir) / 'generator.safetensors'}")
    if args.ship:
        from avatar.generator.export import ship, write_sheet

        entry, score = ship(trainer.gen, training_record(trainer), Path(args.engines), cache)
        sheet = write_sheet(score, Path(args.sheet))
        verdict = "meets" if score.quality.meets() else "does NOT meet"
        print(f"shipped {Path(args.engines) / entry.file} (sha256 {entry.sha256[:16]}…), sheet {sheet}\n"
              f"exported ONNX on {score.quality.images} held-out codes: {score.quality.to_dict()} — {verdict} "
              "the bars (PSNR ≥ 30 dB, SSIM ≥ 0.95, gradient ratio ≥ 0.9)")
    return 0


def add_train_generator_parser(train_sub: argparse._SubParsersAction) -> None:
    p = train_sub.add_parser("generator", help="train the neural generator against the studio renderer (GAN)",
                             description="Small on a CPU, full on a CUDA GPU (--device auto). Writes checkpoints, "
                             "metrics.jsonl and sample sheets to --run-dir; --ship exports ONNX into engines/.")
    p.add_argument("--size", type=int, default=256, help="head size in pixels (256 for CPUs, 512 for GPUs)")
    p.add_argument("--steps", type=int, default=1200, help="generator updates in all (default 1200)")
    p.add_argument("--batch", type=int, default=8, help="images per step (default 8)")
    p.add_argument("--lr", type=float, default=2e-3, help="generator learning rate (default 0.002)")
    p.add_argument("--adversarial", type=float, default=0.005, help="weight of the GAN loss (default 0.005)")
    p.add_argument("--adversarial-from", type=float, default=0.6,
                   help="fraction of the steps trained on reconstruction only first (default 0.6)")
    p.add_argument("--data", choices=("cache", "stream"), default="cache",
                   help="cache: render --train-codes once; stream: fresh codes every batch (GPU runs)")
    p.add_argument("--train-codes", type=int, default=2000, help="codes rendered for --data cache")
    p.add_argument("--workers", type=int, default=2, help="render processes for --data stream")
    p.add_argument("--eval-codes", type=int, default=24, help="held-out codes scored at each evaluation")
    p.add_argument("--eval-every", type=int, default=200, help="steps between evaluations and checkpoints")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1: the CPU may be shared)")
    p.add_argument("--max-minutes", type=float, default=0.0,
                   help="stop after this long; the schedule anneals to fit (default 0: no limit)")
    p.add_argument("--run-dir", default="runs/generator", help="checkpoints, metrics and sample sheets")
    p.add_argument("--resume", action="store_true", help="continue the run in --run-dir")
    p.add_argument("--cache", default="", help="where rendered training images are cached (default: temp dir)")
    p.add_argument("--ship", action="store_true", help="export ONNX + checkpoint into --engines, update the manifest")
    p.add_argument("--engines", default=str(SHIPPED_ENGINES), help="the engines folder (default: the repository's)")
    p.add_argument("--sheet", default=str(SHEET), help="reference | generated sheet written with --ship")
    p.set_defaults(func=_cmd_train_generator)


def _cmd_build_engine(args: argparse.Namespace) -> int:
    from avatar.runtime.neural import generator_entry
    from avatar.runtime.tensorrt_runner import build_engine

    root = Path(args.engines)
    entry, onnx = generator_entry(args.size, root)
    shapes = {s.name: tuple(int(d) for d in s.shape) for s in entry.inputs}
    try:
        built = build_engine(onnx, shapes, args.precision, root / "cache", args.workspace_mb, force=args.force)
    except ModelError as e:
        raise ModelError(f"cannot build a TensorRT engine for {onnx.name}: {e}") from e
    how = f"built in {built.seconds:.1f} s" if built.built else "already cached"
    print(f"{built.path} ({how})\nkey {built.key}")
    for k, v in built.about.items():
        print(f"  {k}: {v}")
    return 0


def add_build_engine_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("build-engine", help="build (or find cached) the TensorRT engine of the generator",
                       description="Needs an NVIDIA GPU and pip install 'emotebot[tensorrt]'. The engine is cached "
                       "in engines/cache/ by sha256(ONNX) + TensorRT version + GPU + precision + shapes.")
    p.add_argument("--size", type=int, default=256, help="which generator (default 256)")
    p.add_argument("--precision", choices=("fp16", "fp32"), default="fp16")
    p.add_argument("--workspace-mb", type=int, default=1024, help="TensorRT builder workspace (default 1024 MB)")
    p.add_argument("--force", action="store_true", help="rebuild even when a cached engine matches")
    p.add_argument("--engines", default=str(SHIPPED_ENGINES), help="the engines folder (default: the repository's)")
    p.set_defaults(func=_cmd_build_engine)
