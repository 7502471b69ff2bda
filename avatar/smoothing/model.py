"""The smoother network (torch): a GRU cell that steers a learned adaptive low-pass over the face fields.

Each frame the GRU reads the reading, how far it jumped from the last reading and from the last output, how
fast the output moves (all in units of the expected noise), the time step and whether a face was found. It
emits, per field, a gain α and a momentum β, both in 0..1, for a second-order (alpha-beta) filter:

    v_t = α ⊙ (x_t − y_{t−1}) + β ⊙ v_{t−1},   y_t = y_{t−1} + present · v_t

Small gains when it is sure the face is still (low jitter); gains near 1 and momentum when it sees motion
(low lag): a One Euro filter whose speed rule is learned from all fields at once. The form keeps it stable
for any α, β in 0..1, and a field whose reading sits still (or clamped at its bound) does not move at all.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from avatar.expression.rig import N_FACE


@dataclass(frozen=True)
class GruConfig:
    """Shape of the network; stored in every checkpoint so a file alone rebuilds the model."""

    hidden: int = 48  # GRU units: 48 keeps a step well under 0.1 ms on a laptop CPU
    n_fields: int = N_FACE  # face fields smoothed (rig version 1: 16)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> GruConfig:
        return cls(**json.loads(text))

    @property
    def n_features(self) -> int:
        return 4 * self.n_fields + 3

    @property
    def state_size(self) -> int:
        return self.hidden + 3 * self.n_fields  # GRU state, last reading, last output, last output step


def squash(z: torch.Tensor) -> torch.Tensor:
    """asinh(z): linear near 0, logarithmic far out, so a 50-sigma blink does not saturate the cell.

    Written out because torch's ONNX exporter has no asinh.
    """
    return torch.sign(z) * torch.log(z.abs() + torch.sqrt(z * z + 1.0))


N_AUX = 3  # aux input: frames since the last step (dt × 30), face found (0/1), strength


class GruSmootherNet(nn.Module):
    """One step: (x, aux, state) → (y, state). x and y are normalised fields: (value − rest) / (high − low)."""

    noise_std: torch.Tensor  # (1, F) buffer: the measured noise of each field, normalised units

    def __init__(self, config: GruConfig, noise_std: torch.Tensor) -> None:
        super().__init__()
        self.config = config
        self.cell = nn.GRUCell(config.n_features, config.hidden)
        self.gain = nn.Linear(config.hidden, config.n_fields)
        self.momentum = nn.Linear(config.hidden, config.n_fields)
        self.register_buffer("noise_std", noise_std.reshape(1, -1).float().clamp_min(1e-4))

    def initial_state(self, x: torch.Tensor) -> torch.Tensor:
        """(B, state_size): zero memory, the first reading taken as last reading and last output, at rest."""
        h = x.new_zeros(x.shape[0], self.config.hidden)
        return torch.cat([h, x, x, torch.zeros_like(x)], dim=1)

    def forward(self, x: torch.Tensor, aux: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        H, F = self.config.hidden, self.config.n_fields
        h, x_prev = state[:, :H], state[:, H : H + F]  # (B, H), (B, F)
        y_prev, v_prev = state[:, H + F : H + 2 * F], state[:, H + 2 * F :]  # (B, F) each
        present, strength = aux[:, 1:2], aux[:, 2:3]  # (B, 1) each
        scale = self.noise_std * strength.clamp_min(0.05)  # (B, F): the noise the user says to expect
        features = torch.cat([
            4.0 * x,  # where each field is: noise clips against the field's bounds
            squash((x - x_prev) / scale),  # the jump since the last reading, in noise units
            squash((x - y_prev) / scale),  # how far the reading is from what we show
            squash(v_prev / scale),  # how fast what we show is moving
            aux,
        ], dim=1)  # (B, 3F + 3)
        h = self.cell(features, h)
        alpha, beta = torch.sigmoid(self.gain(h)), torch.sigmoid(self.momentum(h))
        v = present * (alpha * (x - y_prev) + beta * v_prev)  # a lost face holds: no step, no momentum
        y = y_prev + v
        return y, torch.cat([h, x, y, v], dim=1)


def init_gain_bias(net: GruSmootherNet, alpha: float = 0.4, beta: float = 0.1) -> None:
    """Start as a plain low-pass with gain `alpha` and a little momentum, so training starts somewhere sensible."""
    with torch.no_grad():
        net.gain.bias.fill_(math.log(alpha / (1.0 - alpha)))
        net.momentum.bias.fill_(math.log(beta / (1.0 - beta)))
