"""`emotebot calibrate` (face): a neutral profile zeroes a neutral clip; guided extremes set per-user ranges."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from avatar.cli import main
from avatar.expression.rig import FACE_FIELD_NAMES
from avatar.frames import Image
from avatar.trackfile import read_track
from avatar.tracking import landmarks as mesh
from avatar.tracking import tracker as registry
from avatar.tracking.base import Landmarks, TrackerConfig
from avatar.tracking.calibrate_cmd import GUIDED, CalibrateOptions, calibrate
from avatar.tracking.calibration import GAIN_LIMITS, load_profile
from avatar.tracking.solver import FaceSolver
from tests.unit.test_solver import NEUTRAL, move_corners, move_irises, open_jaw, project

EXPRESSIVE = [f for f in FACE_FIELD_NAMES if not f.startswith("head_")]


def params_of(path: Path) -> dict[str, np.ndarray]:
    records = [r for r in read_track(path) if r.face]
    return {f: np.array([r.params[f] for r in records]) for f in FACE_FIELD_NAMES}


def test_a_profile_from_a_neutral_clip_zeroes_that_clip(fixtures: Path, tmp_path: Path) -> None:
    clip = str(fixtures / "videos" / "lp_d9.mp4")  # the first two seconds are a resting face (and one blink)
    assert main(["calibrate", "--source", clip, "--seconds", "1.5", "--profile", "rest",
                 "--calibration-dir", str(tmp_path)]) == 0
    profile = json.loads((tmp_path / "rest.json").read_text())
    assert profile["version"] == 2 and profile["tracker"] == "facemesh" and profile["gains"] == {}
    common = ["--max-frames", "50", "--calibration-dir", str(tmp_path)]
    assert main(["track", clip, "--out", str(tmp_path / "mine.jsonl"), "--profile", "rest", *common]) == 0
    default = Path(__file__).resolve().parents[2] / "calibration" / "default.json"
    assert main(["track", clip, "--out", str(tmp_path / "dflt.jsonl"), "--calibration", str(default), *common]) == 0
    mine, dflt = params_of(tmp_path / "mine.jsonl"), params_of(tmp_path / "dflt.jsonl")
    assert len(mine["jaw_open"]) == 50
    for f in ("head_yaw", "head_pitch", "head_roll"):
        assert abs(np.median(mine[f])) < 2.0, f
    for f in ("head_x", "head_y"):
        assert abs(np.median(mine[f])) < 0.05, f
    assert np.median(mine["head_scale"]) == pytest.approx(1.0, abs=0.03)
    still = np.r_[0:10, 19:36, 47:50]  # he blinks, slowly, at 10-18 and 36-46: lids and irises move for real
    for f in EXPRESSIVE:
        assert abs(np.median(mine[f])) < 0.1, f
        assert np.percentile(np.abs(mine[f][still]), 90) < 0.2, f
    # The population default reads the same resting face as further away from "rest" in total.
    def off(p: dict[str, np.ndarray]) -> float:
        return float(sum(abs(np.median(p[f])) for f in [*EXPRESSIVE, "head_x", "head_y"]) +
                     abs(np.median(p["head_scale"]) - 1))
    assert off(dflt) > 2 * off(mine) + 0.3


class ScriptedFace:
    """A fake tracker back end that plays a guided calibration: the face a user makes at media time t."""

    name = "scripted"

    def __init__(self, neutral_s: float, settle_s: float, step_s: float) -> None:
        brows = NEUTRAL.copy()
        brows[[*mesh.LEFT_BROW, *mesh.RIGHT_BROW], 1] += 0.25
        self.extremes = [open_jaw(NEUTRAL, 1.5), brows, move_corners(NEUTRAL, 0.5, 0.3),
                         move_irises(NEUTRAL, 0.3, 0.0), move_irises(NEUTRAL, -0.45, 0.0)]
        self.neutral_s, self.period, self.settle_s = neutral_s, settle_s + step_s, settle_s

    def face_at(self, t: float) -> np.ndarray:
        step = int((t - self.neutral_s) // self.period)
        into = (t - self.neutral_s) - step * self.period
        if t < self.neutral_s or step >= len(self.extremes) or into < self.settle_s / 2:
            return NEUTRAL
        return self.extremes[step]

    def process_all(self, image: Image, t: float | None = None) -> tuple[Landmarks, ...]:
        return (project(self.face_at(t or 0.0)),)

    def close(self) -> None:
        pass


def test_guided_extremes_set_the_users_ranges(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    video = tmp_path / "me.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 64))
    for _ in range(60):  # 6 s: 1 s neutral, then five steps of 0.3 s settling + 0.6 s recorded
        writer.write(np.full((64, 64, 3), 90, np.uint8))
    writer.release()
    options = CalibrateOptions(source=str(video), tracker=TrackerConfig(), neutral_s=1.0, guided=True,
                               settle_s=0.3, step_s=0.6)
    face = ScriptedFace(1.0, 0.3, 0.6)
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    registry.register_tracker("scripted", lambda config: face, first=True)
    prompts: list[str] = []
    done: list[str] = []
    cal = calibrate(options, lambda label, f: done.append(label) if f >= 1.0 else None, prompts.append)
    assert len(prompts) == 1 + len(GUIDED) and "mouth" in prompts[1]
    assert done == ["neutral", *[s.name for s in GUIDED]]
    assert cal.tracker == "scripted"
    gains = dict(cal.gains)
    assert set(gains) == {"jaw_open", "brow_raise_left", "brow_raise_right", "mouth_smile", "gaze_x"}
    solver = FaceSolver(cal)
    for extreme, fields in zip(face.extremes[:3], ("jaw_open", "brow_raise_left", "mouth_smile"), strict=True):
        reading = solver.process(project(extreme))[fields]
        assert GAIN_LIMITS[0] < gains[fields] < GAIN_LIMITS[1] and gains[fields] > 1.2  # a timid user
        assert reading == pytest.approx(0.95, abs=0.03), fields  # their own extreme now reads near full
    # Looking right went further than looking left: the tighter gain wins, so neither side overshoots.
    assert solver.process(project(face.extremes[4]))["gaze_x"] == pytest.approx(-0.95, abs=0.03)
    assert 0.5 < solver.process(project(face.extremes[3]))["gaze_x"] < 0.9
    assert solver.process(project(NEUTRAL))["jaw_open"] == pytest.approx(0.0, abs=1e-3)


def test_calibrate_errors(fixtures: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nobody = str(fixtures / "videos" / "pyfeat_no_face.mp4")
    assert main(["calibrate", "--source", nobody, "--seconds", "1", "--calibration-dir", str(tmp_path)]) == 2
    assert "saw a face in 0 frame(s)" in capsys.readouterr().err
    assert main(["calibrate", "--profile", "default", "--source", nobody]) == 2
    assert "population average" in capsys.readouterr().err
    still = str(fixtures / "images" / "misc" / "single_face.jpg")
    assert main(["calibrate", "--source", still, "--calibration-dir", str(tmp_path)]) == 2
    assert "moving face" in capsys.readouterr().err
    assert main(["track", still, "--out", str(tmp_path / "x.jsonl"), "--profile", "nobody",
                 "--calibration-dir", str(tmp_path)]) == 2
    assert "emotebot calibrate" in capsys.readouterr().err
    assert not any(tmp_path.glob("*.json"))
    with pytest.raises(Exception, match="neutral_s"):
        CalibrateOptions(neutral_s=0)
    assert load_profile(Path(__file__).resolve().parents[2] / "calibration" / "default.json").tracker == ""
