"""Timing statistics: per-stage durations and end-to-end latency, bounded in memory for long runs."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import cast

import numpy as np

_KEEP = 20_000  # samples kept per series (about 11 minutes at 30 fps): memory stays flat over hours

STAGES = ("capture", "tracking", "solver", "mapper", "smoother", "generator", "compositor", "sink")


@dataclass
class RunStats:
    """Collected by the pipeline's threads; read once at the end (or by the HUD while running)."""

    series: dict[str, deque[float]] = field(default_factory=dict)  # name -> seconds
    frames_in: int = 0
    frames_out: int = 0
    frames_dropped: int = 0
    faces_found: int = 0
    errors: int = 0
    t_start: float | None = None
    t_end: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, name: str, seconds: float) -> None:
        with self._lock:
            self.series.setdefault(name, deque(maxlen=_KEEP)).append(seconds)

    def percentiles_ms(self, name: str, qs: tuple[float, ...] = (50, 95, 99)) -> dict[str, float]:
        with self._lock:
            data = np.array(self.series.get(name, ()), dtype=np.float64)
        if data.size == 0:
            return {}
        return {f"p{q:g}": float(np.percentile(data, q) * 1000.0) for q in qs}

    def recent_ms(self, name: str, n: int = 30) -> float:
        with self._lock:
            data = list(self.series.get(name, ()))[-n:]
        return float(np.median(data) * 1000.0) if data else 0.0

    @property
    def fps(self) -> float:
        if self.t_start is None or self.t_end is None or self.t_end <= self.t_start:
            return 0.0
        return self.frames_out / (self.t_end - self.t_start)

    def summary(self) -> dict[str, object]:
        """Everything worth printing at exit, as plain JSON-able values."""
        names = [s for s in STAGES if s in self.series] + [s for s in self.series if s not in STAGES]
        return {
            "frames_in": self.frames_in,
            "frames_out": self.frames_out,
            "frames_dropped": self.frames_dropped,
            "faces_found": self.faces_found,
            "errors": self.errors,
            "seconds": round((self.t_end or 0.0) - (self.t_start or 0.0), 3),
            "fps": round(self.fps, 2),
            "stages_ms": {n: {k: round(v, 3) for k, v in self.percentiles_ms(n).items()} for n in names},
        }


def format_summary(summary: dict[str, object]) -> str:
    """A small human-readable table of a `RunStats.summary()`."""
    lines = [
        f"frames: {summary['frames_out']} out of {summary['frames_in']} in, "
        f"{summary['frames_dropped']} dropped, {summary['errors']} errors; "
        f"face found in {summary['faces_found']}; {summary['fps']} fps over {summary['seconds']} s",
        f"{'stage':<12}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}",
    ]
    stages = cast(dict[str, dict[str, float]], summary["stages_ms"])
    for name, ps in stages.items():
        if ps:
            lines.append(f"{name:<12}{ps['p50']:>10.2f}{ps['p95']:>10.2f}{ps['p99']:>10.2f}")
    return "\n".join(lines)
