"""The engines manifest (engines/manifest.json): what each shipped model file is, checked before loading.

One JSON object, `{"version": 1, "models": {NAME: entry, …}}`; an entry names its file, sha256, rig version,
inputs and outputs (name, shape, dtype), the training config and the metrics it reached. Writers merge
their own entry into the file and keep every other entry as it is, so each model's trainer owns one key.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from avatar.errors import ModelError
from avatar.expression.rig import RIG_VERSION

MANIFEST_VERSION = 1
MANIFEST_NAME = "manifest.json"
SHIPPED_ENGINES = Path(__file__).resolve().parents[2] / "engines"  # the repository's engines/ folder


@dataclass(frozen=True)
class TensorSpec:
    """One model input or output: a dynamic axis is named by a string ("batch")."""

    name: str
    shape: tuple[int | str, ...]
    dtype: str  # numpy name: "float32"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TensorSpec:
        return cls(str(d["name"]), tuple(d["shape"]), str(d["dtype"]))


@dataclass(frozen=True)
class ModelEntry:
    """What the manifest says about one model file."""

    name: str  # the manifest key, e.g. "smoother"
    file: str  # path relative to the engines folder
    sha256: str  # of the file's bytes
    rig_version: int  # the rig contract the model reads or writes
    kind: str  # "smoother", "generator", …
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    training: dict[str, Any] = field(default_factory=dict)  # the config that made it
    metrics: dict[str, Any] = field(default_factory=dict)  # what it reached, and on what
    extra: dict[str, Any] = field(default_factory=dict)  # any other keys, kept as they are

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file, "sha256": self.sha256, "rig_version": self.rig_version, "kind": self.kind,
            "inputs": [s.to_dict() for s in self.inputs], "outputs": [s.to_dict() for s in self.outputs],
            "training": self.training, "metrics": self.metrics, **self.extra,
        }

    @classmethod
    def from_dict(cls, name: str, d: Mapping[str, Any]) -> ModelEntry:
        known = {"file", "sha256", "rig_version", "kind", "inputs", "outputs", "training", "metrics"}
        try:
            return cls(
                name=name, file=str(d["file"]), sha256=str(d["sha256"]).lower(), rig_version=int(d["rig_version"]),
                kind=str(d.get("kind", name)),
                inputs=tuple(TensorSpec.from_dict(s) for s in d["inputs"]),
                outputs=tuple(TensorSpec.from_dict(s) for s in d["outputs"]),
                training=dict(d.get("training", {})), metrics=dict(d.get("metrics", {})),
                extra={k: v for k, v in d.items() if k not in known},
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ModelError(f"manifest entry {name!r} is malformed ({e!r}); restore engines/{MANIFEST_NAME} "
                             "from the repository or train the model again") from e


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    try:
        with path.open("rb") as f:
            while chunk := f.read(1 << 16):
                h.update(chunk)
    except OSError as e:
        raise ModelError(f"cannot read model file {str(path)!r}: {e.strerror}") from e
    return h.hexdigest()


def _read_raw(root: Path) -> dict[str, Any]:
    path = root / MANIFEST_NAME
    if not path.exists():
        return {"version": MANIFEST_VERSION, "models": {}}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ModelError(f"cannot read {path}: {e}; restore it from the repository") from e
    if not isinstance(raw, dict) or not isinstance(raw.get("models"), dict):
        raise ModelError(f"{path} is not an engines manifest (no 'models' object); restore it from the repository")
    if raw.get("version") != MANIFEST_VERSION:
        raise ModelError(f"{path} has manifest version {raw.get('version')!r}; this EmoteBot reads "
                         f"version {MANIFEST_VERSION}")
    return raw


def read_manifest(root: Path = SHIPPED_ENGINES) -> dict[str, ModelEntry]:
    """Every entry of root/manifest.json ({} when there is no manifest)."""
    return {name: ModelEntry.from_dict(name, d) for name, d in _read_raw(root)["models"].items()}


def write_entry(entry: ModelEntry, root: Path = SHIPPED_ENGINES) -> Path:
    """Add or replace one entry, keeping the others; written atomically (a reader never sees half a file)."""
    raw = _read_raw(root)
    raw["models"][entry.name] = entry.to_dict()
    raw["models"] = dict(sorted(raw["models"].items()))
    root.mkdir(parents=True, exist_ok=True)
    path = root / MANIFEST_NAME
    fd, tmp = tempfile.mkstemp(dir=root, prefix=".manifest-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(json.dumps(raw, indent=1) + "\n")
    os.chmod(tmp, 0o644)  # mkstemp makes it private; the manifest is for every user
    os.replace(tmp, path)
    return path


def verified_path(name: str, root: Path = SHIPPED_ENGINES) -> tuple[ModelEntry, Path]:
    """The entry and its file, after checking the file exists, its sha256 and its rig version."""
    entries = read_manifest(root)
    if name not in entries:
        raise ModelError(f"no {name!r} model in {root / MANIFEST_NAME}; "
                         f"available: {', '.join(entries) or 'none'}")
    entry = entries[name]
    path = root / entry.file
    if entry.rig_version != RIG_VERSION:
        raise ModelError(f"{path.name} was made for rig version {entry.rig_version}, this EmoteBot uses "
                         f"{RIG_VERSION}; retrain it or install the matching EmoteBot")
    if not path.is_file():
        raise ModelError(f"model file {path} is missing; restore engines/ from the repository or retrain it")
    digest = file_sha256(path)
    if digest != entry.sha256:
        raise ModelError(f"model file {path} is corrupt or was replaced (sha256 {digest[:12]}…, the manifest "
                         f"says {entry.sha256[:12]}…); restore it from the repository or retrain it")
    return entry, path


def verified_companion(entry: ModelEntry, key: str, root: Path = SHIPPED_ENGINES) -> Path:
    """A second file an entry names in its extra keys (`key` and `key_sha256`), checked like the main one.

    The generator ships its ONNX file (the entry's file) and the safetensors checkpoint the torch back end
    loads; both are verified before use.
    """
    name, digest = entry.extra.get(key), entry.extra.get(f"{key}_sha256")
    if not isinstance(name, str) or not isinstance(digest, str):
        raise ModelError(f"manifest entry {entry.name!r} names no {key} file; restore engines/{MANIFEST_NAME} "
                         "from the repository or retrain the model")
    path = root / name
    if not path.is_file():
        raise ModelError(f"model file {path} is missing; restore engines/ from the repository or retrain it")
    actual = file_sha256(path)
    if actual != digest.lower():
        raise ModelError(f"model file {path} is corrupt or was replaced (sha256 {actual[:12]}…, the manifest "
                         f"says {digest[:12]}…); restore it from the repository or retrain it")
    return path
