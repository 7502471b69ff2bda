"""Idle motion: a living face with no one in front of the camera (sway, breathing, blinks, glances)."""

from __future__ import annotations

import math

import numpy as np

from avatar.expression.rig import FIELD_INDEX, N_FACE, REST, FaceParams

_BLINK_CLOSE_S = 0.08  # lids close fast
_BLINK_OPEN_S = 0.16  # and open more slowly, as real blinks do


def _event_times(t: float, seed: int, low: float, high: float) -> tuple[float, float]:
    """Start of the current interval and the next one, for events spaced low..high seconds apart."""
    rng = np.random.default_rng(seed)
    start, spacing = 0.0, rng.uniform(low, high, size=64)
    period = float(spacing.sum())
    base = math.floor(t / period) * period
    start = base
    for gap in spacing:
        if start + gap > t:
            return start, start + gap
        start += gap
    return start, start + float(spacing[0])


def blink_amount(t: float, seed: int = 7) -> float:
    """0 open .. 1 closed; a blink starts at each event time."""
    start, _ = _event_times(t, seed, 2.2, 5.0)
    dt = t - start
    if dt < _BLINK_CLOSE_S:
        return dt / _BLINK_CLOSE_S
    if dt < _BLINK_CLOSE_S + _BLINK_OPEN_S:
        return 1.0 - (dt - _BLINK_CLOSE_S) / _BLINK_OPEN_S
    return 0.0


def _gaze(t: float, seed: int) -> tuple[float, float]:
    start, _ = _event_times(t, seed + 1, 1.2, 3.2)
    rng = np.random.default_rng(int(start * 1000) + seed)
    gx, gy = rng.uniform(-0.5, 0.5), rng.uniform(-0.25, 0.25)
    k = min(1.0, (t - start) / 0.05)  # saccades take ~50 ms
    prev = np.random.default_rng(int(max(0.0, start - 0.001) * 1000) + seed + 99).uniform(-0.2, 0.2, 2)
    return float(prev[0] + (gx - prev[0]) * k), float(prev[1] + (gy - prev[1]) * k)


def idle_face(t: float, seed: int = 7) -> FaceParams:
    """The idle face at time t: pure and deterministic for a seed."""
    v = REST[:N_FACE].copy()
    tau = 2.0 * math.pi
    v[FIELD_INDEX["head_yaw"]] = 7.0 * math.sin(tau * t / 7.3) + 2.5 * math.sin(tau * t / 3.1 + 1.0)
    v[FIELD_INDEX["head_pitch"]] = 3.0 * math.sin(tau * t / 5.7 + 0.3)
    v[FIELD_INDEX["head_roll"]] = 3.5 * math.sin(tau * t / 6.1 + 0.5)
    v[FIELD_INDEX["head_y"]] = 0.02 * math.sin(tau * t / 4.0)  # breathing
    blink = blink_amount(t, seed)
    v[FIELD_INDEX["eye_blink_left"]] = blink
    v[FIELD_INDEX["eye_blink_right"]] = blink
    gx, gy = _gaze(t, seed)
    v[FIELD_INDEX["gaze_x"]], v[FIELD_INDEX["gaze_y"]] = gx, gy
    return FaceParams(v)
