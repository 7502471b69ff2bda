"""TensorRT 10 back end: an FP16 engine built from the ONNX file, cached by what it depends on, run on CUDA.

Cache key (DESIGN): sha256 of the ONNX file + TensorRT version + GPU name + precision + input shapes. An engine
is only valid for the exact TensorRT and GPU that built it, so all of them name the cached file; when the key
changes, the engine is rebuilt with a warning that says why. Device buffers come from torch's CUDA allocator
and are allocated once per activation; `execute_async_v3` runs on the runner's own stream.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from avatar.errors import ModelError
from avatar.runtime.manifest import SHIPPED_ENGINES, TensorSpec, file_sha256
from avatar.runtime.runner import Runner

log = logging.getLogger(__name__)

ENGINE_CACHE = SHIPPED_ENGINES / "cache"  # ignored by git: engines are specific to a GPU and TensorRT build
PRECISIONS = ("fp16", "fp32")
_KEEP_FP32 = "/layout/"  # ONNX node-name scope of the analytic layout raster: distances stay in float32


def import_tensorrt() -> Any:
    """The tensorrt module, or a ModelError that says how to get it."""
    try:
        import tensorrt as trt
    except ImportError as e:
        raise ModelError("TensorRT is not installed: pip install 'emotebot[tensorrt]' on a machine with an NVIDIA "
                         "GPU (or use --engine onnx)") from e
    if int(trt.__version__.split(".")[0]) < 10:
        raise ModelError(f"TensorRT {trt.__version__} is too old: the tensorrt engine needs TensorRT 10")
    return trt


def gpu_name() -> str:
    """The CUDA device the engine is built for, or a ModelError when there is none."""
    try:
        import torch
    except ImportError as e:
        raise ModelError("the tensorrt engine allocates its buffers with torch's CUDA allocator: "
                         "pip install torch (a CUDA build)") from e
    if not torch.cuda.is_available():
        raise ModelError("no NVIDIA GPU is visible to CUDA, so TensorRT cannot run here; use --engine onnx")
    return str(torch.cuda.get_device_name(0))


def cache_key(onnx_sha256: str, trt_version: str, gpu: str, precision: str,
              shapes: Mapping[str, tuple[int, ...]]) -> str:
    """Hex digest naming everything a built engine depends on."""
    text = json.dumps({"onnx": onnx_sha256, "tensorrt": trt_version, "gpu": gpu, "precision": precision,
                       "shapes": {k: list(v) for k, v in sorted(shapes.items())}}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class BuiltEngine:
    """A serialized engine on disk and how it came to be."""

    path: Path
    key: str
    built: bool  # False when it came from the cache
    seconds: float  # build time (0 from the cache)
    about: dict[str, Any]  # the key's parts, also written beside the engine as JSON


def _build_plan(trt: Any, onnx_path: Path, precision: str, workspace_mb: int) -> bytes:
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # TensorRT 10: every network has an explicit batch
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_path.read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ModelError(f"TensorRT cannot parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_mb << 20)
    if precision == "fp16":
        if not builder.platform_has_fast_fp16:
            log.warning("this GPU has no fast fp16; building the fp16 engine anyway")
        config.set_flag(trt.BuilderFlag.FP16)
        config.set_flag(trt.BuilderFlag.PREFER_PRECISION_CONSTRAINTS)
        for i in range(network.num_layers):
            layer = network.get_layer(i)
            outs = [layer.get_output(j) for j in range(layer.num_outputs)]
            if _KEEP_FP32 in layer.name and all(o.dtype == trt.float32 for o in outs):
                layer.precision = trt.float32
                for j in range(layer.num_outputs):
                    layer.set_output_type(j, trt.float32)
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise ModelError(f"TensorRT failed to build an engine from {onnx_path} (see its log above)")
    return bytes(plan)


def build_engine(onnx_path: Path, shapes: Mapping[str, tuple[int, ...]], precision: str = "fp16",
                 cache_dir: Path = ENGINE_CACHE, workspace_mb: int = 1024, force: bool = False) -> BuiltEngine:
    """The cached engine for this ONNX file, TensorRT, GPU, precision and shapes; built when missing."""
    if precision not in PRECISIONS:
        raise ModelError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    trt = import_tensorrt()
    about = {"onnx": onnx_path.name, "onnx_sha256": file_sha256(onnx_path), "tensorrt": trt.__version__,
             "gpu": gpu_name(), "precision": precision, "shapes": {k: list(v) for k, v in shapes.items()}}
    key = cache_key(about["onnx_sha256"], trt.__version__, about["gpu"], precision, shapes)
    path = cache_dir / f"{onnx_path.stem}.{precision}.{key[:20]}.engine"
    if path.is_file() and not force:
        return BuiltEngine(path, key, False, 0.0, about)
    pattern = f"{onnx_path.stem}.{precision}.*.engine"
    stale = sorted(p.name for p in cache_dir.glob(pattern)) if cache_dir.is_dir() else []
    if stale:
        log.warning("cached TensorRT engine %s does not match (the ONNX file, TensorRT %s, GPU %s or shapes "
                    "changed): rebuilding", ", ".join(stale), trt.__version__, about["gpu"])
    log.info("building the TensorRT %s engine for %s on %s (once per ONNX file, TensorRT and GPU; can take a "
             "minute)", precision, onnx_path.name, about["gpu"])
    t0 = time.perf_counter()
    plan = _build_plan(trt, onnx_path, precision, workspace_mb)
    seconds = time.perf_counter() - t0
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    tmp.write_bytes(plan)
    os.replace(tmp, path)
    for name in stale:
        (cache_dir / name).unlink(missing_ok=True)
    path.with_suffix(".json").write_text(json.dumps({**about, "key": key, "build_seconds": round(seconds, 1)},
                                                    indent=1) + "\n", encoding="utf-8")
    log.info("built TensorRT %s engine %s in %.1f s", precision, path, seconds)
    return BuiltEngine(path, key, True, seconds, about)


class TensorRTRunner(Runner):
    """A serialized TensorRT engine; device and pinned host buffers are allocated once in activate()."""

    def __init__(self, engine_path: Path, inputs: tuple[TensorSpec, ...], outputs: tuple[TensorSpec, ...]) -> None:
        super().__init__("tensorrt", inputs, outputs)
        self.engine_path = Path(engine_path)
        self._state: dict[str, Any] = {}
        self._out: dict[str, np.ndarray] = {}

    def _activate(self) -> None:
        trt = import_tensorrt()
        gpu_name()
        import torch

        runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        engine = runtime.deserialize_cuda_engine(self.engine_path.read_bytes())
        if engine is None:
            raise ModelError(f"TensorRT cannot load {self.engine_path} (built by another TensorRT or corrupt); "
                             "delete it and run `emotebot build-engine`")
        context = engine.create_execution_context()
        device: dict[str, Any] = {}
        host: dict[str, Any] = {}
        for i in range(engine.num_io_tensors):
            name = engine.get_tensor_name(i)
            shape = tuple(engine.get_tensor_shape(name))
            dtype = torch.from_numpy(np.empty(0, trt.nptype(engine.get_tensor_dtype(name)))).dtype
            device[name] = torch.empty(shape, dtype=dtype, device="cuda")
            host[name] = torch.empty(shape, dtype=dtype, pin_memory=True)
            context.set_tensor_address(name, device[name].data_ptr())
            is_input = engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
            specs = self.inputs if is_input else self.outputs
            spec = next((s for s in specs if s.name == name), None)
            if spec is None or tuple(spec.shape) != shape:
                raise ModelError(f"{self.engine_path.name}: tensor {name} {list(shape)} is not in the manifest's "
                                 f"{'inputs' if is_input else 'outputs'}; rebuild with `emotebot build-engine`")
        self._state = {"engine": engine, "context": context, "device": device, "host": host,
                       "stream": torch.cuda.Stream(), "runtime": runtime}
        self._out = {s.name: host[s.name].numpy() for s in self.outputs}

    def _deactivate(self) -> None:
        self._state, self._out = {}, {}

    def _infer(self, feed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        import torch

        st = self._state
        stream = st["stream"]
        with torch.cuda.stream(stream):
            for name, value in feed.items():
                st["host"][name].numpy()[...] = value  # into pinned memory: the upload can be asynchronous
                st["device"][name].copy_(st["host"][name], non_blocking=True)
            if not st["context"].execute_async_v3(stream.cuda_stream):
                raise ModelError(f"TensorRT failed to run {self.engine_path.name}")
            for spec in self.outputs:
                st["host"][spec.name].copy_(st["device"][spec.name], non_blocking=True)
        stream.synchronize()
        return self._out
