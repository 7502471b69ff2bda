"""The generator on an NVIDIA GPU: TensorRT, ONNX Runtime CUDA and torch CUDA fp16 against ONNX Runtime CPU.

Marked `gpu` and skipped where CUDA is absent; on a machine with a GPU they run for real (speed is measured by
benchmarks/generator.py, not here).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from avatar.runtime.manifest import SHIPPED_ENGINES, read_manifest

pytestmark = pytest.mark.gpu

torch = pytest.importorskip("torch")
if not torch.cuda.is_available():
    pytest.skip("no CUDA GPU", allow_module_level=True)

from avatar.generator.data import held_out_codes  # noqa: E402  (after the skip: needs torch)
from avatar.runtime.neural import choices, open_runner  # noqa: E402

FP16_TOL = 0.03  # max |difference| on 0..1 outputs: fp16 convolutions, float32 geometry
MEAN_TOL = 2e-3  # mean |difference|: fp16 must not shift colours


def _sizes() -> list[int]:
    sizes = [int(n.removeprefix("generator_")) for n, e in read_manifest(SHIPPED_ENGINES).items()
             if e.kind == "generator"]
    return sizes or [256]


def _compare(kind: str, size: int, root: Path = SHIPPED_ENGINES) -> tuple[float, float]:
    codes = held_out_codes(8)
    cpu = next(c for c in choices("onnx", size, root, 2) if c.kind == "onnx-cpu")
    with cpu.open() as ref_runner:
        ref = np.stack([ref_runner.infer({"code": c[None]})["rgba"].copy() for c in codes])
    with open_runner(kind, size, root) as runner:
        out = np.stack([runner.infer({"code": c[None]})["rgba"].copy() for c in codes])
    diff = np.abs(out - ref)
    return float(diff.max()), float(diff.mean())


@pytest.mark.parametrize("size", _sizes())
def test_torch_cuda_fp16_matches_onnx_runtime(size: int) -> None:
    worst, mean = _compare("torch", size)
    assert worst < FP16_TOL and mean < MEAN_TOL


@pytest.mark.parametrize("size", _sizes())
def test_tensorrt_fp16_matches_onnx_runtime(size: int) -> None:
    pytest.importorskip("tensorrt")
    worst, mean = _compare("tensorrt", size)
    assert worst < FP16_TOL and mean < MEAN_TOL


@pytest.mark.parametrize("size", _sizes())
def test_onnx_runtime_cuda_matches_cpu(size: int) -> None:
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        pytest.skip("onnxruntime without the CUDA provider (pip install onnxruntime-gpu)")
    worst, mean = _compare("onnx", size)  # onnx picks CUDA first when present
    assert worst < 1e-3 and mean < 1e-4
