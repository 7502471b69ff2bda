"""The conditional generator (RigCode → RGBA head) and the conditional PatchGAN discriminator that trains it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812  (the name every torch reader knows)

from avatar.character.renderer import RendererConfig
from avatar.errors import ConfigError
from avatar.expression.rig import EXPRESSIONS, HIGH, LOW, N_FACE, N_FIELDS, RIG_VERSION
from avatar.generator.layout import CHANNELS, COND_SIZE, LOW_CHANNELS, LayoutRaster

INPUT_NAME, OUTPUT_NAME = "code", "rgba"


@dataclass(frozen=True)
class GeneratorConfig:
    """Everything that shapes the generator; stored beside its weights so a checkpoint alone rebuilds it."""

    size: int = 256  # output side in pixels: 256 for CPUs, 512 for GPUs; a multiple of 32 within 64..1024
    trunk: int = 32  # channels of the quarter-resolution shading trunk
    trunk_layers: int = 4  # 3×3 conv layers in the trunk, dilations 1, 2, 4, 1, … (reach for the glow)
    hidden: int = 16  # hidden channels of the per-pixel (1×1) output network at full resolution
    film: int = 64  # hidden units of the code → FiLM (scale, shift) network
    rig_version: int = RIG_VERSION  # the rig contract the model reads

    def __post_init__(self) -> None:
        if not isinstance(self.size, int) or self.size % 32 or not 64 <= self.size <= 1024:
            raise ConfigError(f"generator.size must be a multiple of 32 within 64..1024, got {self.size!r}")
        for name, lo, hi in (("trunk", 4, 512), ("trunk_layers", 1, 12), ("hidden", 1, 256),
                             ("film", 4, 1024)):
            value = getattr(self, name)
            if not isinstance(value, int) or not lo <= value <= hi:
                raise ConfigError(f"generator.{name} must be an integer within {lo}..{hi}, got {value!r}")

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> GeneratorConfig:
        try:
            return cls(**json.loads(text))
        except (TypeError, ValueError) as e:
            raise ConfigError(f"not a generator config ({e}): {text[:120]!r}") from e


def _renderer_lights() -> torch.Tensor:
    cfg = RendererConfig()
    return torch.tensor(np.stack([cfg.colour(f"{e.value}_light") for e in EXPRESSIONS]))


class Generator(nn.Module):
    """RigCode (B, 21) → straight-alpha RGBA (B, S, S, 4) in 0..1.

    The analytic layout raster draws the geometry; a quarter-resolution conv trunk, modulated by the code (FiLM),
    learns the shading, glass and glow; a per-pixel network at full resolution combines the two, so edges come
    from the exact coverages and stay crisp.
    """

    low: torch.Tensor  # buffers, declared for type checkers
    high: torch.Tensor
    coords: torch.Tensor
    film: nn.Sequential

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        self.config = c = config
        self.layout = LayoutRaster(c.size, _renderer_lights())
        self.register_buffer("low", torch.from_numpy(LOW).view(1, N_FIELDS), persistent=False)
        self.register_buffer("high", torch.from_numpy(HIGH).view(1, N_FIELDS), persistent=False)
        q = c.size // 4
        coord = (torch.arange(q, dtype=torch.float32) + 0.5) * (2.0 / q) - 1.0
        grid = torch.stack([coord.view(1, q).expand(q, q), -coord.view(q, 1).expand(q, q)])
        self.register_buffer("coords", grid.unsqueeze(0), persistent=False)  # (1, 2, Q, Q): x, y up
        self.film = nn.Sequential(nn.Linear(COND_SIZE, c.film), nn.ReLU(), nn.Linear(c.film, 2 * c.trunk))
        self.stem = nn.Conv2d(len(LOW_CHANNELS) + 2, c.trunk, 3, padding=1)
        dilations = [(1, 2, 4, 1)[i % 4] for i in range(c.trunk_layers - 1)]
        self.trunk = nn.ModuleList(nn.Conv2d(c.trunk, c.trunk, 3, padding=d, dilation=d) for d in dilations)
        # The per-pixel network's first layer, split: its trunk half runs at quarter resolution (a 1×1 conv
        # commutes with bilinear upsampling), so full resolution only sees the 11 layout planes.
        self.from_trunk = nn.Conv2d(c.trunk, c.hidden, 1)
        self.from_layout = nn.Conv2d(len(CHANNELS), c.hidden, 1)
        self.out = nn.Conv2d(c.hidden, 4, 1)
        nn.init.zeros_(self.out.weight)  # start from the flat layout's alpha and a grey head
        bias = self.out.bias
        assert bias is not None  # nn.Conv2d has a bias unless told otherwise
        with torch.no_grad():
            bias.copy_(torch.tensor([0.5, 0.5, 0.5, 0.0]))

    def sanitize(self, code: torch.Tensor) -> torch.Tensor:
        """Clamp to the rig ranges and renormalise the expression weights, in the graph (RigCode does it too)."""
        code = torch.minimum(torch.maximum(code, self.low), self.high)
        w = code[:, N_FACE:]
        return torch.cat([code[:, :N_FACE], w / torch.clamp(w.sum(1, keepdim=True), min=1e-6)], 1)

    def planes(self, code: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(straight RGBA (B, 4, S, S), layout (B, 11, S, S), cond (B, 34)): the training view, channels first."""
        layout, low, cond = self.layout(self.sanitize(code))  # (B, 11, S, S), (B, 13, Q, Q), (B, 34)
        B = code.shape[0]
        gamma, beta = self.film(cond).view(B, 2, -1, 1, 1).unbind(1)  # (B, trunk, 1, 1) each
        x = torch.cat([low, self.coords.expand(B, -1, -1, -1)], 1)  # (B, 15, Q, Q)
        x = F.relu(self.stem(x) * (1.0 + gamma) + beta)
        for conv in self.trunk:
            x = x + F.relu(conv(x))
        up = F.interpolate(self.from_trunk(x), scale_factor=4.0, mode="bilinear", align_corners=False)
        h = F.relu(self.from_layout(layout) + up)  # (B, hidden, S, S)
        y = self.out(h)
        rgb = torch.clamp(y[:, :3], 0.0, 1.0)
        alpha = torch.clamp(layout[:, :1] + y[:, 3:4], 0.0, 1.0)
        return torch.cat([rgb, alpha], 1), layout, cond

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        rgba, _, _ = self.planes(code)
        return rgba.permute(0, 2, 3, 1)  # (B, S, S, 4): the layout images use, no transpose on the host


@dataclass(frozen=True)
class DiscriminatorConfig:
    """The PatchGAN critic: strided convs over the image and the layout it should match."""

    channels: tuple[int, ...] = (16, 32, 64)  # per stride-2 stage; each halves the resolution
    layout_channels: tuple[str, ...] = ("alpha", "lit", "glass")  # layout planes shown beside the image

    def __post_init__(self) -> None:
        if not self.channels or any(not isinstance(c, int) or c < 1 for c in self.channels):
            raise ConfigError(f"discriminator.channels must be positive integers, got {self.channels!r}")
        unknown = [n for n in self.layout_channels if n not in CHANNELS]
        if unknown:
            raise ConfigError(f"discriminator.layout_channels: unknown {unknown}; allowed: {', '.join(CHANNELS)}")


class Discriminator(nn.Module):
    """Premultiplied RGBA (B, 4, S, S) + layout + code → patch logits (B, 1, S/2^k, S/2^k).

    Conditional twice: the layout planes are concatenated to the image (does this image fit this geometry?) and
    the code is projected onto the last features (projection discriminator: does it fit this expression?).
    """

    def __init__(self, config: DiscriminatorConfig = DiscriminatorConfig()) -> None:
        super().__init__()
        self.config = config
        self.pick = [CHANNELS.index(n) for n in config.layout_channels]
        layers: list[nn.Module] = []
        n_in = 4 + len(self.pick)
        for ch in config.channels:
            layers += [nn.Conv2d(n_in, ch, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
            n_in = ch
        self.features = nn.Sequential(*layers)
        self.logit = nn.Conv2d(n_in, 1, 3, padding=1)
        self.embed = nn.Linear(COND_SIZE, n_in)

    def forward(self, image: torch.Tensor, layout: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        h = self.features(torch.cat([image, layout[:, self.pick]], 1))
        projection = (h * self.embed(cond).unsqueeze(-1).unsqueeze(-1)).sum(1, keepdim=True)
        return self.logit(h) + projection / h.shape[1] ** 0.5


def count_macs(model: nn.Module, *inputs: torch.Tensor) -> int:
    """Multiply-accumulates of one forward pass per sample, counted by hooks on every Conv2d and Linear."""
    total = 0

    def conv_hook(m: nn.Module, _inp, out: torch.Tensor) -> None:
        nonlocal total
        assert isinstance(m, nn.Conv2d)
        kh, kw = m.kernel_size
        total += out[0].numel() * (m.in_channels // m.groups) * kh * kw

    def linear_hook(m: nn.Module, _inp, out: torch.Tensor) -> None:
        nonlocal total
        assert isinstance(m, nn.Linear)
        total += out[0].numel() * m.in_features

    hooks: list[Callable[[], None]] = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook).remove)
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(linear_hook).remove)
    try:
        with torch.no_grad():
            model(*(x[:1] for x in inputs))
    finally:
        for remove in hooks:
            remove()
    return total
