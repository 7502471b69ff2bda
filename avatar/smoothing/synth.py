"""Synthetic face tracks: clean trajectories of every face field plus measured tracking noise, seeded.

Head moves and holds (minimum-jerk moves, nods and shakes, slow drift), blinks with a fast close and a slower
open, gaze fixations and saccades, speech-like jaw motion in bursts, brow and mouth expressions that ease
between poses, irregular frame timing, dropped frames and face-lost spans. Everything is in rig units.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from avatar.expression.rig import FIELD_INDEX, HIGH, LOW, N_FACE, REST
from avatar.smoothing.noise import NoiseProfile, sample_dropouts, sample_noise

_LO, _HI, _REST = LOW[:N_FACE].astype(np.float64), HIGH[:N_FACE].astype(np.float64), REST[:N_FACE].astype(np.float64)
_F = FIELD_INDEX
_AT_BOUND = [_F[n] for n in ("eye_blink_left", "eye_blink_right", "brow_furrow", "jaw_open", "mouth_funnel")]
# The fixture videos lost no frame, but webcams in poor light do: the model must have seen tracker misses.
MIN_DROPOUT = 0.004
FRAME_RATES = (30.0, 30.0, 30.0, 25.0, 60.0, 15.0)  # webcams mostly run at 30 fps; some at 25, 60 or 15


@dataclass(frozen=True)
class Track:
    """One synthetic clip: timestamps, the clean truth, what the tracker reports, and whether it saw a face."""

    t: np.ndarray  # (T,) seconds, increasing
    clean: np.ndarray  # (T, N_FACE) the true face fields
    noisy: np.ndarray  # (T, N_FACE) tracker readings; rows where present is False hold the last reading
    present: np.ndarray  # (T,) bool: the tracker found the face
    level: float  # noise level relative to the measured profile


@dataclass(frozen=True)
class Realism:
    """Training-only departures from the measured profile that real tracking shows (off for evaluation clips).

    The fixture videos differ from the profile's Gaussian noise in four ways: each field's core noise sits
    anywhere from a third to the full measured level (the profile takes the worst source), the noise is
    heavy-tailed (kurtosis 10-70; 1-14 % of frames jump > 5 sigmas, against 0-3 % in the profile's static
    clips), a talking face is never quite still (slow sway the local fit keeps), and fields sometimes step
    across much of their range in one frame (a brow or gaze flipping to its bound). A smoother trained on one
    Gaussian level follows the hops and creeps after the steps; seeing them in training, it must estimate the
    noise online instead of trusting one number.
    """

    field_scale: tuple[float, float] = (1.0, 1.0)  # each field's noise × log-uniform in this range, per clip
    hop_rate: float = 0.0  # extra share of frames with a heavy-tailed jump (Laplace, profile outlier scale)
    sway: float = 0.0  # slow (0.1-2 Hz) motion on every field up to this many noise sigmas, per clip
    # instant steps of the truth per field per minute (up to half the field's range): the videos' fields
    # sometimes change from one frame to the next and stay there, which the smoother must follow at once
    jumps: float = 0.0
    # the noise comes in bursts: sigma of its log level, which wanders with a time constant of 0.3-1.5 s
    # (shared by all fields and per field). The videos' still-stretch noise clusters in time (squared residuals
    # correlate 0.1-0.9 five to ten frames apart; 7-frame RMS p95/p50 2.5-5 against 1.5 for steady noise), and a
    # smoother that only knows steady noise takes a burst for motion and follows it
    bursts: float = 0.0

    def field_levels(self, rng: np.random.Generator) -> np.ndarray:
        lo, hi = np.log(self.field_scale[0]), np.log(self.field_scale[1])
        return np.exp(rng.uniform(lo, hi, N_FACE))

    def sway_track(self, t: np.ndarray, profile: NoiseProfile, rng: np.random.Generator) -> np.ndarray:
        """(T, N_FACE) slow sway in rig units: three sines per field, a random share of `sway` sigmas."""
        f = rng.uniform(0.1, 2.0, (3, N_FACE))
        ph = rng.uniform(0.0, 2 * np.pi, (3, N_FACE))
        wave = np.sin(2 * np.pi * f[:, None, :] * t[None, :, None] + ph[:, None, :]).sum(axis=0) / np.sqrt(1.5)
        amp = self.sway * rng.random(N_FACE) * profile.std * (_HI - _LO)
        return wave * amp

    def jump_track(self, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """(T, N_FACE) piecewise-constant offsets in rig units: `jumps` steps per field per minute on average."""
        out = np.zeros((len(t), N_FACE))
        if self.jumps <= 0:  # draw nothing: runs without jumps stay as they were
            return out
        for j, n in enumerate(rng.poisson(self.jumps * (t[-1] - t[0]) / 60.0, N_FACE)):
            for at in rng.uniform(t[0], t[-1], n):
                out[t >= at, j] += rng.uniform(-0.5, 0.5) * (_HI[j] - _LO[j])
        return out

    def burst_envelope(self, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """(T, N_FACE) multiplier of the noise, mean square 1: log-normal, half shared by the fields, half each
        field's own, each an AR(1) in log level with one time constant per clip."""
        tau = float(rng.uniform(0.3, 1.5))
        dt = np.diff(t, prepend=t[0])
        rho = np.exp(-dt / tau)[:, None]  # (T, 1)
        drive = rng.standard_normal((len(t), 1 + N_FACE))
        z = np.empty_like(drive)
        z[0] = drive[0]
        for i in range(1, len(t)):
            z[i] = rho[i] * z[i - 1] + np.sqrt(1.0 - rho[i] ** 2) * drive[i]
        log_level = self.bursts * np.sqrt(0.5) * (z[:, :1] + z[:, 1:])
        return np.exp(log_level - self.bursts**2)  # E[exp(2 log_level)] = exp(2 bursts^2): mean square 1


REAL = Realism()  # no departures: what evaluation clips use


def min_jerk(u: np.ndarray) -> np.ndarray:
    """The minimum-jerk profile 0→1 for u in 0..1 (clipped): how people move between two poses."""
    u = np.clip(u, 0.0, 1.0)
    return u**3 * (10.0 - 15.0 * u + 6.0 * u**2)


def moves(t: np.ndarray, rng: np.random.Generator, lo: float, hi: float, *, hold: tuple[float, float],
          move: tuple[float, float], p_rest: float = 0.0, rest: float = 0.0) -> np.ndarray:
    """Holds of `hold` seconds joined by minimum-jerk moves of `move` seconds to random targets in lo..hi."""
    out = np.empty_like(t)
    value = rest if rng.random() < p_rest else rng.uniform(lo, hi)
    start = t[0] - rng.uniform(0.0, hold[1])
    while start <= t[-1]:
        t_move = start + rng.uniform(*hold)
        dur = rng.uniform(*move)
        target = rest if rng.random() < p_rest else rng.uniform(lo, hi)
        seg = (t >= start) & (t < t_move + dur)
        out[seg] = value + (target - value) * min_jerk((t[seg] - t_move) / dur)
        value, start = target, t_move + dur
    return out


def _drift(t: np.ndarray, rng: np.random.Generator, amp: float) -> np.ndarray:
    """Slow sway: two sines under 0.3 Hz."""
    f, ph = rng.uniform(0.03, 0.3, 2), rng.uniform(0, 2 * np.pi, 2)
    return amp * rng.random() * (np.sin(2 * np.pi * f[0] * t + ph[0]) + 0.5 * np.sin(2 * np.pi * f[1] * t + ph[1]))


def _oscillations(t: np.ndarray, rng: np.random.Generator, amp: float) -> np.ndarray:
    """Nods or shakes: a few cycles at 1.5–3.5 Hz with a smooth envelope, now and then."""
    out = np.zeros_like(t)
    for _ in range(rng.poisson((t[-1] - t[0]) / 12.0)):
        t0, dur, f = rng.uniform(t[0], t[-1]), rng.uniform(0.5, 1.6), rng.uniform(1.5, 3.5)
        u = (t - t0) / dur
        env = np.where((u > 0) & (u < 1), np.sin(np.pi * np.clip(u, 0, 1)) ** 2, 0.0)
        out += amp * rng.uniform(0.3, 1.0) * env * np.sin(2 * np.pi * f * (t - t0))
    return out


def blinks(t: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(left, right) lid closure: blinks every 1.5–8 s (sometimes double), closing in 50–120 ms and opening
    in 90–260 ms; one in twelve is a wink, one eye closing while the other barely moves."""
    left, right = np.zeros_like(t), np.zeros_like(t)
    when = t[0] - rng.uniform(0.0, 3.0)
    while when < t[-1]:
        when += rng.gamma(3.0, 1.2) + 0.4
        for start in [when] if rng.random() > 0.12 else [when, when + rng.uniform(0.35, 0.6)]:
            close, shut, opening = rng.uniform(0.05, 0.12), rng.uniform(0.0, 0.08), rng.uniform(0.09, 0.26)
            amp = rng.uniform(0.8, 1.0)
            gains = (1.0, rng.uniform(0.9, 1.0))
            if rng.random() < 1 / 12:  # a wink
                gains = tuple(rng.permutation([1.0, rng.uniform(0.0, 0.25)]))
            for lid, skew, gain in ((left, 0.0, gains[0]), (right, rng.normal(0.0, 0.006), gains[1])):
                u = t - start - skew
                shape = np.where(u < close, min_jerk(u / close), 1.0 - min_jerk((u - close - shut) / opening))
                shape[u < 0] = 0.0
                lid[:] = np.maximum(lid, amp * gain * shape)
    return left, right


def speech(t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Jaw opening while talking: bursts of syllables at 3–6 per second with pauses between."""
    jaw = np.zeros_like(t)
    now = t[0] + rng.uniform(-1.0, 2.0)
    while now < t[-1]:
        end = now + rng.uniform(0.8, 5.0)
        rate, loud = rng.uniform(3.0, 6.0), rng.uniform(0.15, 0.5)
        while now < end:
            dur = rng.uniform(0.6, 1.1) / rate
            u = (t - now) / dur
            bump = np.where((u > 0) & (u < 1), np.sin(np.pi * np.clip(u, 0, 1)) ** 2, 0.0)
            jaw = np.maximum(jaw, loud * rng.uniform(0.3, 1.0) * bump)
            now += rng.uniform(0.7, 1.3) / rate
        now = end + rng.uniform(0.5, 4.0)
    return jaw


def clean_track(t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(T, N_FACE) clean face fields at times t, before the solver's clamp to the rig ranges."""
    v = np.tile(_REST, (len(t), 1))

    def head(lo: float, hi: float, p_rest: float) -> np.ndarray:
        return moves(t, rng, lo, hi, hold=(0.3, 3.5), move=(0.25, 1.1), p_rest=p_rest)

    v[:, _F["head_yaw"]] = head(-35, 35, 0.3) + _drift(t, rng, 1.5) + _oscillations(t, rng, 8)
    v[:, _F["head_pitch"]] = head(-18, 15, 0.3) + _drift(t, rng, 1.0) + _oscillations(t, rng, 6)
    v[:, _F["head_roll"]] = head(-15, 15, 0.4) + _drift(t, rng, 1.0)
    v[:, _F["head_x"]] = head(-0.4, 0.4, 0.3) + v[:, _F["head_yaw"]] * 0.004
    v[:, _F["head_y"]] = head(-0.25, 0.25, 0.3) + v[:, _F["head_pitch"]] * 0.004
    v[:, _F["head_scale"]] = moves(t, rng, 0.8, 1.25, hold=(1.0, 6.0), move=(0.4, 1.5), p_rest=0.3, rest=1.0)
    squint = moves(t, rng, 0.0, 0.35, hold=(0.8, 4.0), move=(0.15, 0.5), p_rest=0.6)
    left, right = blinks(t, rng)
    v[:, _F["eye_blink_left"]] = squint + (1 - squint) * left
    v[:, _F["eye_blink_right"]] = squint + (1 - squint) * right
    v[:, _F["gaze_x"]] = moves(t, rng, -0.7, 0.7, hold=(0.2, 2.5), move=(0.03, 0.07), p_rest=0.3)
    v[:, _F["gaze_y"]] = moves(t, rng, -0.45, 0.4, hold=(0.2, 2.5), move=(0.03, 0.07), p_rest=0.4)
    brow = moves(t, rng, -0.6, 0.8, hold=(0.4, 3.0), move=(0.1, 0.4), p_rest=0.4)
    v[:, _F["brow_raise_left"]] = brow
    v[:, _F["brow_raise_right"]] = brow + moves(t, rng, -0.15, 0.15, hold=(1.0, 5.0), move=(0.2, 0.6), p_rest=0.5)
    v[:, _F["brow_furrow"]] = moves(t, rng, 0.0, 0.7, hold=(0.5, 3.0), move=(0.12, 0.4), p_rest=0.6)
    big = moves(t, rng, 0.4, 1.0, hold=(0.5, 2.0), move=(0.15, 0.4), p_rest=0.85)
    v[:, _F["jaw_open"]] = np.maximum(speech(t, rng), big)
    v[:, _F["mouth_smile"]] = moves(t, rng, -0.5, 0.9, hold=(0.5, 3.5), move=(0.15, 0.5), p_rest=0.4)
    v[:, _F["mouth_funnel"]] = moves(t, rng, 0.0, 0.8, hold=(0.4, 3.0), move=(0.1, 0.3), p_rest=0.75)
    # A calibration is never perfect: resting fields read a little off their rest value, and a field that
    # rests on its bound (open eyes, closed mouth) often reads just beyond it, so the solver clamps it flat.
    v += rng.normal(0.0, 0.03, N_FACE) * (_HI - _LO) * (rng.random(N_FACE) < 0.6)
    v[:, _AT_BOUND] -= rng.uniform(0.0, 0.12, len(_AT_BOUND)) * (rng.random(len(_AT_BOUND)) < 0.5)
    return v


def timestamps(n: int, rng: np.random.Generator, fps: float | None = None) -> np.ndarray:
    """(n,) capture times at a webcam rate with a little timing jitter and the odd dropped frame."""
    fps = fps or float(rng.choice(FRAME_RATES))
    steps = np.where(rng.random(n) < 0.01, rng.integers(2, 4, n), 1).astype(np.float64)
    steps[0] = 0.0
    return np.cumsum(steps / fps) + rng.normal(0.0, 0.0015, n).clip(-0.004, 0.004)


def face_lost(n: int, fps: float, rng: np.random.Generator, p: float = 0.3) -> np.ndarray:
    """(n,) bool, True while the user is out of view: at most one span of 0.15–1.2 s, in a share `p` of clips.

    Longer absences need no training: the stage starts afresh after a second without a face.
    """
    lost = np.zeros(n, dtype=bool)
    if rng.random() < p:
        length = int(rng.uniform(0.15, 1.2) * fps)
        start = int(rng.integers(n // 4, max(n // 4 + 1, n - length)))
        lost[start : start + length] = True
    return lost


def synth_track(profile: NoiseProfile, n: int, rng: np.random.Generator, level: float | None = None,
                fps: float | None = None, p_lost: float = 0.3, realism: Realism = REAL) -> Track:
    """One clip of n frames with noise at `level` × the measured profile (random 0.25–3 when None)."""
    t = timestamps(n, rng, fps)
    t -= t[0]
    rate = (n - 1) / max(t[-1], 1e-6)
    true = clean_track(t, rng)
    if realism != REAL:  # the default draws nothing extra: evaluation clips stay as they were
        true = true + realism.sway_track(t, profile, rng) + realism.jump_track(t, rng)
        profile = replace(profile, outlier_rate=profile.outlier_rate + realism.hop_rate)
    clean = np.clip(true, _LO, _HI)
    level = float(np.exp(rng.uniform(np.log(0.25), np.log(3.0)))) if level is None else level
    per_field = level * realism.field_levels(rng) if realism != REAL else level
    noise = sample_noise(profile, n, rng, per_field)
    if realism.bursts > 0:  # draws nothing when off: runs without bursts stay as they were
        noise = noise * realism.burst_envelope(t, rng)
    noisy = np.clip(true + noise * (_HI - _LO), _LO, _HI)
    drops = replace(profile, dropout_rate=max(profile.dropout_rate, MIN_DROPOUT),
                    dropout_mean_frames=max(profile.dropout_mean_frames, 1.5))
    present = ~(sample_dropouts(drops, n, rng) | face_lost(n, rate, rng, p_lost))
    present[0] = True
    return Track(t, clean, hold_missing(noisy, present), present, level)


def hold_missing(values: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Rows without a face repeat the last row with one, as the smoother's input does."""
    idx = np.where(present, np.arange(len(present)), 0)
    np.maximum.accumulate(idx, out=idx)
    return values[idx]
