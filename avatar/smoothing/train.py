"""Training the GRU smoother on synthetic clips with measured noise (torch; `emotebot train smoother`)."""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from avatar.errors import ModelError
from avatar.expression.rig import N_FACE, RIG_VERSION
from avatar.smoothing.metrics import still_mask
from avatar.smoothing.model import GruConfig, GruSmootherNet, init_gain_bias
from avatar.smoothing.noise import NoiseProfile
from avatar.smoothing.synth import REAL, Realism, Track, synth_track
from avatar.smoothing.train_config import TrainConfig
from avatar.smoothing.units import normalise

log = logging.getLogger(__name__)

Progress = Callable[[int, int, float], None]  # (step, total, loss)
_DELTA = 10.0  # noise sigmas where the loss turns from squared to linear


@dataclass(frozen=True)
class Batch:
    """Clips as tensors: x (B, T, F) normalised readings, aux (B, T, 3), clean (B, T, F), mask (B, T)."""

    x: torch.Tensor
    aux: torch.Tensor
    clean: torch.Tensor
    mask: torch.Tensor
    level: torch.Tensor  # (B,) noise level of each clip
    still: torch.Tensor  # (B, T, F) 1 where the truth is still (metrics.still_mask) and a face is in view

    def pick(self, idx: torch.Tensor) -> Batch:
        return Batch(self.x[idx], self.aux[idx], self.clean[idx], self.mask[idx], self.level[idx], self.still[idx])


def to_batch(tracks: list[Track]) -> Batch:
    x = np.stack([normalise(tr.noisy) for tr in tracks])
    clean = np.stack([normalise(tr.clean) for tr in tracks])
    aux = np.stack([aux_inputs(tr.t, tr.present, tr.level) for tr in tracks])
    still = np.stack([still_mask(c, tr.t) & tr.present[:, None] for c, tr in zip(clean, tracks, strict=True)])
    f = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))  # noqa: E731
    return Batch(f(x), f(aux), f(clean), f(np.stack([tr.present for tr in tracks])),
                 f(np.array([tr.level for tr in tracks])), f(still))


def aux_inputs(t: np.ndarray, present: np.ndarray, strength: float) -> np.ndarray:
    """(T, 3): frames since the previous one (30 fps = 1, capped at 4), face found, strength."""
    dt = np.diff(t, prepend=t[0] - 1.0 / 30.0) * 30.0
    return np.stack([np.clip(dt, 0.0, 4.0), present.astype(np.float64), np.full(len(t), strength)], axis=1)


def make_pool(profile: NoiseProfile, n: int, frames: int, seed: int, realism: Realism = REAL) -> Batch:
    rng = np.random.default_rng(seed)
    return to_batch([synth_track(profile, frames, rng, realism=realism) for _ in range(n)])


def realism(config: TrainConfig) -> Realism:
    return Realism((config.field_scale_lo, config.field_scale_hi), config.hop_rate, config.sway,
                   config.jumps, config.bursts)


def unroll(net: GruSmootherNet, x: torch.Tensor, aux: torch.Tensor) -> torch.Tensor:
    """(B, T, F) outputs of the step function run over whole clips, from a fresh state."""
    state = net.initial_state(x[:, 0])
    ys = []
    for i in range(x.shape[1]):
        y, state = net(x[:, i], aux[:, i], state)
        ys.append(y)
    return torch.stack(ys, dim=1)


def robust(e: torch.Tensor, delta: float = _DELTA) -> torch.Tensor:
    """Squared error up to `delta` noise sigmas, growing linearly beyond (pseudo-Huber)."""
    return delta**2 * (torch.sqrt(1.0 + (e / delta) ** 2) - 1.0)


def loss_fn(net: GruSmootherNet, y: torch.Tensor, b: Batch, jitter_weight: float,
            still_weight: float = 0.0) -> torch.Tensor:
    """Error, second-difference error and (where the truth is still) the output's own second difference, in
    units of each clip's noise, over frames with a face.

    Robust beyond a few sigmas: the rare huge errors (a fast blink, the face back elsewhere) would otherwise
    make every batch's loss a lottery of how many of them it drew.
    """
    sigma = net.noise_std * b.level[:, None, None].clamp_min(0.25)  # (B, 1, F)
    err = (y - b.clean) / sigma  # (B, T, F)
    m = b.mask[:, :, None]
    plain = (robust(err) * m).sum() / (m.sum() * y.shape[2])
    d2 = err[:, 2:] - 2 * err[:, 1:-1] + err[:, :-2]
    m2 = m[:, 2:] * m[:, 1:-1] * m[:, :-2]
    jitter = (robust(d2) * m2).sum() / (m2.sum() * y.shape[2])
    if still_weight <= 0:
        return plain + jitter_weight * jitter
    shake = (y[:, 2:] - 2 * y[:, 1:-1] + y[:, :-2]) / sigma  # the output's own curvature
    s = b.still[:, 1:-1] * m2
    still = (robust(shake) * s).sum() / s.sum().clamp_min(1.0)
    return plain + jitter_weight * jitter + still_weight * still


@dataclass(frozen=True)
class Trained:
    """A training run's network and how far it got."""

    net: GruSmootherNet
    steps: int  # optimiser steps done (fewer than asked when max_minutes ran out)
    seconds: float
    final_loss: float  # mean loss of the last 50 steps


def cosine_schedule(opt: torch.optim.Optimizer, steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """The learning rate decayed by cosine over `steps` optimiser steps to 5 % of where it began."""
    return torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(s / steps, 1.0))))


def train(config: TrainConfig, profile: NoiseProfile, progress: Progress | None = None) -> Trained:
    """Train from scratch, seeded; stops at config.steps or config.max_minutes, whichever comes first."""
    torch.manual_seed(config.seed)
    pool = make_pool(profile, config.clips, config.frames, config.seed, realism(config))
    net = GruSmootherNet(GruConfig(hidden=config.hidden), torch.tensor(profile.std, dtype=torch.float32))
    init_gain_bias(net)
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    sched = cosine_schedule(opt, config.steps)
    gen = torch.Generator().manual_seed(config.seed)
    t0 = time.monotonic()
    losses: list[float] = []
    for step in range(1, config.steps + 1):
        idx = torch.randint(0, config.clips, (config.batch,), generator=gen)
        b = pool.pick(idx)
        loss = loss_fn(net, unroll(net, b.x, b.aux), b, config.jitter_weight, config.still_weight)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        if progress is not None:
            progress(step, config.steps, losses[-1])
        if time.monotonic() - t0 > 60.0 * config.max_minutes:
            log.warning("stopped after %d of %d steps: train.max_minutes=%g reached", step, config.steps,
                        config.max_minutes)
            break
    return Trained(net.eval(), len(losses), time.monotonic() - t0, float(np.mean(losses[-50:])))


def save_checkpoint(net: GruSmootherNet, config: TrainConfig, path: Path) -> Path:
    """Weights as safetensors (the model and training config in its metadata) and the same configs as JSON."""
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"model": net.config.to_json(), "training": json.dumps(asdict(config)), "rig_version": str(RIG_VERSION)}
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path), metadata=meta)
    path.chmod(0o644)
    path.with_suffix(".json").write_text(json.dumps(
        {"model": json.loads(meta["model"]), "training": asdict(config), "rig_version": RIG_VERSION}, indent=1))
    return path


def load_checkpoint(path: Path) -> GruSmootherNet:
    """Rebuild a network from its safetensors file alone."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open has no __iter__)
    except (OSError, ValueError, RuntimeError) as e:
        raise ModelError(f"cannot read checkpoint {str(path)!r}: {e}") from e
    if meta.get("rig_version") != str(RIG_VERSION):
        raise ModelError(f"checkpoint {path} is for rig version {meta.get('rig_version')}, this is {RIG_VERSION}; "
                         "train again with `emotebot train smoother`")
    net = GruSmootherNet(GruConfig.from_json(meta["model"]), torch.zeros(N_FACE))
    net.load_state_dict(tensors)
    return net.eval()
