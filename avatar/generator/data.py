"""Training data for the generator: seeded rig codes that cover the space, drawn by the studio renderer."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avatar.character.renderer import RendererConfig, StudioRenderer
from avatar.errors import ConfigError
from avatar.expression.rig import FIELD_INDEX, HIGH, LOW, N_FACE, N_FIELDS, REST, RIG_VERSION, RigCode, sanitize

log = logging.getLogger(__name__)

CHARACTER_DIR = Path(__file__).resolve().parents[1] / "character"
HELD_OUT_SEED = 1_000_003  # the evaluation codes use this seed: never a training seed


@dataclass(frozen=True)
class SamplerConfig:
    """How often each kind of code is drawn (relative weights; they need not sum to 1)."""

    pure: float = 0.2  # one expression, face near rest
    blend: float = 0.2  # two expressions mixed
    mixture: float = 0.1  # all five expressions, Dirichlet(0.5)
    extreme_pose: float = 0.15  # yaw and/or pitch near ±45°
    blink: float = 0.1  # one or both eyes closing
    mouth: float = 0.1  # jaw open, funnel, smile or frown
    gaze: float = 0.1  # eyes at the edges
    uniform: float = 0.05  # every field uniform over its range

    def __post_init__(self) -> None:
        values = [getattr(self, k) for k in KINDS]
        if any(not isinstance(v, (int, float)) or v < 0 for v in values) or sum(values) <= 0:
            given = dict(zip(KINDS, values, strict=True))
            raise ConfigError(f"sampler weights must be ≥ 0 with a positive sum, got {given}")


KINDS = ("pure", "blend", "mixture", "extreme_pose", "blink", "mouth", "gaze", "uniform")


def _face_base(rng: np.random.Generator) -> np.ndarray:
    """A plausible face: each field rests, jitters a little, or (now and then) takes any value."""
    vec = REST.copy()
    lo, hi = LOW[:N_FACE], HIGH[:N_FACE]
    jitter = rng.normal(0.0, 0.12, N_FACE).astype(np.float32) * (hi - lo)
    anywhere = rng.uniform(lo, hi).astype(np.float32)
    pick = rng.random(N_FACE)
    vec[:N_FACE] = np.where(pick < 0.25, anywhere, np.where(pick < 0.7, REST[:N_FACE] + jitter, REST[:N_FACE]))
    return vec


def _weights(rng: np.random.Generator, kind: str) -> np.ndarray:
    w = np.zeros(5, np.float32)
    if kind == "blend":
        a, b = rng.choice(5, size=2, replace=False)
        t = rng.uniform(0.0, 1.0)
        w[a], w[b] = t, 1.0 - t
    elif kind in ("mixture", "uniform"):
        w[:] = rng.dirichlet(np.full(5, 0.5))
    else:
        w[rng.integers(5)] = 1.0
    return w


def _set(vec: np.ndarray, name: str, value: float) -> None:
    vec[FIELD_INDEX[name]] = value


def sample_code(rng: np.random.Generator, kind: str) -> np.ndarray:
    """One raw code (before sanitising) of the given kind."""
    vec = rng.uniform(LOW, HIGH).astype(np.float32) if kind == "uniform" else _face_base(rng)
    if kind == "pure":
        vec[:N_FACE] = REST[:N_FACE] + (vec[:N_FACE] - REST[:N_FACE]) * 0.4
    elif kind == "extreme_pose":
        for name in ("head_yaw", "head_pitch"):
            if rng.random() < 0.7:
                _set(vec, name, rng.choice((-1.0, 1.0)) * rng.uniform(30.0, 45.0))
    elif kind == "blink":
        both = rng.random() < 0.5
        for name in ("eye_blink_left", "eye_blink_right"):
            if both or rng.random() < 0.5:
                _set(vec, name, rng.choice((1.0, rng.uniform(0.3, 1.0))))
    elif kind == "mouth":
        _set(vec, "jaw_open", rng.uniform(0.4, 1.0))
        _set(vec, "mouth_funnel", rng.choice((0.0, rng.uniform(0.0, 1.0))))
        _set(vec, "mouth_smile", rng.uniform(-1.0, 1.0))
    elif kind == "gaze":
        angle = rng.uniform(0.0, 2.0 * np.pi)
        _set(vec, "gaze_x", np.clip(1.3 * np.cos(angle), -1, 1))
        _set(vec, "gaze_y", np.clip(1.3 * np.sin(angle), -1, 1))
    vec[N_FACE:] = _weights(rng, kind)
    return vec


def sample_codes(n: int, seed: int | tuple[int, ...], config: SamplerConfig = SamplerConfig()) -> np.ndarray:
    """n sanitised codes (n, 21) float32; the same seed always gives the same codes."""
    rng = np.random.default_rng(seed)
    p = np.asarray([getattr(config, k) for k in KINDS], np.float64)
    kinds = rng.choice(len(KINDS), size=n, p=p / p.sum())
    out = np.empty((n, N_FIELDS), np.float32)
    for i, k in enumerate(kinds):
        out[i] = sanitize(sample_code(rng, KINDS[k]))[0].values
    return out


def held_out_codes(n: int) -> np.ndarray:
    """The fixed evaluation set: rest, each pure expression, then seeded codes no training seed draws."""
    fixed = [RigCode.rest().values] + [RigCode.from_dict({e: 1.0}).values for e in
                                       ("happy", "sad", "surprised", "angry")]
    rest = sample_codes(max(n - len(fixed), 0), HELD_OUT_SEED)
    return np.concatenate([np.stack(fixed), rest])[:n]


def render_codes(codes: np.ndarray, size: int) -> np.ndarray:
    """The studio renderer's straight RGBA (n, S, S, 4) uint8 for each code."""
    renderer = StudioRenderer(RendererConfig(size=size))
    out = np.empty((len(codes), size, size, 4), np.uint8)
    for i, c in enumerate(codes):
        out[i] = renderer.render(RigCode(c)).pixels
    return out


def renderer_digest() -> str:
    """A hash of the renderer's source: cached renders from another renderer version are not reused."""
    h = hashlib.sha256()
    for path in sorted(CHARACTER_DIR.glob("*.py")):
        h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()[:16]


def default_cache_dir() -> Path:
    env = os.environ.get("EMOTEBOT_CACHE")
    return Path(env) if env else Path(tempfile.gettempdir()) / "emotebot-generator-cache"


def cached_renders(codes: np.ndarray, size: int, cache_dir: Path, tag: str,
                   progress: Callable[[int, int], None] | None = None, chunk: int = 64) -> np.ndarray:
    """Renders of `codes`, read from cache_dir when an identical set was rendered before (memory-mapped)."""
    key = hashlib.sha256(codes.tobytes() + f"{size}|{RIG_VERSION}|{renderer_digest()}".encode()).hexdigest()[:16]
    path = cache_dir / f"{tag}-{size}-{len(codes)}-{key}.npy"
    if path.is_file():
        return np.load(path, mmap_mode="r")
    cache_dir.mkdir(parents=True, exist_ok=True)
    out = np.empty((len(codes), size, size, 4), np.uint8)
    for start in range(0, len(codes), chunk):
        out[start:start + chunk] = render_codes(codes[start:start + chunk], size)
        if progress is not None:
            progress(min(start + chunk, len(codes)), len(codes))
    tmp = path.with_suffix(".partial.npy")
    np.save(tmp, out)
    os.replace(tmp, path)  # a crash mid-write leaves no half cache behind
    log.info("cached %d renders at %d px in %s", len(codes), size, path)
    return out


class Streamed:
    """Fresh codes and renders every batch, drawn ahead of time by worker processes (large GPU runs)."""

    def __init__(self, batch: int, size: int, seed: int, workers: int, config: SamplerConfig) -> None:
        self.batch, self.size, self.seed, self.config = batch, size, seed, config
        self._pool: Executor = ProcessPoolExecutor(max_workers=workers)
        self._ahead: list[Future] = []
        self._next = 0
        for _ in range(max(2 * workers, 2)):
            self._submit()

    def _submit(self) -> None:
        seed = (self.seed, 1, self._next)  # a sequence seed: never the integer HELD_OUT_SEED's stream
        self._next += 1
        self._ahead.append(self._pool.submit(_draw, self.batch, self.size, seed, self.config))

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        while True:
            future = self._ahead.pop(0)
            self._submit()
            yield future.result()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _draw(batch: int, size: int, seed: tuple[int, ...], config: SamplerConfig) -> tuple[np.ndarray, np.ndarray]:
    codes = sample_codes(batch, seed, config)
    return codes, render_codes(codes, size)

