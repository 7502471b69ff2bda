"""Generator checkpoints: weights in safetensors with the config that rebuilds the model in its metadata.

A checkpoint file alone rebuilds the generator (`load_generator`). Training state (the discriminator, both
optimisers, the step and the metrics so far) lives in a second safetensors file beside it, for `--resume`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from avatar.errors import ModelError
from avatar.expression.rig import RIG_VERSION
from avatar.generator.network import Generator, GeneratorConfig

FORMAT = "emotebot-generator/1"
STATE_FORMAT = "emotebot-generator-train/1"


def _atomic_save(tensors: dict[str, torch.Tensor], metadata: dict[str, str], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp), metadata=metadata)
    os.chmod(tmp, 0o644)  # shipped in engines/: readable by every user
    os.replace(tmp, path)  # a crash while saving never leaves a half-written checkpoint
    return path


def save_generator(net: Generator, path: Path, extra: dict[str, Any] | None = None) -> Path:
    """Weights (float32) + config; `extra` (JSON-able) is kept in the metadata, e.g. step and metrics."""
    meta = {"format": FORMAT, "config": net.config.to_json(), "rig_version": str(RIG_VERSION),
            "extra": json.dumps(extra or {})}
    return _atomic_save({k: v.float() for k, v in net.state_dict().items()}, meta, path)


def _read(path: Path, expected_format: str) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    if not path.is_file():
        raise ModelError(f"checkpoint {path} does not exist; train one with `emotebot train generator` "
                         "or restore engines/ from the repository")
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise ModelError(f"checkpoint {path} is corrupt or not a safetensors file ({e}); restore it from the "
                         "repository or train it again") from e
    if meta.get("format") != expected_format:
        raise ModelError(f"{path} is not a {expected_format} file (format {meta.get('format')!r})")
    return tensors, meta


def load_generator(path: Path, device: str = "cpu") -> tuple[Generator, dict[str, Any]]:
    """The generator a checkpoint describes, weights loaded, in eval mode; and the checkpoint's extra metadata."""
    tensors, meta = _read(path, FORMAT)
    if meta.get("rig_version") != str(RIG_VERSION):
        raise ModelError(f"{path} was trained for rig version {meta.get('rig_version')}, this EmoteBot uses "
                         f"{RIG_VERSION}; retrain it with `emotebot train generator`")
    net = Generator(GeneratorConfig.from_json(meta["config"]))
    try:
        net.load_state_dict(tensors, strict=True)
    except RuntimeError as e:
        raise ModelError(f"{path}: weights do not fit the model its config describes ({e})") from e
    return net.to(device).eval(), json.loads(meta.get("extra", "{}"))


def _optimiser_tensors(prefix: str, opt: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    out = {}
    for index, state in opt.state_dict()["state"].items():
        for key, value in state.items():
            t = value if isinstance(value, torch.Tensor) else torch.tensor(value)
            out[f"{prefix}.{index}.{key}"] = t
    return out


def _restore_optimiser(prefix: str, opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor]) -> None:
    sd = opt.state_dict()
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, t in tensors.items():
        head, _, rest = name.partition(".")
        if head != prefix:
            continue
        index, _, key = rest.partition(".")
        state.setdefault(int(index), {})[key] = t
    sd["state"] = state
    opt.load_state_dict(sd)


def save_state(path: Path, disc: nn.Module, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
               step: int, info: dict[str, Any]) -> Path:
    """Everything besides the generator that resuming needs."""
    tensors = {f"disc.{k}": v for k, v in disc.state_dict().items()}
    tensors.update(_optimiser_tensors("opt_g", opt_g))
    tensors.update(_optimiser_tensors("opt_d", opt_d))
    return _atomic_save(tensors, {"format": STATE_FORMAT, "step": str(step), "info": json.dumps(info)}, path)


def load_state(path: Path, disc: nn.Module, opt_g: torch.optim.Optimizer,
               opt_d: torch.optim.Optimizer) -> tuple[int, dict[str, Any]]:
    """Restore the discriminator and optimisers in place; returns the step and the saved info."""
    tensors, meta = _read(path, STATE_FORMAT)
    disc.load_state_dict({k[5:]: v for k, v in tensors.items() if k.startswith("disc.")})
    _restore_optimiser("opt_g", opt_g, tensors)
    _restore_optimiser("opt_d", opt_d, tensors)
    return int(meta["step"]), json.loads(meta.get("info", "{}"))
