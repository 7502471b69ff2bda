"""Export the generator to ONNX, check it against torch, score the exported file and ship it in engines/."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from avatar.errors import ModelError
from avatar.expression.rig import N_FIELDS, REST, RIG_VERSION
from avatar.generator.checkpoint import save_generator
from avatar.generator.data import cached_renders, held_out_codes
from avatar.generator.metrics import Quality, premultiply, quality, sheet
from avatar.generator.network import INPUT_NAME, OUTPUT_NAME, Generator, count_macs
from avatar.runtime.manifest import SHIPPED_ENGINES, ModelEntry, TensorSpec, file_sha256, write_entry
from avatar.runtime.neural import model_name
from avatar.runtime.onnx_runner import OnnxRuntimeRunner

log = logging.getLogger(__name__)

OPSET = 17
PARITY_TOL = 2e-3  # max |torch − ONNX Runtime| on 0..1 outputs: float32 rounding through ~300 ops, << 1/255


def specs(size: int) -> tuple[tuple[TensorSpec, ...], tuple[TensorSpec, ...]]:
    """Static shapes: one code in, one straight-alpha RGBA head (float 0..1, channels last) out."""
    return ((TensorSpec(INPUT_NAME, (1, N_FIELDS), "float32"),),
            (TensorSpec(OUTPUT_NAME, (1, size, size, 4), "float32"),))


def export_onnx(net: Generator, path: Path) -> Path:
    """Write the generator as ONNX (opset 17, static shapes, batch 1)."""
    net = net.cpu().eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    example = torch.from_numpy(REST.copy()).view(1, N_FIELDS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch calls its TorchScript exporter legacy; it is the one we want
        torch.onnx.export(net, (example,), str(path), dynamo=False, opset_version=OPSET, do_constant_folding=True,
                          input_names=[INPUT_NAME], output_names=[OUTPUT_NAME])
    return path


def run_onnx(path: Path, codes: np.ndarray, size: int, threads: int = 2) -> np.ndarray:
    """Straight RGBA (N, S, S, 4) float from the ONNX file, one code at a time (its batch is 1)."""
    inputs, outputs = specs(size)
    out = np.empty((len(codes), size, size, 4), np.float32)
    with OnnxRuntimeRunner(path, inputs, outputs, threads=threads) as runner:
        for i, code in enumerate(codes):
            out[i] = runner.infer({INPUT_NAME: np.ascontiguousarray(code[None], np.float32)})[OUTPUT_NAME][0]
    return out


def parity(net: Generator, path: Path, codes: np.ndarray) -> float:
    """Largest difference between torch (CPU, float32) and ONNX Runtime (CPU) over the codes."""
    with torch.no_grad():
        expected = net.cpu().eval()(torch.from_numpy(codes)).numpy()
    return float(np.abs(expected - run_onnx(path, codes, net.config.size)).max())


@dataclass(frozen=True)
class Score:
    quality: Quality
    generated: np.ndarray  # premultiplied (N, S, S, 4)
    reference: np.ndarray


def score_onnx(path: Path, size: int, n_codes: int, cache_dir: Path) -> Score:
    """The exported file's quality on the held-out codes, against the studio renderer."""
    codes = held_out_codes(n_codes)
    reference = premultiply(np.asarray(cached_renders(codes, size, cache_dir, "eval")))
    generated = premultiply(run_onnx(path, codes, size))
    return Score(quality(generated, reference), generated, reference)


def write_sheet(score: Score, path: Path, n: int = 8) -> Path:
    """reference | generated pairs as a PNG (e.g. docs/generator_sheet.png)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    picture = sheet(score.reference[:n], score.generated[:n])
    if not cv2.imwrite(str(path), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR)):
        raise ModelError(f"cannot write {path}")
    return path


def ship(net: Generator, training: dict[str, Any], root: Path = SHIPPED_ENGINES, cache_dir: Path | None = None,
         eval_codes: int = 48) -> tuple[ModelEntry, Score]:
    """Export, verify parity, score the ONNX file, write both files and merge the manifest entry."""
    from avatar.generator.data import default_cache_dir

    size = net.config.size
    name = model_name(size)
    onnx = export_onnx(net, root / f"{name}.onnx")
    weights = save_generator(net, root / f"{name}.safetensors", {"training": training})
    worst = parity(net, onnx, held_out_codes(8))
    if worst > PARITY_TOL:
        raise ModelError(f"the exported generator differs from torch by {worst:.2e} (> {PARITY_TOL}); not shipped")
    score = score_onnx(onnx, size, eval_codes, cache_dir or default_cache_dir())
    q = score.quality
    inputs, outputs = specs(size)
    macs = count_macs(net.cpu(), torch.from_numpy(REST.copy()).view(1, N_FIELDS))
    metrics = {"held_out": {**q.to_dict(), "space": "premultiplied RGBA vs the studio renderer",
                            "codes": f"held_out_codes({eval_codes}): rest, 4 pure expressions, seeded samples"},
               "bars_met": q.meets(), "bars": "PSNR ≥ 30 dB, SSIM ≥ 0.95, gradient ratio ≥ 0.9 at 256",
               "macs_per_frame": macs, "onnx_parity_max_abs": float(f"{worst:.3g}")}
    entry = ModelEntry(
        name=name, file=onnx.name, sha256=file_sha256(onnx), rig_version=RIG_VERSION, kind="generator",
        inputs=inputs, outputs=outputs, training=training, metrics=metrics,
        extra={"checkpoint": weights.name, "checkpoint_sha256": file_sha256(weights), "opset": OPSET,
               "units": "code: the 21 rig fields in RIG_FIELDS order (clamped in the graph too); rgba: straight "
                        "alpha, 0..1, channels last"},
    )
    write_entry(entry, root)
    log.info("shipped %s (%s): %s", onnx, entry.sha256[:12], q.to_dict())
    return entry, score
