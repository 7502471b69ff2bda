"""`emotebot track` on every fixture video and every kind of still, through the real command line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from avatar.cli import main
from avatar.expression.rig import FACE_FIELD_NAMES, Expression
from avatar.trackfile import TrackRecord, read_track

NO_FACE = {"pyfeat_no_face.mp4"}
FRAMES = 12


def track(tmp_path: Path, *args: str) -> list[TrackRecord]:
    out = tmp_path / "out.jsonl"
    assert main(["track", *args, "--out", str(out)]) == 0
    return list(read_track(out))


def test_every_fixture_video(fixtures: Path, tmp_path: Path) -> None:
    videos = sorted((fixtures / "videos").iterdir())
    assert len(videos) >= 14
    for video in videos:
        records = track(tmp_path, str(video), "--max-frames", str(FRAMES))
        assert [r.frame for r in records] == list(range(FRAMES)), video.name
        assert records[1].t > records[0].t == 0.0
        faces = sum(r.face for r in records)
        if video.name in NO_FACE or video.name == "pyfeat_noface_face.mov":  # the face enters at ~frame 96
            assert faces == 0, video.name
        else:
            assert faces >= FRAMES - 1, video.name
        for r in records:
            assert set(r.params.to_dict()) == set(FACE_FIELD_NAMES)
            if r.face:
                assert sum(r.expression.values()) == pytest.approx(1.0, abs=1e-3)
            else:
                assert r.params.to_dict()["head_scale"] == 1.0 and r.expression == {}


def test_lines_follow_the_design_format(fixtures: Path, tmp_path: Path) -> None:
    out = tmp_path / "d0.jsonl"
    assert main(["track", str(fixtures / "videos" / "lp_d0.mp4"), "--out", str(out), "--max-frames", "3",
                 "--landmarks"]) == 0
    line = json.loads(out.read_text().splitlines()[0])
    assert list(line)[:5] == ["t", "frame", "face", "params", "expression"]
    assert len(line["landmarks"]) == 478 and all(len(p) == 3 for p in line["landmarks"])
    assert 0.0 < line["landmarks"][1][0] < 1.0  # MediaPipe's normalised image coordinates
    assert "blendshapes" not in line  # FaceMesh has none
    assert set(line["expression"]) == {e.value for e in Expression}


def test_tasks_back_end_adds_blendshapes(fixtures: Path, tmp_path: Path) -> None:
    model = fixtures / "mediapipe" / "face_landmarker.task"
    records = track(tmp_path, str(fixtures / "videos" / "lp_d3.mp4"), "--face-model", str(model),
                    "--max-frames", "20")
    assert all(r.face for r in records)
    shapes = records[15].extra["blendshapes"]
    assert len(shapes) == 52 and shapes["eyeBlinkLeft"] > shapes["eyeBlinkRight"] + 0.2  # the wink, her left
    assert records[15].params["eye_blink_left"] > 0.6


def test_images_of_every_kind(fixtures: Path, tmp_path: Path) -> None:
    misc = fixtures / "images" / "misc"
    single = track(tmp_path, str(misc / "single_face.jpg"))
    assert len(single) == 1 and single[0].face and single[0].frame == 0
    assert not track(tmp_path, str(misc / "no-face.jpg"))[0].face
    rgba = fixtures / "images" / "labeled" / "sadtalker_happy1.png"  # 4 channels, 221×226
    assert cv2.imread(str(rgba), cv2.IMREAD_UNCHANGED).shape == (226, 221, 4)
    assert track(tmp_path, str(rgba))[0].face
    gray = tmp_path / "gray.png"
    cv2.imwrite(str(gray), cv2.cvtColor(cv2.imread(str(misc / "single_face.jpg")), cv2.COLOR_BGR2GRAY))
    assert track(tmp_path, str(gray))[0].face
    odd = tmp_path / "odd.png"
    cv2.imwrite(str(odd), cv2.imread(str(misc / "single_face.jpg"))[3:500, 7:390])  # 383×497
    assert track(tmp_path, str(odd))[0].face


def test_a_folder_in_sorted_order(fixtures: Path, tmp_path: Path) -> None:
    folder = tmp_path / "stills"
    folder.mkdir()
    names = ["b_single.jpg", "a_noface.jpg", "c_happy.png", "d_tiny.png", "e_broken.jpg"]
    shutil.copy(fixtures / "images" / "misc" / "single_face.jpg", folder / names[0])
    shutil.copy(fixtures / "images" / "misc" / "no-face.jpg", folder / names[1])
    shutil.copy(fixtures / "images" / "labeled" / "sadtalker_happy1.png", folder / names[2])  # RGBA, a broad smile
    cv2.imwrite(str(folder / names[3]), np.zeros((8, 8, 3), np.uint8))  # too small to hold a face
    (folder / names[4]).write_bytes(b"not a picture")  # unreadable: skipped with a warning
    records = track(tmp_path, str(folder))
    assert [r.frame for r in records] == [0, 1, 2, 3]  # sorted by name; the broken file is skipped
    assert [r.face for r in records] == [False, True, True, False]
    assert max(records[2].expression, key=lambda e: records[2].expression[e]) is Expression.HAPPY


def test_bad_sources_are_clear_errors(fixtures: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "x.jsonl")
    assert main(["track", str(tmp_path / "missing.mp4"), "--out", out]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["track", "script", "--out", out]) == 2
    assert "real faces" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text('{"version": 2}')
    assert main(["track", str(fixtures / "images" / "misc" / "single_face.jpg"), "--out", out,
                 "--calibration", str(tmp_path / "bad.json")]) == 2
    assert "bad.json" in capsys.readouterr().err
