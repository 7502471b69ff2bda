"""Train, export to ONNX, check, score and ship the smoother: what `emotebot train smoother` runs (torch)."""

from __future__ import annotations

import logging
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from avatar.errors import ModelError
from avatar.expression.rig import N_FACE, RIG_VERSION
from avatar.runtime.manifest import SHIPPED_ENGINES, ModelEntry, TensorSpec, file_sha256, write_entry
from avatar.smoothing.evaluate import gru_runner, held_out, run_all, score_tracks
from avatar.smoothing.gru import MODEL_NAME, GruModel, GruStep
from avatar.smoothing.model import N_AUX, GruSmootherNet
from avatar.smoothing.noise import PROFILE_PATH, NoiseProfile
from avatar.smoothing.numpy_gru import NumpyGru, read_safetensors
from avatar.smoothing.train import Progress, save_checkpoint, train
from avatar.smoothing.train_config import TrainConfig

log = logging.getLogger(__name__)

ONNX_FILE = "smoother_gru.onnx"
CHECKPOINT_FILE = "smoother_gru.safetensors"
EVAL_SEED_OFFSET = 100_000  # held-out clips use seed + this: never a training seed
_PARITY_TOL = 1e-4  # normalised units: torch and ONNX Runtime agree to float32 rounding


@dataclass(frozen=True)
class Shipped:
    """What a training run produced."""

    onnx: Path
    checkpoint: Path
    entry: ModelEntry
    parity: float  # largest torch-vs-ONNX/numpy difference over a test clip, normalised units


def export_onnx(net: GruSmootherNet, path: Path) -> None:
    """One step with its state as an input and an output; the batch axis is dynamic."""
    x = torch.zeros(1, N_FACE)
    aux = torch.tensor([[1.0, 1.0, 1.0]])
    state = net.initial_state(x)
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch announces its TorchScript exporter is legacy; it is what we want
        torch.onnx.export(
            net, (x, aux, state), str(path), dynamo=False, opset_version=17,
            input_names=["x", "aux", "state"], output_names=["y", "state_out"],
            dynamic_axes={n: {0: "batch"} for n in ("x", "aux", "state", "y", "state_out")},
        )


def parity(net: GruSmootherNet, model: GruStep, frames: int = 60, seed: int = 0) -> float:
    """Largest difference between torch and a run-time back end over a random clip of steps."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(frames, 1, N_FACE, generator=g) * 0.2
    aux = torch.tensor([[1.0, 1.0, 1.0]])
    s_t = net.initial_state(x[0])
    s_o = s_t.numpy().copy()
    worst = 0.0
    with torch.no_grad():
        for i in range(frames):
            y_t, s_t = net(x[i], aux, s_t)
            y_o, s_o = model.step(x[i].numpy(), aux.numpy(), s_o)
            worst = max(worst, float(np.abs(y_t.numpy() - y_o).max()))
    return worst


def model_entry(onnx: Path, net: GruSmootherNet, config: TrainConfig, metrics: dict, profile_path: Path,
           checkpoint: Path | None = None) -> ModelEntry:
    S = net.config.state_size
    return ModelEntry(
        name=MODEL_NAME, file=onnx.name, sha256=file_sha256(onnx), rig_version=RIG_VERSION, kind="smoother",
        inputs=(TensorSpec("x", ("batch", N_FACE), "float32"), TensorSpec("aux", ("batch", N_AUX), "float32"),
                TensorSpec("state", ("batch", S), "float32")),
        outputs=(TensorSpec("y", ("batch", N_FACE), "float32"), TensorSpec("state_out", ("batch", S), "float32")),
        training={**asdict(config), "model": asdict(net.config),
                  "noise_profile": f"{profile_path.name} sha256 {file_sha256(profile_path)[:16]}"},
        metrics=metrics,
        extra={"units": "x, y: face fields in FACE_FIELDS order as (value - rest) / (high - low); aux: "
                        "[frames since the last step (dt x 30, max 4), face found 0/1, strength]; state: "
                        "zeros(hidden) + x + x + zeros(16) for the first frame, then state_out",
               "checkpoint": CHECKPOINT_FILE,
               "checkpoint_sha256": file_sha256(checkpoint) if checkpoint is not None else ""},
    )


def train_and_ship(config: TrainConfig, engines: Path = SHIPPED_ENGINES, profile_path: Path = PROFILE_PATH,
                   progress: Progress | None = None, eval_clips: int = 64) -> Shipped:
    """Train, write the checkpoint and the ONNX file into `engines`, verify parity, score, update the manifest."""
    torch.set_num_threads(1)
    profile = NoiseProfile.load(profile_path)
    run = train(config, profile, progress)
    net = run.net
    checkpoint = save_checkpoint(net, config, engines / CHECKPOINT_FILE)
    onnx = engines / ONNX_FILE
    export_onnx(net, onnx)
    sha = file_sha256(onnx)
    probe = ModelEntry(MODEL_NAME, onnx.name, sha, RIG_VERSION, "smoother", (), ())
    model = GruModel(probe, onnx)
    worst = max(parity(net, model), parity(net, NumpyGru(probe, read_safetensors(checkpoint)[0])))
    if worst > _PARITY_TOL:
        raise ModelError(f"the exported smoother differs from torch by {worst:.2e} (> {_PARITY_TOL}); not shipped")
    tracks = held_out(profile, eval_clips, min(config.frames, 300), config.seed + EVAL_SEED_OFFSET)
    scores = score_tracks(run_all(gru_runner(model), tracks), tracks)
    metrics = {"held_out_synthetic": {**scores.to_dict(), "clips": eval_clips, "fps": 30, "noise_level": 1.0},
               "parity_max_abs": float(f"{worst:.3g}"), "steps_done": run.steps,
               "train_seconds": round(run.seconds, 1), "final_loss": round(run.final_loss, 4)}
    entry = model_entry(onnx, net, config, metrics, profile_path, checkpoint)
    write_entry(entry, engines)
    log.info("smoother shipped: %s (%s), held-out %s", onnx, sha[:12], scores.to_dict())
    return Shipped(onnx, checkpoint, entry, worst)
