"""ONNX Runtime back end: CPU, or CUDA with onnxruntime-gpu; outputs written into buffers allocated once."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from avatar.errors import ModelError
from avatar.runtime.manifest import TensorSpec
from avatar.runtime.runner import Runner, static_shape

log = logging.getLogger(__name__)

CPU, CUDA = "CPUExecutionProvider", "CUDAExecutionProvider"


def cuda_available() -> bool:
    """Whether this onnxruntime build has the CUDA provider (onnxruntime-gpu); a GPU is checked at session time."""
    import onnxruntime as ort

    return CUDA in ort.get_available_providers()


def _dims(shape: list) -> tuple[int | str, ...]:
    return tuple(d if isinstance(d, int) else str(d) for d in shape)


class OnnxRuntimeRunner(Runner):
    """An ONNX file run by ONNX Runtime, its inputs and outputs checked against the manifest's at activation."""

    def __init__(self, path: Path, inputs: tuple[TensorSpec, ...], outputs: tuple[TensorSpec, ...],
                 cuda: bool = False, threads: int = 2) -> None:
        super().__init__("onnxruntime-cuda" if cuda else "onnxruntime-cpu", inputs, outputs)
        self.path, self.cuda, self.threads = Path(path), cuda, threads
        self._session: Any = None
        self._binding: Any = None
        self._out: dict[str, np.ndarray] = {}

    def _activate(self) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # errors only: ORT's own warnings would repeat ours
        # No spin-waiting between runs: on a 2-core laptop a spinning pool thread starves the tracker's thread.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        providers = [CUDA, CPU] if self.cuda else [CPU]
        if not self.path.is_file():
            raise ModelError(f"model file {self.path} is missing; restore engines/ from the repository")
        try:
            session = ort.InferenceSession(str(self.path), options, providers=providers)
        except Exception as e:  # ORT's pybind errors (InvalidProtobuf, Fail, …) share no base but Exception
            raise ModelError(f"ONNX Runtime cannot load {self.path} ({type(e).__name__}: {str(e)[:200]}); the "
                             "file is corrupt or not an ONNX model: restore it from the repository") from e
        if self.cuda and session.get_providers()[0] != CUDA:
            raise ModelError(f"ONNX Runtime could not start its CUDA provider for {self.path.name} (no NVIDIA GPU "
                             "or CUDA libraries); use the CPU")
        self._check_metadata(session)
        self._session = session
        self._binding = session.io_binding()
        self._out = {}
        for spec in self.outputs:
            buf = np.empty(static_shape(spec, self.name), np.dtype(spec.dtype))
            self._binding.bind_output(spec.name, "cpu", 0, buf.dtype, list(buf.shape), buf.ctypes.data)
            self._out[spec.name] = buf

    def _check_metadata(self, session) -> None:
        """The file must have the inputs and outputs the manifest promises (same names, shapes, dtypes)."""
        for kind, specs, actual in (("inputs", self.inputs, session.get_inputs()),
                                    ("outputs", self.outputs, session.get_outputs())):
            found = {a.name: (_dims(a.shape), a.type) for a in actual}
            want = {s.name: (tuple(s.shape), f"tensor({'float' if s.dtype == 'float32' else s.dtype})")
                    for s in specs}
            if found != want:
                raise ModelError(f"{self.path} has {kind} {found}, the manifest says {want}; the file does not "
                                 "belong to this manifest entry: restore engines/ from the repository")

    def _deactivate(self) -> None:
        self._session = self._binding = None
        self._out = {}

    def _infer(self, feed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        binding = self._binding
        assert binding is not None and self._session is not None  # active (checked by Runner.infer)
        for name, value in feed.items():
            binding.bind_cpu_input(name, value)
        self._session.run_with_iobinding(binding)
        return self._out
