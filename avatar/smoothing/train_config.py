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
    # weight of the output's own second difference where the truth is still (the benchmark's jitter): the
    # error terms alone let the net follow slow sway closely, and with it the noise riding on it
    still_weight: float = 6.0
    # training-only realism (synth.Realism): per-field noise scale range, extra heavy-tailed hops, slow sway
    # (the defaults are the shipped model's, picked on the fixture videos: benchmarks/smoother.md)
    field_scale_lo: float = 0.2  # each field's noise × log-uniform in field_scale_lo..field_scale_hi
    field_scale_hi: float = 1.2
    hop_rate: float = 0.03  # extra share of frames with a jump of several sigmas
    sway: float = 0.5  # slow motion on every field up to this many noise sigmas
    # instant steps of the truth per field per minute: 8 keeps up with the videos' sudden steps (three seeds: +14 /
    # +20 / +31 % video jitter against One Euro at no more lag, against +26 / +69 / +25 % without; lag 11-14 ms)
    jumps: float = 8.0
    bursts: float = 0.0  # sigma of the noise's log level wandering in time (synth.Realism.bursts)
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
        if min(self.still_weight, self.hop_rate, self.sway, self.jumps, self.bursts) < 0:
            raise ConfigError("train.still_weight, train.hop_rate, train.sway, train.jumps and train.bursts "
                              "must be >= 0")
        if not 0 < self.field_scale_lo <= self.field_scale_hi:
            raise ConfigError(f"train.field_scale_lo must be > 0 and <= train.field_scale_hi, got "
                              f"{self.field_scale_lo}..{self.field_scale_hi}")
