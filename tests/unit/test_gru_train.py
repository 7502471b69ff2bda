"""Training the smoother: the loop learns, runs are seeded, checkpoints rebuild the model, export matches torch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import missing

try:
    import torch

    from avatar.smoothing.model import GruConfig, GruSmootherNet
    from avatar.smoothing.ship import export_onnx, parity, train_and_ship
    from avatar.smoothing.train import (
        TrainConfig,
        load_checkpoint,
        loss_fn,
        make_pool,
        realism,
        save_checkpoint,
        train,
        unroll,
    )
except ImportError as e:  # the `train` extra; CI installs it
    torch = None
    _why = e.name

from avatar.errors import ConfigError
from avatar.runtime.manifest import read_manifest, write_entry
from avatar.smoothing.gru import GruModel
from avatar.smoothing.noise import NoiseProfile

TINY = dict(steps=12, batch=8, frames=40, clips=16, hidden=12, lr=1e-2)


@pytest.fixture(autouse=True)
def _needs_torch() -> None:
    if torch is None:
        missing(f"{_why} (pip install -e '.[train]')")
    torch.set_num_threads(1)


def test_config_is_validated() -> None:
    with pytest.raises(ConfigError, match=r"train\.batch"):
        TrainConfig(batch=0)


def test_a_few_steps_lower_the_loss_and_runs_are_seeded() -> None:
    profile = NoiseProfile.load()
    pool = make_pool(profile, 8, 40, seed=5)
    torch.manual_seed(0)
    fresh = GruSmootherNet(GruConfig(hidden=12), torch.tensor(profile.std, dtype=torch.float32))
    with torch.no_grad():
        before = float(loss_fn(fresh, unroll(fresh, pool.x, pool.aux), pool, 4.0))
    losses: list[float] = []
    run = train(TrainConfig(**TINY), profile, lambda s, n, loss: losses.append(loss))
    a, b = run.net, train(TrainConfig(**TINY), profile).net
    assert run.steps == len(losses) == TINY["steps"] and np.mean(losses[-3:]) < np.mean(losses[:3])
    with torch.no_grad():
        after = float(loss_fn(a, unroll(a, pool.x, pool.aux), pool, 4.0))
    assert after < before
    for pa, pb in zip(a.state_dict().values(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb)


def test_still_weight_penalises_only_a_shaking_output_where_the_truth_is_still() -> None:
    profile = NoiseProfile.load()
    pool = make_pool(profile, 4, 60, seed=3, realism=realism(TrainConfig(sway=2.0, hop_rate=0.01)))
    assert 0 < float(pool.still.mean()) < 1
    net = GruSmootherNet(GruConfig(hidden=8), torch.tensor(profile.std, dtype=torch.float32))
    calm, shaky = pool.clean.clone(), pool.clean.clone()
    shaky[:, 1::2] += 0.01
    with torch.no_grad():
        # the truth itself curves a little on a still stretch (sway below the still speed): almost no cost
        assert float(loss_fn(net, calm, pool, 0.0, 5.0)) < 0.01 * float(loss_fn(net, shaky, pool, 0.0, 5.0))
        plain = float(loss_fn(net, shaky, pool, 4.0))
        assert float(loss_fn(net, shaky, pool, 4.0, 5.0)) > plain > 0
    with pytest.raises(ConfigError, match=r"field_scale_lo"):
        TrainConfig(field_scale_lo=2.0, field_scale_hi=1.0)
    with pytest.raises(ConfigError, match=r"train.jumps"):
        TrainConfig(jumps=-1.0)
    assert realism(TrainConfig(jumps=2.0)).jumps == 2.0


def test_checkpoint_rebuilds_the_model_from_the_file_alone(tmp_path: Path) -> None:
    net = GruSmootherNet(GruConfig(hidden=10), torch.rand(16) * 0.01)
    path = save_checkpoint(net, TrainConfig(**TINY), tmp_path / "s.safetensors")
    back = load_checkpoint(path)
    assert back.config == net.config
    x = torch.rand(3, 16) * 0.1
    aux = torch.ones(3, 3)
    with torch.no_grad():
        assert torch.equal(back(x, aux, back.initial_state(x))[0], net(x, aux, net.initial_state(x))[0])
    assert json.loads(path.with_suffix(".json").read_text())["model"]["hidden"] == 10


def test_onnx_export_matches_torch(tmp_path: Path) -> None:
    torch.manual_seed(1)
    net = GruSmootherNet(GruConfig(hidden=10), torch.rand(16) * 0.01 + 0.001).eval()
    export_onnx(net, tmp_path / "s.onnx")
    write_entry(_probe_entry(tmp_path / "s.onnx", net), tmp_path)
    assert parity(net, GruModel.load(tmp_path)) < 1e-5


def _probe_entry(path: Path, net):
    from avatar.smoothing.ship import model_entry

    profile = Path(__file__).resolve().parents[2] / "avatar" / "smoothing" / "noise_profile.json"
    return model_entry(path, net, TrainConfig(**TINY), {}, profile)


def test_train_and_ship_writes_model_checkpoint_and_merges_the_manifest(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text(json.dumps({"version": 1, "models": {"generator": {
        "file": "g.onnx", "sha256": "00", "rig_version": 1, "inputs": [], "outputs": []}}}))
    shipped = train_and_ship(TrainConfig(**{**TINY, "steps": 2}), tmp_path, eval_clips=2)
    entries = read_manifest(tmp_path)
    assert set(entries) == {"generator", "smoother"}
    assert entries["smoother"].metrics["held_out_synthetic"]["rmse"] > 0
    assert shipped.checkpoint.is_file() and shipped.parity < 1e-4
    assert GruModel.load(tmp_path).hidden == TINY["hidden"]
