"""The `emotebot` command as a user runs it: bad input gives one clear line, a non-zero exit, no traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from tests.conftest import REPO


def emotebot(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "avatar.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO, env={**os.environ, **(env or {})})


def assert_clean_failure(proc: subprocess.CompletedProcess, *phrases: str) -> None:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr + proc.stdout
    for phrase in phrases:
        assert phrase in proc.stderr, proc.stderr


def test_help_everywhere():
    for cmd in ([], ["run"], ["demo"], ["devices"], ["render"], ["bench"], ["config"]):
        proc = emotebot(*cmd, "--help")
        assert proc.returncode == 0 and "usage: emotebot" in proc.stdout


def test_missing_camera_index(tmp_path):
    proc = emotebot("run", "--source", "9", "--sink", "null", "--max-frames", "3")
    assert_clean_failure(proc, "camera 9 could not be opened", "emotebot demo")


def test_unreadable_video(tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_text("this is not a video")
    assert_clean_failure(emotebot("run", "--source", str(bad), "--sink", "null"), "cannot open video")
    assert_clean_failure(emotebot("run", "--source", str(tmp_path / "nope.mp4"), "--sink", "null"),
                         "does not exist")


def test_malformed_config(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[compositor]\nbackground = "plaid"\n')
    assert_clean_failure(emotebot("run", "--config", str(cfg)), "line 2", "background", "chroma")


def test_no_virtual_camera_device_says_how_to_make_one():
    proc = emotebot("run", "--source", "script", "--sink", "vcam", "--max-frames", "2")
    assert_clean_failure(proc, "modprobe v4l2loopback devices=1 exclusive_caps=1 card_label=EmoteBot")


def test_no_display_for_the_window():
    env = {"DISPLAY": "", "WAYLAND_DISPLAY": ""}
    proc = emotebot("run", "--source", "script", "--sink", "window", "--max-frames", "2", env=env)
    assert_clean_failure(proc, "no display", "file:")


def test_render_draws_codes_clamps_with_one_warning_and_refuses_unknown_fields(tmp_path):
    codes = tmp_path / "codes.jsonl"
    lines = [{"happy": 1.0}, {"head_yaw": 120.0, "jaw_open": 2.0}, {"sad": 1.0, "eye_blink_left": -3.0}]
    codes.write_text("\n".join(json.dumps(c) for c in lines) + "\n")
    out = tmp_path / "frames"
    proc = emotebot("render", str(codes), "--engine", "reference", "--out", str(out), "--size", "96")
    assert proc.returncode == 0, proc.stderr
    pngs = sorted(out.glob("*.png"))
    assert len(pngs) == 3
    warnings = [line for line in proc.stderr.splitlines() if "clamped" in line]
    assert len(warnings) == 1 and "head_yaw=120" in warnings[0] and "and 1 more" in warnings[0]
    img = cv2.imread(str(pngs[0]), cv2.IMREAD_UNCHANGED)
    assert img.shape == (96, 96, 4) and img[0, 0, 3] == 0 and img[48, 48, 3] == 255

    codes.write_text('{"happy": 1}\n{"grin": 1}\n')
    assert_clean_failure(emotebot("render", str(codes), "--out", str(out)), "line 2", "grin", "mouth_smile")


def test_render_to_a_video_placed_by_pose(tmp_path):
    codes = tmp_path / "codes.jsonl"
    codes.write_text("".join(json.dumps({"head_x": x / 10}) + "\n" for x in range(-5, 6)))
    out = tmp_path / "poses.mp4"
    proc = emotebot("render", str(codes), "--out", str(out), "--size", "64", "--output-size", "320x180")
    assert proc.returncode == 0, proc.stderr
    cap = cv2.VideoCapture(str(out))
    n = 0
    while cap.read()[0]:
        n += 1
    assert n == 11


@pytest.mark.parametrize("source", ["script", "videos/lp_d0.mp4"])
def test_bench_json_has_every_stage(fixtures, source):
    src = source if source == "script" else str(fixtures / source)
    proc = emotebot("bench", "--json", "--source", src, "--frames", "20", "--size", "96")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    for key in ("capture", "tracking", "solver", "mapper", "smoother", "generator", "compositor", "sink",
                "end_to_end_p50", "end_to_end_p99", "fps"):
        assert key in result
    assert result["frames"] == 20 and result["fps"] > 0 and result["generator"] > 0
    assert (result["tracking"] > 0) == (source != "script")


def test_demo_without_a_display_writes_demo_mp4(tmp_path):
    out = tmp_path / "demo.mp4"
    proc = emotebot("demo", "--out", str(out), "--duration", "1.0", "--size", "96", "--output-size", "320x180",
                    env={"DISPLAY": "", "WAYLAND_DISPLAY": ""})
    assert proc.returncode == 0, proc.stderr
    assert f"demo video written to {Path(out).resolve()}" in proc.stdout
    assert "p50" in proc.stdout  # the timing summary
    assert out.stat().st_size > 1000


def test_ctrl_c_stops_cleanly_and_finishes_the_file(tmp_path):
    import signal
    import time

    out = tmp_path / "long.mp4"
    proc = subprocess.Popen([sys.executable, "-m", "avatar.cli", "run", "--source", "script", "--sink",
                             f"file:{out}", "--set", "source.script_seconds=120", "--size", "64",
                             "--output-size", "320x180"], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not out.exists() or out.stat().st_size < 20_000):
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode in (0, 130), stderr
    assert "Traceback" not in stderr
    assert "p50" in stdout  # the summary is printed on the way out
    cap = cv2.VideoCapture(str(out))
    assert cap.isOpened() and cap.read()[0]  # the file was closed properly and plays


def test_demo_with_a_display_opens_the_preview(tmp_path):
    from tests.integration.test_outputs import xvfb_display

    out = tmp_path / "demo.mp4"
    with xvfb_display() as env:
        proc = subprocess.run([sys.executable, "-m", "avatar.cli", "demo", "--out", str(out), "--duration", "1.5",
                               "--size", "96", "--output-size", "320x180"], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "→ window" in proc.stderr and not out.exists()
    assert "p50" in proc.stdout
