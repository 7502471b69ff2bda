"""The smoother network in plain numpy, read from its safetensors checkpoint: the live back end.

ONNX Runtime runs the same step in about the same time alone (25 against 34 µs), but lets go of the GIL on
every call and must win it back from the pipeline's other threads: in `emotebot bench` its stage took 0.32 ms
a frame against numpy's 0.14. A 48-unit GRU cell is a few small matrix products, which numpy does without
letting go. Parity with ONNX Runtime is tested (tests/unit/test_gru_manifest.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from avatar.errors import ModelError
from avatar.expression.rig import N_FACE
from avatar.runtime.manifest import SHIPPED_ENGINES, ModelEntry, file_sha256, verified_path

_DTYPES = {"F32": "<f4", "F64": "<f8"}


def read_safetensors(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Tensors and metadata of a safetensors file (8-byte header length, JSON header, raw data)."""
    try:
        data = path.read_bytes()
        n = int.from_bytes(data[:8], "little")
        header = json.loads(data[8 : 8 + n])
        meta = header.pop("__metadata__", {}) or {}
        tensors = {}
        for name, info in header.items():
            start, end = info["data_offsets"]
            raw = data[8 + n + start : 8 + n + end]
            tensors[name] = np.frombuffer(raw, dtype=_DTYPES[info["dtype"]]).reshape(info["shape"])
    except (OSError, ValueError, KeyError, TypeError) as e:  # json errors are ValueErrors
        raise ModelError(f"cannot read checkpoint {path}: {e!r}; restore it from the repository or retrain") from e
    return tensors, meta


def _matmul(a: np.ndarray, w: np.ndarray) -> np.ndarray:
    """a @ w without BLAS: for these sizes BLAS's worker threads cost milliseconds now and then on a busy
    2-core machine (measured p99 3.3 ms against 0.2 ms), while numpy's own loop takes microseconds."""
    return np.einsum("bi,ij->bj", a, w, optimize=False)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


class NumpyGru:
    """Same interface as the ONNX Runtime model: `step(x, aux, state) -> (y, state)`, (B, …) float32 arrays."""

    def __init__(self, entry: ModelEntry, tensors: dict[str, np.ndarray]) -> None:
        self.entry = entry
        try:
            w = {k: np.asarray(v, dtype=np.float32) for k, v in tensors.items()}
            self._w_ih, self._b_ih = w["cell.weight_ih"].T.copy(), w["cell.bias_ih"]  # (n_in, 3H), (3H,)
            self._w_hh, self._b_hh = w["cell.weight_hh"].T.copy(), w["cell.bias_hh"]  # (H, 3H), (3H,)
            heads = np.concatenate([w["gain.weight"], w["momentum.weight"]]).T.copy()  # (H, 2F)
            self._w_out, self._b_out = heads, np.concatenate([w["gain.bias"], w["momentum.bias"]])
            self._noise = w["noise_std"].reshape(1, N_FACE)
        except KeyError as e:
            raise ModelError(f"the smoother checkpoint lacks {e}; retrain it with `emotebot train smoother`") from e
        self.hidden = self._w_hh.shape[0]
        self.state_size = self.hidden + 3 * N_FACE

    @classmethod
    def load(cls, root: Path = SHIPPED_ENGINES, name: str = "smoother") -> NumpyGru:
        """The manifest's smoother checkpoint, after checking its sha256 and rig version."""
        entry, _ = verified_path(name, root)
        file, digest = entry.extra.get("checkpoint"), entry.extra.get("checkpoint_sha256")
        if not file or not digest:
            raise ModelError(f"the {name!r} entry of {root / 'manifest.json'} names no checkpoint; retrain it")
        path = root / str(file)
        if not path.is_file():
            raise ModelError(f"model file {path} is missing; restore engines/ from the repository or retrain it")
        if file_sha256(path) != digest:
            raise ModelError(f"model file {path} is corrupt or was replaced (its sha256 does not match the "
                             "manifest); restore it from the repository or retrain it")
        return cls(entry, read_safetensors(path)[0])

    def initial_state(self, x: np.ndarray) -> np.ndarray:
        """(B, S): empty memory, the first reading as last reading and last output, at rest."""
        x = np.asarray(x, dtype=np.float32).reshape(-1, N_FACE)
        return np.concatenate([np.zeros((len(x), self.hidden), np.float32), x, x, np.zeros_like(x)], axis=1)

    def step(self, x: np.ndarray, aux: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        H, F = self.hidden, N_FACE
        x, aux = np.asarray(x, np.float32), np.asarray(aux, np.float32)
        h, x_prev = state[:, :H], state[:, H : H + F]
        y_prev, v_prev = state[:, H + F : H + 2 * F], state[:, H + 2 * F :]
        scale = self._noise * np.maximum(aux[:, 2:3], 0.05)
        features = np.concatenate([4.0 * x, np.arcsinh((x - x_prev) / scale), np.arcsinh((x - y_prev) / scale),
                                   np.arcsinh(v_prev / scale), aux], axis=1)  # (B, 4F + 3)
        gi = _matmul(features, self._w_ih) + self._b_ih  # (B, 3H): reset, update, new (torch's GRUCell order)
        gh = _matmul(h, self._w_hh) + self._b_hh
        r = _sigmoid(gi[:, :H] + gh[:, :H])
        z = _sigmoid(gi[:, H : 2 * H] + gh[:, H : 2 * H])
        n = np.tanh(gi[:, 2 * H :] + r * gh[:, 2 * H :])
        h = (1.0 - z) * n + z * h
        gates = _sigmoid(_matmul(h, self._w_out) + self._b_out)  # (B, 2F): gain α, momentum β
        v = aux[:, 1:2] * (gates[:, :F] * (x - y_prev) + gates[:, F:] * v_prev)
        y = y_prev + v
        return y.astype(np.float32), np.concatenate([h, x, y, v], axis=1).astype(np.float32)
