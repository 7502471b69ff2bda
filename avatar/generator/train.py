"""GAN training of the generator against the studio renderer: L1 + edge loss + a hinge-loss PatchGAN critic."""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from collections.abc import Generator as Stream
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch.nn import functional as F  # noqa: N812  (the name every torch reader knows)

from avatar.errors import ConfigError
from avatar.generator import checkpoint
from avatar.generator.data import SamplerConfig, Streamed, cached_renders, held_out_codes, sample_codes
from avatar.generator.metrics import Quality, premultiply, quality, sheet
from avatar.generator.network import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig

log = logging.getLogger(__name__)

GENERATOR_FILE, STATE_FILE, METRICS_FILE = "generator.safetensors", "train_state.safetensors", "metrics.jsonl"


@dataclass(frozen=True)
class TrainConfig:
    """One training run; stored in the checkpoint and the manifest so the run can be told and repeated."""

    model: GeneratorConfig = GeneratorConfig()  # the generator (its size is the training size)
    critic: DiscriminatorConfig = DiscriminatorConfig()
    steps: int = 2000  # generator updates in all; a resumed run continues up to this count
    batch: int = 8  # images per step
    lr: float = 2e-3  # generator Adam learning rate, cosine-decayed to 5% by the last step
    lr_critic: float = 4e-4  # discriminator Adam learning rate
    l1: float = 1.0  # weight of the L1 loss on premultiplied RGBA
    edges: float = 1.0  # weight of the L1 loss between image gradients: keeps edges crisp
    adversarial: float = 0.02  # weight of the generator's hinge adversarial loss
    adversarial_from: float = 0.3  # fraction of the steps trained on reconstruction alone first
    data: str = "cache"  # cache: render train_codes once, reuse; stream: fresh codes every batch (GPU runs)
    train_codes: int = 2000  # codes rendered for data=cache
    workers: int = 2  # render processes for data=stream
    eval_codes: int = 24  # held-out codes scored at each evaluation
    eval_every: int = 200  # steps between evaluations (and sample sheets)
    checkpoint_every: int = 200  # steps between checkpoints
    seed: int = 0  # codes, weights and batch order
    device: str = "auto"  # auto (cuda when available), cpu, cuda
    threads: int = 1  # torch CPU threads (the machine may be shared)
    max_minutes: float = 0.0  # stop after this long (0: no limit); the learning-rate decay and the start of
    #   adversarial training follow whichever of steps or time is further along, so a cut-short run still anneals
    sampler: SamplerConfig = field(default_factory=SamplerConfig)

    def __post_init__(self) -> None:
        for name, lo in (("steps", 1), ("batch", 1), ("train_codes", 1), ("workers", 1), ("eval_codes", 1),
                         ("eval_every", 1), ("checkpoint_every", 1), ("threads", 1)):
            value = getattr(self, name)
            if not isinstance(value, int) or value < lo:
                raise ConfigError(f"train.{name} must be an integer ≥ {lo}, got {value!r}")
        if self.data not in ("cache", "stream"):
            raise ConfigError(f"train.data must be cache or stream, got {self.data!r}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ConfigError(f"train.device must be auto, cpu or cuda, got {self.device!r}")
        if not isinstance(self.max_minutes, (int, float)) or self.max_minutes < 0:
            raise ConfigError(f"train.max_minutes must be ≥ 0, got {self.max_minutes!r}")
        if not 0.0 <= self.adversarial_from <= 1.0:
            raise ConfigError(f"train.adversarial_from must be within 0..1, got {self.adversarial_from}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Evaluation:
    step: int
    quality: Quality
    seconds: float  # training time so far

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, **self.quality.to_dict(), "seconds": round(self.seconds, 1)}


Progress = Callable[[int, int, dict[str, float]], None]  # (step, total, latest losses and metrics)


def to_nchw(rgba_u8: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 straight RGBA (B, S, S, 4) → premultiplied float (B, 4, S, S)."""
    return torch.from_numpy(premultiply(np.asarray(rgba_u8))).permute(0, 3, 1, 2).contiguous().to(device)


def premultiplied(rgba: torch.Tensor) -> torch.Tensor:
    return torch.cat([rgba[:, :3] * rgba[:, 3:4], rgba[:, 3:4]], 1)


def edge_loss(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """L1 between horizontal and vertical differences: blur costs here even when the mean colour is right."""
    dx = (a[..., :, 1:] - a[..., :, :-1]) - (b[..., :, 1:] - b[..., :, :-1])
    dy = (a[..., 1:, :] - a[..., :-1, :]) - (b[..., 1:, :] - b[..., :-1, :])
    return dx.abs().mean() + dy.abs().mean()


def pick_device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("train.device is cuda but torch sees no CUDA GPU; use --device cpu or auto")
    return torch.device("cuda" if name == "cuda" or (name == "auto" and torch.cuda.is_available()) else "cpu")


class Trainer:
    """Holds the models, optimisers and data of one run; `run()` trains to config.steps."""

    def __init__(self, config: TrainConfig, run_dir: Path, cache_dir: Path) -> None:
        self.config, self.run_dir, self.cache_dir = config, run_dir, cache_dir
        self.device = pick_device(config.device)
        torch.manual_seed(config.seed)
        self.gen = Generator(config.model).to(self.device)
        self.critic = Discriminator(config.critic).to(self.device)
        self.opt_g = torch.optim.Adam(self.gen.parameters(), lr=config.lr, betas=(0.5, 0.99))
        self.opt_d = torch.optim.Adam(self.critic.parameters(), lr=config.lr_critic, betas=(0.5, 0.99))
        self.step = 0
        self.history: list[dict[str, Any]] = []
        self.elapsed = 0.0
        self._eval: tuple[np.ndarray, np.ndarray] | None = None

    def resume(self) -> bool:
        """Continue from run_dir's checkpoint when there is one; False when starting fresh."""
        g_path, s_path = self.run_dir / GENERATOR_FILE, self.run_dir / STATE_FILE
        if not (g_path.is_file() and s_path.is_file()):
            return False
        net, _ = checkpoint.load_generator(g_path, str(self.device))
        if net.config != self.config.model:
            raise ConfigError(f"{g_path} holds a model configured {net.config}, this run asks for "
                              f"{self.config.model}; use another --run-dir or the same model options")
        self.gen.load_state_dict(net.state_dict())
        self.step, info = checkpoint.load_state(s_path, self.critic, self.opt_g, self.opt_d)
        self.history = info.get("history", [])
        self.elapsed = float(info.get("seconds", 0.0))
        log.info("resumed %s at step %d", self.run_dir, self.step)
        return True

    def batches(self) -> Stream[tuple[np.ndarray, np.ndarray], None, None]:
        c = self.config
        if c.data == "stream":
            stream = Streamed(c.batch, c.model.size, c.seed, c.workers, c.sampler)
            try:
                yield from stream
            finally:
                stream.close()
            return
        codes = sample_codes(c.train_codes, c.seed, c.sampler)
        images = cached_renders(codes, c.model.size, self.cache_dir, "train", _render_log)
        rng = np.random.default_rng(c.seed + self.step)  # a resumed run does not replay the same batches
        while True:
            order = rng.permutation(len(codes))
            for i in range(0, len(order) - c.batch + 1, c.batch):
                idx = np.sort(order[i:i + c.batch])  # sorted: sequential reads from the memory map
                yield codes[idx], np.asarray(images[idx])

    def fraction(self) -> float:
        """How far along the run is, 0..1: by steps, or by time when a time limit is nearer."""
        c = self.config
        by_time = self.elapsed / (60.0 * c.max_minutes) if c.max_minutes else 0.0
        return min(max(self.step / c.steps, by_time), 1.0)

    def _lr_scale(self) -> float:
        return 0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * self.fraction()))

    def train_step(self, codes: np.ndarray, images: np.ndarray) -> dict[str, float]:
        """One critic update (once adversarial training has started) and one generator update."""
        c = self.config
        for group in self.opt_g.param_groups:
            group["lr"] = c.lr * self._lr_scale()
        code = torch.from_numpy(codes).to(self.device)
        target = to_nchw(images, self.device)
        rgba, layout, cond = self.gen.planes(code)
        pred = premultiplied(rgba)
        l1, edges = (pred - target).abs().mean(), edge_loss(pred, target)
        loss = c.l1 * l1 + c.edges * edges
        out = {"l1": l1.item(), "edges": edges.item()}
        if self.fraction() >= c.adversarial_from and c.adversarial > 0:
            d_loss = (F.relu(1.0 - self.critic(target, layout, cond)).mean()
                      + F.relu(1.0 + self.critic(pred.detach(), layout, cond)).mean())
            self.opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            self.opt_d.step()
            adv = -self.critic(pred, layout, cond).mean()
            loss = loss + c.adversarial * adv
            out.update(critic=d_loss.item(), adversarial=adv.item())
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        self.step += 1
        return out

    def evaluation_set(self) -> tuple[np.ndarray, np.ndarray]:
        if self._eval is None:
            codes = held_out_codes(self.config.eval_codes)
            refs = cached_renders(codes, self.config.model.size, self.cache_dir, "eval")
            self._eval = codes, premultiply(np.asarray(refs))
        return self._eval

    def generate(self, codes: np.ndarray, batch: int = 8) -> np.ndarray:
        """Premultiplied RGBA (N, S, S, 4) float for codes, in eval mode."""
        self.gen.eval()
        out = []
        with torch.no_grad():
            for i in range(0, len(codes), batch):
                rgba, _, _ = self.gen.planes(torch.from_numpy(codes[i:i + batch]).to(self.device))
                out.append(premultiplied(rgba).permute(0, 2, 3, 1).cpu().numpy())
        self.gen.train()
        return np.concatenate(out)

    def evaluate(self) -> Evaluation:
        codes, refs = self.evaluation_set()
        generated = self.generate(codes)
        ev = Evaluation(self.step, quality(generated, refs), self.elapsed)
        self.history.append(ev.to_dict())
        samples = self.run_dir / "samples"
        samples.mkdir(parents=True, exist_ok=True)
        picture = sheet(refs[:8], generated[:8])
        cv2.imwrite(str(samples / f"step_{self.step:06d}.png"), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
        with (self.run_dir / METRICS_FILE).open("a", encoding="utf-8") as f:
            f.write(json.dumps(ev.to_dict()) + "\n")
        return ev

    def save(self) -> None:
        info = {"history": self.history, "seconds": self.elapsed, "train_config": self.config.to_dict()}
        checkpoint.save_generator(self.gen, self.run_dir / GENERATOR_FILE,
                                  {"step": self.step, "train_config": self.config.to_dict(),
                                   "last_eval": self.history[-1] if self.history else None})
        checkpoint.save_state(self.run_dir / STATE_FILE, self.critic, self.opt_g, self.opt_d, self.step, info)

    def run(self, progress: Progress | None = None) -> Evaluation | None:
        """Train to config.steps, evaluating and checkpointing on schedule; returns the last evaluation."""
        c = self.config
        self.run_dir.mkdir(parents=True, exist_ok=True)
        last: Evaluation | None = None
        data = self.batches()
        while self.fraction() < 1.0:
            t0 = time.perf_counter()
            losses = self.train_step(*next(data))
            self.elapsed += time.perf_counter() - t0
            done = self.fraction() >= 1.0
            t0 = time.perf_counter()
            if self.step % c.eval_every == 0 or done:
                last = self.evaluate()
                losses = {**losses, **last.quality.to_dict()}
            if self.step % c.checkpoint_every == 0 or done:
                self.save()
            self.elapsed += time.perf_counter() - t0  # evaluations count towards max_minutes too
            if progress is not None:
                progress(self.step, c.steps if not done else self.step, losses)
        data.close()
        return last


def _render_log(done: int, total: int) -> None:
    log.info("rendering training images with the studio renderer: %d/%d", done, total)


def train(config: TrainConfig, run_dir: Path, cache_dir: Path, resume: bool = False,
          progress: Progress | None = None) -> Trainer:
    """Train (or continue) a run; the trainer holds the trained generator and its history."""
    torch.set_num_threads(config.threads)
    trainer = Trainer(config, run_dir, cache_dir)
    if resume and not trainer.resume():
        log.info("nothing to resume in %s: starting a new run", run_dir)
    trainer.run(progress)
    return trainer
