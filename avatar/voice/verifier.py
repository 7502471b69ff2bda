"""Stage 2 of keyword spotting: a small convolutional network, run in numpy, confirms or rejects a candidate."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from avatar.errors import ModelError
from avatar.voice.audio import RATE
from avatar.voice.features import MelConfig, log_mel, normalise

log = logging.getLogger(__name__)

MODEL_DIR = Path(__file__).resolve().parent / "models"
MODEL_VERSION = 1
OTHER = "_other"  # the class of every window that ends in no trigger word


@dataclass(frozen=True)
class VerifierSpec:
    """Everything that rebuilds the network from its weights file (stored beside it as JSON)."""

    classes: tuple[str, ...]  # trigger words it knows, then OTHER
    frames: int  # window length in 10 ms frames, ending where pocketsphinx proposed the candidate
    channels: tuple[int, ...]  # output channels of each 3×3 convolution
    pools: tuple[bool, ...]  # 2×2 max-pool after that convolution?
    input_scale: float  # features are multiplied by this before the first layer
    mel: MelConfig = MelConfig()

    @property
    def window_samples(self) -> int:
        return (self.frames - 1) * self.mel.hop + self.mel.n_fft


def spec_from_dict(d: dict) -> VerifierSpec:
    return VerifierSpec(tuple(d["classes"]), int(d["frames"]), tuple(d["channels"]), tuple(d["pools"]),
                        float(d["input_scale"]), MelConfig(**d["mel"]))


def window_features(pcm: np.ndarray, spec: VerifierSpec) -> np.ndarray:
    """(frames, n_mels) normalised log-mel of the last `window_samples` of 16 kHz audio (zeros before it)."""
    n = spec.window_samples
    x = np.asarray(pcm, np.float32)[-n:]
    if len(x) < n:
        x = np.pad(x, (n - len(x), 0))
    return normalise(log_mel(x, spec.mel))[: spec.frames]


def _conv3x3(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """'Same' 3×3 convolution, channels last: (T, F, C) → (T*F, O); `w` is (9*C, O) in (dt, df, c) order."""
    t, f, c = x.shape
    xp = np.pad(x, ((1, 1), (1, 1), (0, 0)))
    cols = sliding_window_view(xp, (3, 3, c))  # (T, F, 1, 3, 3, C)
    return cols.reshape(t * f, 9 * c) @ w + b


def _pool2(x: np.ndarray) -> np.ndarray:
    t, f, c = x.shape
    return x[: t // 2 * 2, : f // 2 * 2].reshape(t // 2, 2, f // 2, 2, c).max(axis=(1, 3))


class Verifier:
    """Scores a window of audio as each trigger word it knows (softmax over words and OTHER)."""

    def __init__(self, spec: VerifierSpec, weights: dict[str, np.ndarray],
                 thresholds: dict[str, float] | None = None, floors: dict[str, float] | None = None) -> None:
        self.spec = spec
        self.thresholds = dict(thresholds or {})  # word -> score needed, chosen on validation speech
        self.floors = dict(floors or {})  # word -> lowest score voice calibration may ask (validation speech)
        self._w = {k: np.asarray(v, np.float32) for k, v in weights.items()}
        for i, out in enumerate(spec.channels):
            w = self._w[f"conv{i}.w"]  # (O, C, 3, 3) as torch stores it
            if w.shape[0] != out:
                raise ModelError(f"verifier weights do not match its spec at layer {i}")
            self._w[f"conv{i}.w"] = np.ascontiguousarray(w.transpose(2, 3, 1, 0).reshape(-1, out))

    def knows(self, word: str) -> bool:
        return word in self.spec.classes and word != OTHER

    def features(self, pcm: np.ndarray) -> np.ndarray:
        return window_features(pcm, self.spec)

    def probabilities(self, feats: np.ndarray) -> np.ndarray:
        """(classes,) softmax for one (frames, n_mels) window."""
        x = (feats * self.spec.input_scale)[:, :, None]  # (T, F, 1)
        for i, pool in enumerate(self.spec.pools):
            t, f, _ = x.shape
            x = np.maximum(_conv3x3(x, self._w[f"conv{i}.w"], self._w[f"conv{i}.b"]), 0.0).reshape(t, f, -1)
            if pool:
                x = _pool2(x)
        z = np.concatenate([x.mean(axis=(0, 1)), x.max(axis=(0, 1))])  # (2C,) summary over time and frequency
        logits = self._w["head.w"] @ z + self._w["head.b"]
        e = np.exp(logits - logits.max())
        return e / e.sum()

    def scores(self, pcm: np.ndarray) -> dict[str, float]:
        """How sure the network is that the audio ends with each word it knows (0..1)."""
        p = self.probabilities(self.features(pcm))
        return {c: float(x) for c, x in zip(self.spec.classes, p, strict=True)}

    def score(self, pcm: np.ndarray, word: str) -> float:
        return self.scores(pcm)[word]


def save_verifier(folder: Path, spec: VerifierSpec, weights: dict[str, np.ndarray], meta: dict) -> Path:
    """Write weights (npz, no pickles) and the spec + sha256 + training notes (JSON)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "verifier.npz"
    np.savez(path, **{k: np.asarray(v, np.float32) for k, v in weights.items()})
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    doc = {"version": MODEL_VERSION, "sample_rate": RATE, "sha256": digest, **asdict(spec), **meta}
    (folder / "verifier.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return path


def load_verifier(folder: Path = MODEL_DIR) -> Verifier:
    """The shipped verifier, checked against the hash and version its JSON records."""
    meta_path, path = folder / "verifier.json", folder / "verifier.npz"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        data = path.read_bytes()
    except (OSError, json.JSONDecodeError) as e:
        raise ModelError(f"the voice verifier model is missing or unreadable ({e}); reinstall EmoteBot, or set "
                         "voice.verify = false to use pocketsphinx alone") from e
    if meta.get("version") != MODEL_VERSION or meta.get("sample_rate") != RATE:
        raise ModelError(f"{meta_path} is version {meta.get('version')}, this EmoteBot reads version "
                         f"{MODEL_VERSION}; reinstall EmoteBot")
    if hashlib.sha256(data).hexdigest() != meta.get("sha256"):
        raise ModelError(f"{path} does not match the sha256 in {meta_path.name}: the file is corrupt or was "
                         "replaced; reinstall EmoteBot or retrain with `python -m avatar.voice.train`")
    with np.load(path, allow_pickle=False) as npz:
        weights = {k: npz[k] for k in npz.files}
    maps = {}
    for key in ("thresholds", "floors"):
        m = meta.get(key, {})
        if not isinstance(m, dict) or not all(isinstance(v, (int, float)) and 0.0 < v < 1.0 for v in m.values()):
            raise ModelError(f"{meta_path}: {key} must map words to scores between 0 and 1; reinstall EmoteBot")
        maps[key] = {str(k): float(v) for k, v in m.items()}
    return Verifier(spec_from_dict(meta), weights, maps["thresholds"], maps["floors"])
