"""The runner interface: inputs checked against the model's metadata, reused outputs, clear load errors, parity."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from avatar.errors import ModelError
from avatar.runtime.manifest import TensorSpec
from avatar.runtime.onnx_runner import OnnxRuntimeRunner
from avatar.runtime.runner import RunnerInputError, static_shape
from tests.conftest import missing

try:
    import torch

    from avatar.runtime.torch_runner import TorchRunner
except ImportError:  # the `train` extra; CI installs it
    torch = None

IN = (TensorSpec("x", (1, 3), "float32"),)
OUT = (TensorSpec("y", (1, 4), "float32"),)


def _module():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh())


@pytest.fixture(scope="module")
def onnx_file(tmp_path_factory) -> Path:
    if torch is None:
        missing("torch (pip install -e '.[train]')")
    path = tmp_path_factory.mktemp("runner") / "tiny.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(_module().eval(), (torch.zeros(1, 3),), str(path), dynamo=False, opset_version=17,
                          input_names=["x"], output_names=["y"])
    return path


def test_infer_checks_names_shapes_and_dtypes(onnx_file: Path) -> None:
    with OnnxRuntimeRunner(onnx_file, IN, OUT, threads=1) as runner:
        good = np.zeros((1, 3), np.float32)
        assert runner.infer({"x": good})["y"].shape == (1, 4)
        with pytest.raises(RunnerInputError, match=r"missing \['x'\], unknown \['code'\]"):
            runner.infer({"code": good})
        with pytest.raises(RunnerInputError, match=r"must have shape \[1, 3\], got \[1, 5\]"):
            runner.infer({"x": np.zeros((1, 5), np.float32)})
        with pytest.raises(RunnerInputError, match="must be float32, got float64"):
            runner.infer({"x": np.zeros((1, 3))})
        with pytest.raises(RunnerInputError, match="numpy array"):
            runner.infer({"x": [[0.0, 0.0, 0.0]]})
        with pytest.raises(RunnerInputError, match="C-contiguous"):
            runner.infer({"x": np.zeros((1, 6), np.float32)[:, ::2]})


def test_outputs_are_reused_buffers(onnx_file: Path) -> None:
    with OnnxRuntimeRunner(onnx_file, IN, OUT, threads=1) as runner:
        first = runner.infer({"x": np.zeros((1, 3), np.float32)})["y"]
        kept = first.copy()
        second = runner.infer({"x": np.ones((1, 3), np.float32)}, check=False)["y"]
        assert second is first  # documented: the same buffer every call
        assert not np.allclose(first, kept)


def test_infer_needs_activation(onnx_file: Path) -> None:
    runner = OnnxRuntimeRunner(onnx_file, IN, OUT)
    with pytest.raises(ModelError, match="before activate"):
        runner.infer({"x": np.zeros((1, 3), np.float32)})
    with runner:
        assert runner.active
    assert not runner.active


def test_metadata_mismatch_names_the_file(onnx_file: Path) -> None:
    wrong = (TensorSpec("x", (1, 5), "float32"),)
    with pytest.raises(ModelError, match=r"tiny.onnx has inputs .* the manifest says"):
        OnnxRuntimeRunner(onnx_file, wrong, OUT).activate()


def test_corrupt_and_missing_files_say_what_to_do(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model at all")
    with pytest.raises(ModelError, match=r"cannot load .*bad.onnx.*restore it"):
        OnnxRuntimeRunner(bad, IN, OUT).activate()
    with pytest.raises(ModelError, match=r"gone.onnx is missing"):
        OnnxRuntimeRunner(tmp_path / "gone.onnx", IN, OUT).activate()


def test_onnx_runtime_matches_torch(onnx_file: Path) -> None:
    """Parity on the CPU at 1e-6 (float32 rounding of one linear layer)."""
    x = np.random.default_rng(1).normal(size=(1, 3)).astype(np.float32)
    with OnnxRuntimeRunner(onnx_file, IN, OUT, threads=1) as ort_runner, TorchRunner(_module, IN, OUT) as t_runner:
        a = ort_runner.infer({"x": x})["y"].copy()
        b = t_runner.infer({"x": x})["y"]
    assert np.abs(a - b).max() < 1e-6


def test_dynamic_outputs_are_refused() -> None:
    with pytest.raises(ModelError, match="dynamic shape"):
        static_shape(TensorSpec("y", ("batch", 4), "float32"), "test")
