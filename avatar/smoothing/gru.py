"""The GRU smoother at run time, no torch needed: the shipped model under numpy or ONNX Runtime.

`GruModel` runs one batched step of the exported ONNX network (NumpyGru, the live default, the same step
from the checkpoint); `load_gru` picks one; `GruFilter` is the stage, `step(state, x, t, face) ->
(state, y)` with the state a frozen value, handling what real input throws at it: NaN fields (held),
repeated or backwards timestamps (output held), dropped frames (the network sees the time step), face lost
(output held) and, after a long gap, a fresh start that eases from the held output to the new reading.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from avatar.errors import ModelError
from avatar.expression.rig import HIGH, LOW, N_FACE
from avatar.expression.state import ease
from avatar.runtime.manifest import SHIPPED_ENGINES, ModelEntry, verified_path
from avatar.smoothing.units import REST_FACE, denormalise, normalise

MODEL_NAME = "smoother"  # the manifest key
BACKENDS = ("numpy", "onnxruntime")
_LO, _HI = LOW[:N_FACE].astype(np.float64), HIGH[:N_FACE].astype(np.float64)


class GruStep(Protocol):
    """One back end of the network: a batched step on float32 arrays in normalised units."""

    entry: ModelEntry
    hidden: int
    state_size: int

    def initial_state(self, x: np.ndarray) -> np.ndarray: ...

    def step(self, x: np.ndarray, aux: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


def load_gru(root: Path = SHIPPED_ENGINES, backend: str = "numpy") -> GruStep:
    """The manifest's smoother on a back end, after checking sha256 and rig version."""
    if backend == "onnxruntime":
        return GruModel.load(root)
    from avatar.smoothing.numpy_gru import NumpyGru

    return NumpyGru.load(root, MODEL_NAME)


class GruModel:
    """The exported network: `step(x, aux, state) -> (y, state)` on (B, …) float32 arrays, normalised units."""

    def __init__(self, entry: ModelEntry, path: Path) -> None:
        import onnxruntime as ort

        self.entry = entry
        opts = ort.SessionOptions()
        # One thread, no spinning: a 50 µs model must not keep a core busy between frames.
        opts.intra_op_num_threads = opts.inter_op_num_threads = 1
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self._session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own untyped errors for a bad file
            raise ModelError(f"cannot load {path}: {e}; restore it from the repository or retrain it") from e
        names = {i.name: i for i in self._session.get_inputs()}
        if set(names) != {"x", "aux", "state"}:
            raise ModelError(f"{path} has inputs {sorted(names)}, expected aux, state, x; retrain it")
        self.state_size = int(names["state"].shape[1])
        self.hidden = self.state_size - 3 * N_FACE

    @classmethod
    def load(cls, root: Path = SHIPPED_ENGINES) -> GruModel:
        """The manifest's smoother, after checking its sha256 and rig version."""
        return cls(*verified_path(MODEL_NAME, root))

    def initial_state(self, x: np.ndarray) -> np.ndarray:
        """(B, S): empty memory, the first reading as last reading and last output, at rest."""
        x = np.asarray(x, dtype=np.float32).reshape(-1, N_FACE)
        return np.concatenate([np.zeros((len(x), self.hidden), np.float32), x, x, np.zeros_like(x)], axis=1)

    def step(self, x: np.ndarray, aux: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        y, new_state = self._session.run(None, {"x": x.astype(np.float32, copy=False),
                                                "aux": aux.astype(np.float32, copy=False), "state": state})
        return y, new_state


@dataclass(frozen=True)
class GruState:
    """Everything the filter remembers between frames."""

    net: np.ndarray | None = None  # (1, S) network state; None until the first reading with a face
    t: float | None = None  # time of the last step
    held: np.ndarray = field(default_factory=REST_FACE.copy)  # last good reading (rig units): fills gaps
    y: np.ndarray = field(default_factory=REST_FACE.copy)  # last output (rig units)
    t_face: float | None = None  # last time a face was seen
    ease_from: np.ndarray | None = None  # output to ease away from after a fresh start
    t_ease: float = 0.0  # when that ease began


class GruFilter:
    """The stage: smooths the 16 face fields of one face, frame by frame (STYLE point 1)."""

    def __init__(self, model: GruStep, strength: float = 1.0, reset_after_s: float = 1.0,
                 ease_s: float = 0.2) -> None:
        self.model, self.strength = model, float(strength)
        self.reset_after_s, self.ease_s = reset_after_s, ease_s

    def initial(self) -> GruState:
        return GruState()

    def step(self, state: GruState, x: np.ndarray, t: float, face: bool = True) -> tuple[GruState, np.ndarray]:
        """(new state, smoothed fields in rig units) for reading x (N_FACE,) at time t."""
        x = np.asarray(x, dtype=np.float64).reshape(N_FACE)
        good = np.isfinite(x)
        face = bool(face) and bool(good.any())
        if not math.isfinite(t) or (state.t is not None and t <= state.t):
            return state, state.y.copy()  # a repeated or backwards timestamp: nothing new to show
        reading = np.where(good, x, state.held) if face else state.held
        if state.net is None or (face and self._gap(state, t)):
            return self._start(state, reading, t, face)
        dt = t - state.t if state.t is not None else 1.0 / 30.0
        aux = np.array([[min(dt * 30.0, 4.0), float(face), self.strength]], np.float32)
        y_n, net = self.model.step(normalise(reading)[None], aux, state.net)
        y = np.clip(denormalise(y_n[0]), _LO, _HI)
        if state.ease_from is not None and self.ease_s > 0:
            k = ease((t - state.t_ease) / self.ease_s)
            y = state.ease_from + (y - state.ease_from) * k
            done = k >= 1.0
        else:
            done = True
        new = replace(state, net=net, t=t, held=reading, y=y, t_face=t if face else state.t_face,
                      ease_from=None if done else state.ease_from)
        return new, y.copy()

    def _gap(self, state: GruState, t: float) -> bool:
        return state.t_face is None or t - state.t_face > self.reset_after_s

    def _start(self, state: GruState, reading: np.ndarray, t: float, face: bool) -> tuple[GruState, np.ndarray]:
        """A fresh network on this reading; the output eases there from what was shown, if anything was."""
        if not face:  # nothing seen yet: show the held reading (rest at first) and wait
            return replace(state, t=t), state.held.copy()
        net = self.model.initial_state(normalise(reading))
        shown = state.net is not None
        new = GruState(net=net, t=t, held=reading, y=state.y if shown else reading, t_face=t,
                       ease_from=state.y.copy() if shown else None, t_ease=t)
        return new, new.y.copy()
