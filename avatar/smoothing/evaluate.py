"""Run smoothers over whole clips (the GRU stage, One Euro, none) and score them against the truth."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from avatar.smoothing.gru import GruFilter, GruStep
from avatar.smoothing.metrics import Scores, score
from avatar.smoothing.noise import NoiseProfile
from avatar.smoothing.one_euro import OneEuroConfig, OneEuroFilter
from avatar.smoothing.synth import Track, synth_track
from avatar.smoothing.units import SPAN_FACE, normalise

Runner = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]  # (t, x, present) -> y, rig units


def gru_runner(model: GruStep, strength: float = 1.0) -> Runner:
    def run(t: np.ndarray, x: np.ndarray, present: np.ndarray) -> np.ndarray:
        f = GruFilter(model, strength)
        state, out = f.initial(), np.empty_like(x)
        for i in range(len(t)):
            state, out[i] = f.step(state, x[i], float(t[i]), bool(present[i]))
        return out

    return run


def one_euro_runner(config: OneEuroConfig) -> Runner:
    """One Euro on field-range units, as the Smoother runs it; frames without a face hold the output."""

    def run(t: np.ndarray, x: np.ndarray, present: np.ndarray) -> np.ndarray:
        f, out = OneEuroFilter(config), np.empty_like(x)
        last = x[0]
        for i in range(len(t)):
            if present[i]:
                last = f.step(x[i] / SPAN_FACE, float(t[i])) * SPAN_FACE
            out[i] = last
        return out

    return run


def identity_runner(t: np.ndarray, x: np.ndarray, present: np.ndarray) -> np.ndarray:
    return x.copy()


def held_out(profile: NoiseProfile, n: int, frames: int, seed: int, level: float = 1.0,
             fps: float = 30.0) -> list[Track]:
    """Evaluation clips: a seed training never uses, the measured noise level, 30 fps, no face-lost spans."""
    rng = np.random.default_rng(seed)
    return [synth_track(profile, frames, rng, level=level, fps=fps, p_lost=0.0) for _ in range(n)]


def run_all(runner: Runner, tracks: Sequence[Track]) -> list[np.ndarray]:
    return [runner(tr.t, tr.noisy, tr.present) for tr in tracks]


def score_tracks(outputs: Sequence[np.ndarray], tracks: Sequence[Track]) -> Scores:
    """Scores in field-range units against each clip's clean truth."""
    return score([normalise(y) for y in outputs], [normalise(tr.clean) for tr in tracks],
                 [tr.t for tr in tracks], [tr.present for tr in tracks])
