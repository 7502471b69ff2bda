"""Head engines behind one interface: a RigCode in, EmoteBot's RGBA head out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from avatar.errors import ConfigError
from avatar.expression.rig import RigCode
from avatar.frames import Image

ENGINES = ("reference",)  # the neural generator's back ends join this list in their own issue


class HeadEngine(Protocol):
    """Draws the head in canonical framing; the compositor places, rolls and scales it."""

    name: str
    size: int

    def render(self, code: RigCode) -> Image: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class EngineConfig:
    """Which engine draws EmoteBot's head, and at what size."""

    engine: str = "reference"  # reference = the studio renderer (exact, slower than real time at large sizes)
    size: int = 256  # head image side in pixels

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ConfigError(f"engine.engine must be one of {', '.join(ENGINES)}; got {self.engine!r}")
        if not 32 <= self.size <= 2048:
            raise ConfigError(f"engine.size must be within 32..2048 pixels, got {self.size}")


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
    return ReferenceEngine(config.size)
