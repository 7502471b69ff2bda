"""The neural engines end to end on a tiny shipped generator: manifest checks, parity, fallbacks, bad input."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from avatar.cli import main
from avatar.errors import ConfigError, ModelError, RigError
from avatar.expression.rig import FIELD_INDEX, RigCode
from avatar.frames import PixelFormat
from avatar.runtime.engines import EngineConfig, make_engine
from avatar.runtime.tensorrt_runner import cache_key
from tests.conftest import missing

try:
    import torch

    from avatar.generator.data import held_out_codes
    from avatar.generator.export import ship
    from avatar.generator.network import Generator, GeneratorConfig
    from avatar.runtime.neural import open_runner
except ImportError:  # the `train` extra; CI installs it
    torch = None

SIZE = 64


@pytest.fixture(scope="module")
def shipped(tmp_path_factory) -> Path:
    """An engines folder holding a 64 px generator with random (not zero) output weights."""
    if torch is None:
        missing("torch (pip install -e '.[train]')")
    torch.manual_seed(0)
    net = Generator(GeneratorConfig(size=SIZE, trunk=8, hidden=8, film=16))
    torch.nn.init.normal_(net.out.weight, std=0.3)
    root = tmp_path_factory.mktemp("engines")
    ship(net, {"command": "test fixture"}, root, cache_dir=root.parent / "cache", eval_codes=4)
    return root


def _copy(shipped: Path, tmp_path: Path) -> Path:
    root = tmp_path / "engines"
    shutil.copytree(shipped, root)
    return root


def test_manifest_entry_describes_the_files(shipped: Path) -> None:
    entry = json.loads((shipped / "manifest.json").read_text())["models"]["generator_64"]
    assert entry["kind"] == "generator" and entry["file"] == "generator_64.onnx"
    assert entry["inputs"] == [{"name": "code", "shape": [1, 21], "dtype": "float32"}]
    assert entry["outputs"] == [{"name": "rgba", "shape": [1, 64, 64, 4], "dtype": "float32"}]
    assert entry["checkpoint"] == "generator_64.safetensors" and len(entry["checkpoint_sha256"]) == 64
    assert {"psnr_db", "ssim", "gradient_ratio"} <= set(entry["metrics"]["held_out"])
    assert entry["metrics"]["onnx_parity_max_abs"] < 2e-3


def test_onnx_runtime_matches_torch_on_the_cpu(shipped: Path) -> None:
    """Parity at 1e-4 on 0..1 outputs (float32; the analytic layout is ~300 elementwise ops deep)."""
    codes = held_out_codes(6)
    with open_runner("onnx", SIZE, shipped, threads=1) as o, open_runner("torch", SIZE, shipped, threads=1) as t:
        assert (o.name, t.name) == ("onnxruntime-cpu", "torch-cpu")
        worst = max(float(np.abs(o.infer({"code": c[None]})["rgba"] - t.infer({"code": c[None]})["rgba"]).max())
                    for c in codes)
    assert worst < 1e-4


def test_engine_draws_rgba_heads(shipped: Path) -> None:
    engine = make_engine(EngineConfig(engine="onnx", size=SIZE, models=str(shipped)))
    try:
        image = engine.render(RigCode.from_dict({"happy": 1.0, "head_yaw": 20.0}))
        again = engine.render(RigCode.rest())
    finally:
        engine.close()
    assert image.format is PixelFormat.RGBA and image.pixels.shape == (SIZE, SIZE, 4)
    assert image.pixels.dtype == np.uint8 and image.pixels is not again.pixels  # frames are not reused
    assert image.pixels[SIZE // 2, SIZE // 2, 3] > 128 and image.pixels[0, 0, 3] == 0  # a head, transparent corners


def test_auto_falls_back_to_onnx_cpu_naming_each_cause(shipped: Path, caplog) -> None:
    caplog.set_level(logging.DEBUG)  # an absent GPU back end is the normal case: logged quietly
    engine = make_engine(EngineConfig(engine="auto", size=SIZE, models=str(shipped)))
    engine.close()
    if engine.name != "onnxruntime-cpu":
        pytest.skip(f"this machine has a GPU back end ({engine.name})")
    assert "tensorrt back end unavailable" in caplog.text  # with its cause, then the next one tried
    assert "trying onnx-cuda" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and "unavailable" in r.message]


def test_tensorrt_without_gpu_says_why(shipped: Path) -> None:
    try:
        import tensorrt  # noqa: F401
        if torch.cuda.is_available():
            pytest.skip("TensorRT and a GPU are here: tests/gpu covers it")
    except ImportError:
        pass
    with pytest.raises(ModelError, match=r"tensorrt: (TensorRT is not installed|no NVIDIA GPU)"):
        make_engine(EngineConfig(engine="tensorrt", size=SIZE, models=str(shipped)))
    assert main(["build-engine", "--size", str(SIZE), "--engines", str(shipped)]) == 2


def test_nan_is_set_to_rest_and_unknown_fields_are_refused(shipped: Path, caplog) -> None:
    caplog.set_level(logging.WARNING)
    values = RigCode.rest().values.copy()
    values[FIELD_INDEX["jaw_open"]] = np.nan
    engine = make_engine(EngineConfig(engine="onnx", size=SIZE, models=str(shipped)))
    try:
        bad = engine.render(RigCode(values)).pixels
        engine.render(RigCode(values))
        rest = engine.render(RigCode.rest()).pixels
    finally:
        engine.close()
    assert np.array_equal(bad, rest)
    assert caplog.text.count("non-finite jaw_open") == 1  # warned once, not every frame
    with pytest.raises(RigError, match="unknown rig field"):
        RigCode.from_dict({"jaw_opne": 1.0})


def test_corrupt_model_file_is_refused_with_the_fix(shipped: Path, tmp_path: Path) -> None:
    root = _copy(shipped, tmp_path)
    onnx = root / "generator_64.onnx"
    onnx.write_bytes(onnx.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(ModelError, match=r"generator_64.onnx is corrupt or was replaced .* restore it"):
        make_engine(EngineConfig(engine="onnx", size=SIZE, models=str(root)))
    onnx.unlink()
    with pytest.raises(ModelError, match=r"generator_64.onnx is missing; restore engines/"):
        make_engine(EngineConfig(engine="onnx", size=SIZE, models=str(root)))


def test_corrupt_checkpoint_stops_the_torch_engine(shipped: Path, tmp_path: Path) -> None:
    root = _copy(shipped, tmp_path)
    (root / "generator_64.safetensors").write_bytes(b"garbage")
    with pytest.raises(ModelError, match=r"generator_64.safetensors is corrupt"):
        make_engine(EngineConfig(engine="torch", size=SIZE, models=str(root)))


def test_rig_version_mismatch_is_refused(shipped: Path, tmp_path: Path) -> None:
    root = _copy(shipped, tmp_path)
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["models"]["generator_64"]["rig_version"] = 99
    (root / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match=r"generator_64.onnx was made for rig version 99.*retrain it"):
        make_engine(EngineConfig(engine="onnx", size=SIZE, models=str(root)))


def test_unshipped_size_names_the_shipped_ones(shipped: Path) -> None:
    with pytest.raises(ModelError, match=r"no generator for 128x128 .*shipped sizes are 64.*--engine reference"):
        make_engine(EngineConfig(engine="onnx", size=128, models=str(shipped)))


def test_engine_config_names_the_choices() -> None:
    with pytest.raises(ConfigError, match="reference, onnx, torch, tensorrt, auto"):
        EngineConfig(engine="trt")
    with pytest.raises(ConfigError, match=r"engine\.threads"):
        EngineConfig(threads=0)


def test_cache_key_names_everything_the_engine_depends_on() -> None:
    base = ("a" * 64, "10.3.0", "NVIDIA H100", "fp16", {"code": (1, 21)})
    key = cache_key(*base)
    assert key == cache_key(*base)
    for i, other in enumerate(("b" * 64, "10.4.0", "NVIDIA L4", "fp32", {"code": (2, 21)})):
        changed = list(base)
        changed[i] = other
        assert cache_key(*changed) != key


def test_auto_without_a_model_draws_with_the_studio_renderer(tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.WARNING)
    engine = make_engine(EngineConfig(engine="auto", size=48, models=str(tmp_path)))
    assert engine.name == "reference" and engine.render(RigCode.rest()).pixels.shape == (48, 48, 4)
    assert "using the studio renderer" in caplog.text
