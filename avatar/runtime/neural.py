"""The neural generator as a head engine: the shipped model, verified, run by the back end asked for.

`--engine onnx` (ONNX Runtime: CUDA provider when present, else CPU), `torch` (CUDA fp16 when present, else
CPU), `tensorrt` (an FP16 engine on an NVIDIA GPU), `auto`: TensorRT, then ONNX Runtime CUDA, then torch CUDA,
then ONNX Runtime CPU, each failure logged with its cause before the next is tried.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from avatar.errors import EmoteBotError, ModelError
from avatar.expression.rig import N_FIELDS, RigCode, sanitize
from avatar.frames import Image, PixelFormat
from avatar.runtime.manifest import (
    MANIFEST_NAME,
    SHIPPED_ENGINES,
    ModelEntry,
    read_manifest,
    verified_companion,
    verified_path,
)
from avatar.runtime.runner import Runner

log = logging.getLogger(__name__)

NEURAL_ENGINES = ("onnx", "torch", "tensorrt", "auto")
AUTO_ORDER = ("tensorrt", "onnx-cuda", "torch-cuda", "onnx-cpu")


def model_name(size: int) -> str:
    """The manifest key of the generator drawing heads `size` pixels wide."""
    return f"generator_{size}"


def generator_entry(size: int, root: Path = SHIPPED_ENGINES) -> tuple[ModelEntry, Path]:
    """The verified manifest entry and ONNX file of the generator for this head size."""
    entries = read_manifest(root)
    if model_name(size) not in entries:
        sizes = sorted(e.name.removeprefix("generator_") for e in entries.values() if e.kind == "generator")
        shipped = f"the shipped sizes are {', '.join(sizes)} (--size)" if sizes else "none is shipped"
        raise ModelError(f"no generator for {size}x{size} heads in {root / MANIFEST_NAME} ({shipped}); train one "
                         f"with `emotebot train generator --size {size} --ship`, or use --engine reference")
    return verified_path(model_name(size), root)


@dataclass(frozen=True)
class Choice:
    """How to open one back end."""

    kind: str  # one of AUTO_ORDER
    open: Callable[[], Runner]


def _tensorrt(entry: ModelEntry, onnx: Path, cache: Path) -> Runner:
    from avatar.runtime.tensorrt_runner import TensorRTRunner, build_engine

    shapes = {s.name: tuple(int(d) for d in s.shape) for s in entry.inputs}
    built = build_engine(onnx, shapes, "fp16", cache)
    return TensorRTRunner(built.path, entry.inputs, entry.outputs)


def _onnx(entry: ModelEntry, onnx: Path, cuda: bool, threads: int) -> Runner:
    from avatar.runtime.onnx_runner import OnnxRuntimeRunner, cuda_available

    if cuda and not cuda_available():
        raise ModelError("this onnxruntime has no CUDA provider (pip install onnxruntime-gpu)")
    return OnnxRuntimeRunner(onnx, entry.inputs, entry.outputs, cuda=cuda, threads=threads)


def _torch(entry: ModelEntry, root: Path, cuda: bool, threads: int) -> Runner:
    from avatar.runtime.torch_runner import TorchRunner, cuda_available

    if cuda and not cuda_available():
        raise ModelError("torch sees no CUDA GPU")
    weights = verified_companion(entry, "checkpoint", root)

    def factory():
        from avatar.generator.checkpoint import load_generator

        return load_generator(weights)[0]

    return TorchRunner(factory, entry.inputs, entry.outputs, cuda=cuda, threads=threads)


def choices(engine: str, size: int, root: Path, threads: int) -> list[Choice]:
    """The back ends `engine` may use, in the order to try them."""
    entry, onnx = generator_entry(size, root)
    table = {
        "tensorrt": lambda: _tensorrt(entry, onnx, root / "cache"),
        "onnx-cuda": lambda: _onnx(entry, onnx, True, threads),
        "onnx-cpu": lambda: _onnx(entry, onnx, False, threads),
        "torch-cuda": lambda: _torch(entry, root, True, threads),
        "torch-cpu": lambda: _torch(entry, root, False, threads),
    }
    order = {"tensorrt": ("tensorrt",), "auto": AUTO_ORDER, "onnx": ("onnx-cuda", "onnx-cpu"),
             "torch": ("torch-cuda", "torch-cpu")}[engine]
    return [Choice(kind, table[kind]) for kind in order]


def open_runner(engine: str, size: int, root: Path = SHIPPED_ENGINES, threads: int = 2) -> Runner:
    """An activated runner for `engine`, falling back along its order with a warning naming each cause."""
    if engine not in NEURAL_ENGINES:
        raise ModelError(f"unknown neural engine {engine!r}; allowed: {', '.join(NEURAL_ENGINES)}")
    tried: list[str] = []
    options = choices(engine, size, root, threads)
    for i, choice in enumerate(options):
        try:
            runner = choice.open()
            runner.activate()
            return runner
        except EmoteBotError as e:
            tried.append(f"{choice.kind}: {e}")
            if i + 1 < len(options):
                # No GPU or no TensorRT is the normal case on a laptop: say so quietly. A TensorRT that is
                # installed and still fails is worth a warning that names the cause.
                absent = choice.kind.endswith("-cuda") or importlib.util.find_spec(choice.kind) is None
                log.log(logging.DEBUG if absent else logging.WARNING, "%s back end unavailable (%s); trying %s",
                        choice.kind, e, options[i + 1].kind)
    raise ModelError(f"no back end could run the {engine} engine: " + " | ".join(tried))


class NeuralEngine:
    """A head engine that runs the generator through a runner (HeadEngine protocol)."""

    def __init__(self, runner: Runner, size: int) -> None:
        self.runner, self.size = runner, size
        self.name = runner.name  # says which back end really draws (e.g. onnxruntime-cpu)
        self._feed = {"code": np.zeros((1, N_FIELDS), np.float32)}
        self._warned = False
        # Checked once here, then the hot path skips the check (the feed is ours and never changes shape).
        runner.infer(self._feed)

    def render(self, code: RigCode) -> Image:
        clean, report = sanitize(code.values)
        if report and not self._warned:
            log.warning("rig code adjusted before drawing: %s", report)  # once: a bad stream must not flood
            self._warned = True
        self._feed["code"][0] = clean.values
        rgba = self.runner.infer(self._feed, check=False)["rgba"][0]  # (S, S, 4) float 0..1, reused buffer
        return Image(cv2.convertScaleAbs(rgba, alpha=255.0), PixelFormat.RGBA)  # rounds and saturates

    def close(self) -> None:
        self.runner.deactivate()


def open_engine(engine: str, size: int, root: Path = SHIPPED_ENGINES, threads: int = 2) -> NeuralEngine:
    runner = open_runner(engine, size, root, threads)
    log.info("head engine: generator %dx%d on %s", size, size, runner.name)
    return NeuralEngine(runner, size)
