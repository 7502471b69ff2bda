"""One runner interface for every inference back end: `infer(dict of arrays) -> dict of arrays`, as a context.

    with OnnxRuntimeRunner(path, inputs, outputs) as runner:
        out = runner.infer({"code": code})          # checked against the model's inputs
        out = runner.infer({"code": code}, check=False)  # the hot path, once the caller is known to be right

`activate()` (or entering the `with`) loads the model and allocates every buffer once; `deactivate()` frees
them. The arrays `infer` returns are the runner's own output buffers, REUSED by the next call: copy what you
keep. Back ends: onnx_runner (ONNX Runtime, CPU or CUDA), torch_runner (torch, CPU or CUDA fp16),
tensorrt_runner (TensorRT 10). Each is imported lazily, so a missing library only matters when it is used.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType

import numpy as np

from avatar.errors import ModelError
from avatar.runtime.manifest import TensorSpec


class RunnerInputError(ModelError):
    """A feed that does not match the model's inputs: a wrong name, shape or dtype."""


def check_feed(feed: Mapping[str, object], specs: tuple[TensorSpec, ...], where: str) -> None:
    """Raise RunnerInputError unless feed has exactly the named inputs, each of the expected shape and dtype."""
    if not isinstance(feed, Mapping):
        raise RunnerInputError(f"{where}: infer() takes a dict of input name → numpy array, got {type(feed).__name__}")
    expected = [s.name for s in specs]
    missing = [n for n in expected if n not in feed]
    unknown = [n for n in feed if n not in expected]
    if missing or unknown:
        raise RunnerInputError(f"{where}: inputs must be exactly {expected}; missing {missing}, unknown {unknown}")
    for spec in specs:
        value = feed[spec.name]
        if not isinstance(value, np.ndarray):
            raise RunnerInputError(f"{where}: input {spec.name!r} must be a numpy array, got {type(value).__name__}")
        if value.dtype != np.dtype(spec.dtype):
            raise RunnerInputError(f"{where}: input {spec.name!r} must be {spec.dtype}, got {value.dtype}")
        shape_ok = value.ndim == len(spec.shape) and all(
            isinstance(want, str) or want == got for want, got in zip(spec.shape, value.shape, strict=True))
        if not shape_ok:
            raise RunnerInputError(f"{where}: input {spec.name!r} must have shape {list(spec.shape)}, "
                                   f"got {list(value.shape)}")
        if not value.flags.c_contiguous:
            raise RunnerInputError(f"{where}: input {spec.name!r} must be C-contiguous (np.ascontiguousarray)")


class Runner:
    """What every back end shares: its metadata, the context protocol and the input check."""

    def __init__(self, name: str, inputs: tuple[TensorSpec, ...], outputs: tuple[TensorSpec, ...]) -> None:
        self.name = name  # e.g. "onnxruntime-cpu"; says which back end really runs
        self.inputs = inputs
        self.outputs = outputs
        self.active = False

    def activate(self) -> None:
        if not self.active:
            self._activate()
            self.active = True

    def deactivate(self) -> None:
        if self.active:
            self.active = False
            self._deactivate()

    def __enter__(self) -> Runner:
        self.activate()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.deactivate()

    def infer(self, feed: Mapping[str, np.ndarray], check: bool = True) -> dict[str, np.ndarray]:
        """Run the model once. The returned arrays are reused by the next call: copy what you keep."""
        if not self.active:
            raise ModelError(f"{self.name}: infer() before activate(); use `with runner:` or runner.activate()")
        if check:
            check_feed(feed, self.inputs, self.name)
        return self._infer(feed)

    def _activate(self) -> None:
        raise NotImplementedError

    def _deactivate(self) -> None:
        raise NotImplementedError

    def _infer(self, feed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        raise NotImplementedError


def static_shape(spec: TensorSpec, where: str) -> tuple[int, ...]:
    """The shape of an output buffer; every axis must be fixed (the generator is exported with static shapes)."""
    if any(isinstance(d, str) for d in spec.shape):
        raise ModelError(f"{where}: output {spec.name!r} has a dynamic shape {list(spec.shape)}; this runner "
                         "allocates its buffers once and needs static shapes")
    return tuple(int(d) for d in spec.shape)
