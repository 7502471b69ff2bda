"""Head engines behind one interface: a RigCode in, EmoteBot's RGBA head out."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from avatar.errors import ConfigError, ModelError
from avatar.expression.rig import RigCode
from avatar.frames import Image

log = logging.getLogger(__name__)

# reference: the studio renderer. onnx, torch, tensorrt: the neural generator on that back end (avatar/runtime/
# neural.py); auto: the fastest that works here (TensorRT, ONNX Runtime CUDA, torch CUDA, ONNX Runtime CPU, and
# the studio renderer when no generator is shipped for the size).
ENGINES = ("reference", "onnx", "torch", "tensorrt", "auto")


class HeadEngine(Protocol):
    """Draws the head in canonical framing; the compositor places, rolls and scales it."""

    name: str
    size: int

    def render(self, code: RigCode) -> Image: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class EngineConfig:
    """Which engine draws EmoteBot's head, and at what size."""

    engine: str = "auto"  # reference = the studio renderer (exact, slower than real time at large sizes);
    #   onnx, torch, tensorrt, auto = the neural generator (engines/manifest.json names the shipped sizes)
    size: int = 256  # head image side in pixels
    threads: int = 2  # CPU threads of the onnx and torch engines
    models: str = ""  # folder with manifest.json and the model files; empty = the repository's engines/

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ConfigError(f"engine.engine must be one of {', '.join(ENGINES)}; got {self.engine!r}")
        if not 32 <= self.size <= 2048:
            raise ConfigError(f"engine.size must be within 32..2048 pixels, got {self.size}")
        if not isinstance(self.threads, int) or not 1 <= self.threads <= 64:
            raise ConfigError(f"engine.threads must be an integer within 1..64, got {self.threads!r}")


class ReferenceEngine:
    """The studio renderer as an engine."""

    name = "reference"

    def __init__(self, size: int) -> None:
        from avatar.character.renderer import RendererConfig, StudioRenderer

        self.size = size
        self._renderer = StudioRenderer(RendererConfig(size=size))

    def render(self, code: RigCode) -> Image:
        return self._renderer.render(code, self.size)

    def close(self) -> None:
        pass


def make_engine(config: EngineConfig) -> HeadEngine:
    """The engine the config names; a neural one is verified against the manifest and activated here."""
    if config.engine == "reference":
        return ReferenceEngine(config.size)
    from avatar.runtime.manifest import SHIPPED_ENGINES
    from avatar.runtime.neural import open_engine

    root = Path(config.models).expanduser() if config.models else SHIPPED_ENGINES
    if config.engine != "auto":
        return open_engine(config.engine, config.size, root, config.threads)
    try:
        return open_engine("auto", config.size, root, config.threads)
    except ModelError as e:  # auto means whatever works here, and the studio renderer always does
        log.warning("no neural back end can draw %d px heads (%s); using the studio renderer", config.size, e)
        return ReferenceEngine(config.size)
