"""`emotebot smooth` on track files: a real tracked video and a synthetic clip with gaps and bad lines."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from avatar.cli import main
from avatar.expression.rig import HIGH, LOW, N_FACE, FaceParams
from avatar.frames import Image, PixelFormat
from avatar.smoothing.metrics import score
from avatar.smoothing.noise import NoiseProfile, local_fit
from avatar.smoothing.synth import synth_track
from avatar.smoothing.units import normalise
from avatar.trackfile import TrackRecord, read_track, write_track
from avatar.tracking.calibration import Calibration
from avatar.tracking.facemesh import FaceMeshTracker
from avatar.tracking.solver import FaceSolver


def _write(path: Path, t: np.ndarray, values: np.ndarray, face: np.ndarray) -> None:
    with path.open("w") as f:
        write_track([TrackRecord(float(ti), i, bool(fi), FaceParams(v.astype(np.float32)), {}, {"note": i})
                     for i, (ti, v, fi) in enumerate(zip(t, values, face, strict=True))], f)


def _params(path: Path) -> tuple[np.ndarray, list[TrackRecord]]:
    recs = list(read_track(path))
    return np.array([r.params.values for r in recs], dtype=np.float64), recs


def _jitter(v: np.ndarray, raw: np.ndarray) -> float:
    """RMS second difference where a zero-phase local fit of the raw tracking is still (the benchmark's)."""
    t = np.arange(len(v)) / 30.0
    return score([normalise(v)], [normalise(local_fit(raw))], [t]).jitter


@pytest.fixture(scope="module")
def tracked_video(fixtures, tmp_path_factory) -> Path:
    """pyfeat_single_face.mp4 through the live tracker and solver, written as a track file."""
    cap = cv2.VideoCapture(str(fixtures / "videos" / "pyfeat_single_face.mp4"))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    tracker, lms = FaceMeshTracker(), []
    while True:
        ok, px = cap.read()
        if not ok:
            break
        lms.append(tracker.process(Image(px, PixelFormat.BGR)))
    tracker.close()
    faces = [lm for lm in lms if lm is not None]
    seen = Calibration.from_landmarks(faces[:15])
    solver = FaceSolver(dataclasses.replace(Calibration.default(), center_x=seen.center_x,
                                            center_y=seen.center_y, face_width=seen.face_width))
    values = np.array([solver.process(lm).values if lm else FaceParams.rest().values for lm in lms])
    path = tmp_path_factory.mktemp("track") / "in.jsonl"
    _write(path, np.arange(len(lms)) / fps, values, np.array([lm is not None for lm in lms]))
    return path


def test_smoothing_a_tracked_video_lowers_jitter_and_keeps_every_line(tracked_video: Path, tmp_path: Path) -> None:
    raw, recs = _params(tracked_video)
    jitters = {}
    for method in ("gru", "one-euro", "none"):
        out = tmp_path / f"{method}.jsonl"
        assert main(["smooth", str(tracked_video), "--out", str(out), "--method", method]) == 0
        smoothed, back = _params(out)
        assert [(r.t, r.frame, r.face, r.extra) for r in back] == [(r.t, r.frame, r.face, r.extra) for r in recs]
        jitters[method] = _jitter(smoothed, raw)
    assert jitters["none"] == pytest.approx(_jitter(raw, raw), rel=1e-3)
    assert jitters["gru"] < 0.6 * jitters["none"]


def test_gaps_nan_and_face_lost_lines_come_out_finite_and_held(tmp_path: Path) -> None:
    tr = synth_track(NoiseProfile.load(), 200, np.random.default_rng(11), level=1.0, fps=30.0, p_lost=0.0)
    face = np.ones(200, dtype=bool)
    face[80:110] = False
    values = np.where(face[:, None], tr.noisy, 0.0)  # lost lines carry rest-like values, as a tracker writes
    t = tr.t.copy()
    t[150] = t[149]  # a repeated timestamp
    src = tmp_path / "in.jsonl"
    _write(src, t, values, face)
    lines = [json.loads(line) for line in src.read_text().splitlines()]
    lines[60]["params"]["head_yaw"] = float("nan")  # Python's JSON writes and reads NaN
    src.write_text("".join(json.dumps(obj) + "\n" for obj in lines))
    out = tmp_path / "out.jsonl"
    assert main(["smooth", str(src), "--out", str(out)]) == 0
    smoothed, _ = _params(out)
    assert np.isfinite(smoothed).all()
    assert (smoothed >= LOW[:N_FACE] - 1e-5).all() and (smoothed <= HIGH[:N_FACE] + 1e-5).all()
    assert np.allclose(smoothed[80:110], smoothed[79], atol=1e-4)  # held while the face is away
    assert np.array_equal(smoothed[150], smoothed[149])  # repeated time: held


def test_a_bad_track_file_is_one_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    src = tmp_path / "bad.jsonl"
    src.write_text('{"t": 0, "frame": 0, "face": true, "params": {"nose": 1}}\n')
    assert main(["smooth", str(src), "--out", str(tmp_path / "o.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "line 1" in err and "nose" in err and "Traceback" not in err
