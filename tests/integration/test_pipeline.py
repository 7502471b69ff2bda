"""The whole pipeline on real fixtures: video in, EmoteBot out to a file, a virtual camera, a browser camera."""

from __future__ import annotations

import json
import queue
import subprocess
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from avatar.app import run_app
from avatar.cli import _apply_flags, build_parser
from tests.conftest import require_tool
from tests.memory_vcam import MemoryCamera


def config_for(*argv: str):
    return _apply_flags(build_parser().parse_args(["run", *argv]))


def frame_count(path: Path) -> int:
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return n


def test_video_through_the_pipeline_into_a_file(fixtures, tmp_path):
    src = fixtures / "videos" / "lp_d0.mp4"
    out = tmp_path / "out.mp4"
    stats = run_app(config_for("--source", str(src), "--sink", f"file:{out}", "--size", "96",
                               "--output-size", "320x180"), None)
    n_in = frame_count(src)
    assert stats.frames_in == stats.frames_out == n_in  # a file render keeps every frame
    assert stats.faces_found >= 0.95 * n_in
    assert stats.errors == 0
    assert frame_count(out) == n_in
    for stage in ("capture", "tracking", "solver", "mapper", "smoother", "generator", "compositor", "sink"):
        assert stats.percentiles_ms(stage), stage


def test_video_into_a_virtual_camera(fixtures, memory_backends):
    src = fixtures / "videos" / "lp_d9.mp4"
    stats = run_app(config_for("--source", str(src), "--sink", "vcam", "--vcam-backend", "emotebot-memory",
                               "--max-frames", "12", "--size", "96", "--output-size", "320x180"), None)
    # The sink paces by capture time, so a frame that arrives too soon after another may be thinned out.
    assert 1 <= len(MemoryCamera.received) <= stats.frames_out <= 12
    frames = [f.reshape(180, 320, 3) for _, f in MemoryCamera.received]
    assert all(f.shape == (180, 320, 3) for f in frames)
    # The transparent background arrives chroma green (to key in OBS) and EmoteBot stands in the frame's middle
    # half (it follows the face, so not exactly at the centre).
    last = frames[-1].astype(int)
    assert (last[:6, :6] == (0, 177, 64)).all()
    robot = np.abs(last - (0, 177, 64)).sum(axis=2) > 60
    ys, xs = np.nonzero(robot)
    assert robot.sum() > 0.05 * robot.size and 80 < xs.mean() < 240 and 45 < ys.mean() < 135


@pytest.mark.parametrize("clip", ["pyfeat_face_noface.mov", "pyfeat_noface_face.mov"])
def test_pipeline_keeps_running_when_the_face_leaves_or_comes(fixtures, clip):
    stats = run_app(config_for("--source", str(fixtures / "videos" / clip), "--sink", "null", "--fast",
                               "--size", "64", "--output-size", "128x128"), None)
    assert stats.errors == 0
    assert stats.frames_out == stats.frames_in > 100
    assert 0.2 * stats.frames_out < stats.faces_found < 0.8 * stats.frames_out


def test_no_face_clip_finds_no_face_and_shows_idle_emotebot(fixtures):
    stats = run_app(config_for("--source", str(fixtures / "videos" / "pyfeat_no_face.mp4"), "--sink", "null",
                               "--fast", "--size", "64", "--output-size", "128x128"), None)
    assert stats.faces_found == 0 and stats.frames_out == stats.frames_in > 50


PAGE = b"""<!doctype html><html><body><video id=v autoplay muted playsinline></video><canvas id=c></canvas>
<script>
const report = (r) => fetch('/result?' + encodeURIComponent(JSON.stringify(r)));
async function run() {
  const v = document.getElementById('v');
  v.srcObject = await navigator.mediaDevices.getUserMedia({video: true});
  await v.play();
  for (let i = 0; i < 250 && (v.videoWidth === 0 || v.readyState < 2); i++)
    await new Promise(r => setTimeout(r, 20));
  await new Promise(r => setTimeout(r, 300));
  const c = document.getElementById('c');
  c.width = v.videoWidth; c.height = v.videoHeight;
  const g = c.getContext('2d');
  g.drawImage(v, 0, 0);
  const d = g.getImageData(0, 0, c.width, c.height).data;
  let green = 0, shell = 0, glow = 0;
  for (let i = 0; i < d.length; i += 4) {
    const [r, gg, b] = [d[i], d[i + 1], d[i + 2]];
    if (gg > 130 && r < 80 && b < 120) green++;
    else if (r > 170 && gg > 170 && b > 170) shell++;
    else if (b > 150 && gg > 130 && r < 150) glow++;
  }
  report({width: c.width, height: c.height, green: green, shell: shell, glow: glow});
}
run().catch(e => report({error: String(e)}));
</script></body></html>"""


def test_chromium_shows_emotebot_from_the_y4m_stream(tmp_path):
    from tests.integration.test_outputs import page_server, running

    chromium = require_tool("chromium")
    y4m = tmp_path / "emotebot.y4m"
    run_app(config_for("--source", "script", "--sink", f"y4m:{y4m}", "--max-frames", "20", "--size", "128",
                       "--output-size", "320x240", "--background", "chroma"), None)
    profile = tempfile.mkdtemp(prefix="emotebot-chromium-", dir=tmp_path)
    with page_server(PAGE) as (url, results):
        cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--no-first-run", "--use-fake-ui-for-media-stream",
               "--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={y4m}",
               f"--user-data-dir={profile}", url]
        with running(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL):
            try:
                seen = json.loads(results.get(timeout=45))
            except queue.Empty:
                pytest.fail("Chromium did not report what its camera showed within 45 s")
    assert "error" not in seen, seen
    total = seen["width"] * seen["height"]
    assert (seen["width"], seen["height"]) == (320, 240)
    assert seen["green"] > 0.4 * total  # the chroma background
    assert seen["shell"] > 0.03 * total  # EmoteBot's light head shell
    assert seen["glow"] > 0.002 * total  # and the glowing face on its screen
