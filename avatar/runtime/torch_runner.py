"""torch back end: eager on the CPU (float32) or on a CUDA GPU with fp16 autocast; host buffers allocated once."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from avatar.errors import ModelError
from avatar.runtime.manifest import TensorSpec
from avatar.runtime.runner import Runner, static_shape


def cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


class TorchRunner(Runner):
    """A torch module built by `factory` (called at activation), run in inference mode.

    On CUDA, convolutions and matrix products run in fp16 under autocast while the elementwise geometry stays
    in float32: the layout raster's distances need float32's range and precision, the convolutions do not.
    """

    def __init__(self, factory: Callable[[], Any], inputs: tuple[TensorSpec, ...], outputs: tuple[TensorSpec, ...],
                 cuda: bool = False, threads: int | None = None) -> None:
        super().__init__("torch-cuda-fp16" if cuda else "torch-cpu", inputs, outputs)
        self.factory, self.cuda, self.threads = factory, cuda, threads
        self._module: Any = None
        self._host: dict[str, Any] = {}
        self._out: dict[str, np.ndarray] = {}

    def _activate(self) -> None:
        try:
            import torch
        except ImportError as e:
            raise ModelError("the torch engine needs torch: pip install 'emotebot[train]' "
                             "(or use --engine onnx)") from e
        if self.cuda and not torch.cuda.is_available():
            raise ModelError("torch sees no CUDA GPU; use the CPU (--engine onnx is faster there)")
        if self.threads and not self.cuda:
            torch.set_num_threads(self.threads)
        device = torch.device("cuda" if self.cuda else "cpu")
        self._device = device
        self._module = self.factory().to(device).eval()
        self._host, self._out = {}, {}
        for spec in self.outputs:
            host = torch.empty(static_shape(spec, self.name), dtype=torch.float32, pin_memory=self.cuda)
            self._host[spec.name] = host
            self._out[spec.name] = host.numpy()  # shares memory with the (pinned) tensor

    def _deactivate(self) -> None:
        self._module = None
        self._host, self._out = {}, {}

    def _infer(self, feed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        import torch

        args = [torch.from_numpy(feed[s.name]).to(self._device, non_blocking=True) for s in self.inputs]
        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.float16, enabled=self.cuda):
            result = self._module(*args)
        results = result if isinstance(result, (tuple, list)) else (result,)
        for spec, value in zip(self.outputs, results, strict=True):
            self._host[spec.name].copy_(value)  # synchronous: the buffer is complete when infer returns
        return self._out
