"""Idle motion: a living face with no one in front of the camera (sway, breathing, blinks, glances)."""

from __future__ import annotations

import functools
import math

import numpy as np

from avatar.expression.rig import FIELD_INDEX, N_FACE, REST, FaceParams

_BLINK_CLOSE_S = 0.08  # lids close fast
_BLINK_OPEN_S = 0.16  # and open more slowly, as real blinks do


@functools.lru_cache(maxsize=16)
def _schedule(seed: int, low: float, high: float) -> tuple[np.ndarray, float]:
    """Event start times over one period of 64 events spaced low..high seconds apart, and the period."""
    gaps = np.random.default_rng(seed).uniform(low, high, size=64)
    starts = np.concatenate([[0.0], np.cumsum(gaps)[:-1]])
    return starts, float(gaps.sum())


def _event_start(t: float, seed: int, low: float, high: float) -> tuple[float, int]:
    """Start time of the event interval holding t, and that event's running number (repeats each period)."""
    starts, period = _schedule(seed, low, high)
    cycle = math.floor(t / period)
    i = int(np.searchsorted(starts, t - cycle * period, side="right")) - 1
    return cycle * period + float(starts[i]), cycle * len(starts) + i


def _unit(n: int, salt: int) -> float:
    """A deterministic pseudo-random number in -1..1 for event n (cheap: no generator per frame)."""
    x = math.sin(n * 12.9898 + salt * 78.233) * 43758.5453
    return 2.0 * (x - math.floor(x)) - 1.0


def blink_amount(t: float, seed: int = 7) -> float:
    """0 open .. 1 closed; a blink starts at each event time."""
    start, _ = _event_start(t, seed, 2.2, 5.0)
    dt = t - start
    if dt < _BLINK_CLOSE_S:
        return dt / _BLINK_CLOSE_S
    if dt < _BLINK_CLOSE_S + _BLINK_OPEN_S:
        return 1.0 - (dt - _BLINK_CLOSE_S) / _BLINK_OPEN_S
    return 0.0


def _gaze(t: float, seed: int) -> tuple[float, float]:
    """Glances: hold a point, then jump to the next in ~50 ms (a saccade)."""
    start, n = _event_start(t, seed + 1, 1.2, 3.2)
    k = min(1.0, (t - start) / 0.05)
    gx0, gy0 = 0.5 * _unit(n - 1, seed), 0.25 * _unit(n - 1, seed + 1)
    gx1, gy1 = 0.5 * _unit(n, seed), 0.25 * _unit(n, seed + 1)
    return gx0 + (gx1 - gx0) * k, gy0 + (gy1 - gy0) * k


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
