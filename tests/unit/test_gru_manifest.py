"""The engines manifest: the shipped smoother's entry is right, entries merge, mismatches are refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from avatar.errors import ModelError
from avatar.expression.rig import RIG_VERSION
from avatar.runtime.manifest import (
    SHIPPED_ENGINES,
    ModelEntry,
    TensorSpec,
    file_sha256,
    read_manifest,
    verified_path,
    write_entry,
)
from avatar.smoothing.gru import GruModel, load_gru
from avatar.smoothing.numpy_gru import NumpyGru


def test_shipped_smoother_entry_matches_its_file() -> None:
    entry, path = verified_path("smoother")
    assert entry.rig_version == RIG_VERSION and entry.sha256 == file_sha256(path)
    assert path.stat().st_size < 200_000  # small enough to ship in the repository
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == [s.name for s in entry.inputs]
    assert [o.name for o in session.get_outputs()] == [s.name for s in entry.outputs]
    for spec, io in zip(entry.inputs, session.get_inputs(), strict=True):
        assert io.shape[1] == spec.shape[1] and spec.dtype == "float32"
    assert entry.training["seed"] == 0 and "noise_profile" in entry.training
    assert set(entry.metrics["held_out_synthetic"]) >= {"jitter", "lag_ms", "rmse", "blink_kept"}
    assert (SHIPPED_ENGINES / entry.extra["checkpoint"]).is_file()


def _entry(name: str, file: str, sha: str, rig: int = RIG_VERSION) -> ModelEntry:
    return ModelEntry(name, file, sha, rig, name, (TensorSpec("x", ("batch", 4), "float32"),),
                      (TensorSpec("y", ("batch", 4), "float32"),), {"seed": 1}, {"score": 0.5})


def test_writing_an_entry_keeps_the_others(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text(json.dumps(
        {"version": 1, "models": {"generator": {**_entry("generator", "g.onnx", "ab").to_dict(), "note": "kept"}}}))
    write_entry(_entry("smoother", "s.onnx", "cd"), tmp_path)
    write_entry(_entry("smoother", "s2.onnx", "ef"), tmp_path)  # replaces its own entry only
    entries = read_manifest(tmp_path)
    assert set(entries) == {"generator", "smoother"}
    assert entries["smoother"].file == "s2.onnx"
    assert entries["generator"].extra == {"note": "kept"} and entries["generator"].metrics == {"score": 0.5}


def test_a_missing_manifest_reads_as_empty_and_a_broken_one_is_refused(tmp_path: Path) -> None:
    assert read_manifest(tmp_path) == {}
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(ModelError, match="restore it"):
        read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"version": 1, "models": {"smoother": {"file": "x"}}}))
    with pytest.raises(ModelError, match="malformed"):
        read_manifest(tmp_path)


def _copy_shipped(tmp_path: Path) -> ModelEntry:
    entry = read_manifest()["smoother"]
    shutil.copy(SHIPPED_ENGINES / entry.file, tmp_path / entry.file)
    write_entry(entry, tmp_path)
    return entry


def test_verification_refuses_a_changed_file_a_missing_file_and_another_rig(tmp_path: Path) -> None:
    entry = _copy_shipped(tmp_path)
    assert GruModel.load(tmp_path).state_size > 0
    with open(tmp_path / entry.file, "ab") as f:
        f.write(b"\0")
    with pytest.raises(ModelError, match="corrupt or was replaced"):
        GruModel.load(tmp_path)
    (tmp_path / entry.file).unlink()
    with pytest.raises(ModelError, match="missing"):
        GruModel.load(tmp_path)
    _copy_shipped(tmp_path)
    write_entry(ModelEntry(**{**entry.__dict__, "rig_version": RIG_VERSION + 1}), tmp_path)
    with pytest.raises(ModelError, match=f"rig version {RIG_VERSION + 1}"):
        GruModel.load(tmp_path)


def test_numpy_and_onnx_runtime_run_the_same_network() -> None:
    a, b = load_gru(backend="numpy"), load_gru(backend="onnxruntime")
    assert isinstance(a, NumpyGru) and a.state_size == b.state_size
    rng = np.random.default_rng(0)
    x = (rng.random((120, 3, 16)) * 0.3 - 0.1).astype(np.float32)
    aux = np.array([[1.0, 1.0, 1.0], [2.0, 0.0, 1.0], [1.0, 1.0, 2.5]], np.float32)  # gap, face lost, strength
    sa, sb = a.initial_state(x[0]), b.initial_state(x[0])
    for i in range(120):
        (ya, sa), (yb, sb) = a.step(x[i], aux, sa), b.step(x[i], aux, sb)
        assert np.abs(ya - yb).max() < 1e-4 and np.abs(sa - sb).max() < 1e-4
    assert np.array_equal(ya[1], x[0][1])  # the face-lost row never moved


def test_a_changed_checkpoint_is_refused(tmp_path: Path) -> None:
    entry = _copy_shipped(tmp_path)
    checkpoint = tmp_path / entry.extra["checkpoint"]
    data = bytearray((SHIPPED_ENGINES / entry.extra["checkpoint"]).read_bytes())
    data[-1] ^= 0x01
    checkpoint.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="corrupt or was replaced"):
        NumpyGru.load(tmp_path)
    checkpoint.unlink()
    with pytest.raises(ModelError, match="missing"):
        NumpyGru.load(tmp_path)
