"""The smoother's units: face fields as (value − rest) / (high − low), so every field spans about 1."""

from __future__ import annotations

import numpy as np

from avatar.expression.rig import HIGH, LOW, N_FACE, REST

REST_FACE = REST[:N_FACE].astype(np.float64)
SPAN_FACE = (HIGH - LOW)[:N_FACE].astype(np.float64)


def normalise(values: np.ndarray) -> np.ndarray:
    """(…, N_FACE) rig units → normalised units."""
    return (np.asarray(values, dtype=np.float64) - REST_FACE) / SPAN_FACE


def denormalise(values: np.ndarray) -> np.ndarray:
    """(…, N_FACE) normalised units → rig units."""
    return np.asarray(values, dtype=np.float64) * SPAN_FACE + REST_FACE
