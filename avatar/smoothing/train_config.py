"""The smoother's training settings: importable without torch, so the command line can show the defaults."""

from __future__ import annotations

from dataclasses import dataclass

from avatar.errors import ConfigError


@dataclass(frozen=True)
class TrainConfig:
    """One training run; stored beside the checkpoint and in the engines manifest."""

    seed: int = 0  # seeds the synthetic clips, the noise and the weights: a run is reproducible
    steps: int = 1500  # optimiser steps (about 6 minutes on a 2-core laptop shared with other work)
    batch: int = 64  # clips per step
    frames: int = 160  # frames per clip (5.3 s at 30 fps)
    clips: int = 2048  # clips in the training pool, drawn with replacement
    lr: float = 2e-3  # Adam learning rate, decayed by cosine to 5% of it
    jitter_weight: float = 4.0  # weight of the second-difference error (jitter) beside the plain error
    hidden: int = 48  # GRU units
    max_minutes: float = 10.0  # stop early after this long (the CPU is shared)

    def __post_init__(self) -> None:
        for name in ("steps", "batch", "frames", "clips", "hidden"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"train.{name} must be >= 1, got {getattr(self, name)}")
        if self.frames < 8:
            raise ConfigError(f"train.frames must be >= 8, got {self.frames}")
        if not self.lr > 0 or self.jitter_weight < 0 or not self.max_minutes > 0:
            raise ConfigError("train.lr and train.max_minutes must be > 0, train.jitter_weight >= 0")
