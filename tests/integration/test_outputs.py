"""Outputs read back by real tools: Chromium's fake camera, ffmpeg via a FIFO, ffprobe, a window on Xvfb."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest

from avatar.expression.rig import RigCode
from avatar.frames import Image, PixelFormat
from avatar.output.compositor import Background, Compositor, CompositorConfig
from avatar.output.sinks import SinkKind, SinkSpec, open_sink
from tests.conftest import REPO, require_tool

W, H = 320, 240
HEAD_RGB = (220, 30, 30)
CHROMA = CompositorConfig().chroma


def red_disc_head(size: int = 128) -> Image:
    mask = np.zeros((size, size), np.uint8)
    cv2.circle(mask, (size // 2, size // 2), size // 3, (255,), cv2.FILLED, cv2.LINE_AA)
    px = np.zeros((size, size, 4), np.uint8)
    px[..., :3] = HEAD_RGB
    px[..., 3] = mask
    return Image(px, PixelFormat.RGBA)


def composite_frames(n: int) -> list[Image]:
    """A red head to the image right (head_x +0.5) on chroma green: shows colour order and mirroring."""
    config = CompositorConfig(width=W, height=H, background=Background.CHROMA, head_fraction=0.5)
    comp = Compositor(config)
    code = RigCode.rest().replace(head_x=0.5)
    return [Image(comp.process(red_disc_head(), code).pixels.copy(), PixelFormat.RGBA) for _ in range(n)]


# --- Chromium reads the y4m file as its camera --------------------------------------------------------------

PAGE = b"""<!doctype html><html><body><video id=v autoplay muted playsinline></video><canvas id=c></canvas>
<script>
const report = (r) => fetch('/result?' + encodeURIComponent(JSON.stringify(r)));
async function run() {
  const v = document.getElementById('v');
  v.srcObject = await navigator.mediaDevices.getUserMedia({video: true});
  await v.play();
  for (let i = 0; i < 250 && (v.videoWidth === 0 || v.readyState < 2); i++)
    await new Promise(r => setTimeout(r, 20));
  await new Promise(r => setTimeout(r, 300));  // let a few frames through
  const c = document.getElementById('c');
  c.width = v.videoWidth; c.height = v.videoHeight;
  const g = c.getContext('2d');
  g.drawImage(v, 0, 0);
  const d = g.getImageData(0, 0, c.width, c.height).data;
  let left = [0, 0, 0], nLeft = 0, red = 0, redX = 0;
  for (let y = 0; y < c.height; y++) for (let x = 0; x < c.width; x++) {
    const i = 4 * (y * c.width + x);
    if (x < c.width / 4) { left[0] += d[i]; left[1] += d[i + 1]; left[2] += d[i + 2]; nLeft++; }
    if (d[i] > 150 && d[i + 1] < 100 && d[i + 2] < 100) { red++; redX += x; }
  }
  report({width: c.width, height: c.height, left: left.map(s => s / nLeft), red: red,
          redX: red ? redX / red : -1});
}
run().catch(e => report({error: String(e)}));
</script></body></html>"""


@contextlib.contextmanager
def page_server(page: bytes = PAGE) -> Iterator[tuple[str, queue.Queue[str]]]:
    """Serves `page` on 127.0.0.1 and collects what the page reports back."""
    results: queue.Queue[str] = queue.Queue()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/result?"):
                results.put(urllib.parse.unquote(self.path.split("?", 1)[1]))
            body = page if self.path == "/" else b"ok"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:  # keep test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", results
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def running(cmd: list[str], **kwargs: object) -> Iterator[subprocess.Popen]:
    """Start a process in its own group and always end that group (browsers leave helper processes)."""
    proc = subprocess.Popen(cmd, start_new_session=True, **kwargs)  # type: ignore[call-overload]
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def test_chromium_sees_the_y4m_stream_as_a_camera(tmp_path: Path) -> None:
    chromium = require_tool("chromium")
    y4m = tmp_path / "cam.y4m"
    sink = open_sink(SinkSpec(SinkKind.Y4M, str(y4m)), W, H, 30)
    for i, frame in enumerate(composite_frames(30)):
        sink.send(frame, i / 30)
    sink.close()
    profile = tempfile.mkdtemp(prefix="emotebot-chromium-", dir=tmp_path)
    with page_server() as (url, results):
        cmd = [
            chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run", "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={y4m}",
            f"--user-data-dir={profile}", url,
        ]
        with running(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL):
            try:
                seen = json.loads(results.get(timeout=45))
            except queue.Empty:
                pytest.fail("Chromium did not report what its camera showed within 45 s")
    assert "error" not in seen, seen
    assert (seen["width"], seen["height"]) == (W, H)
    assert np.abs(np.array(seen["left"]) - CHROMA).max() < 12  # the background arrives green, not swapped
    assert seen["red"] > 1000  # the red head arrived red
    assert seen["redX"] > 0.6 * W  # and on the image right: nothing mirrored it


# --- ffmpeg reads the y4m stream through a FIFO ------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_ffmpeg_reads_the_y4m_stream_from_a_fifo(tmp_path: Path) -> None:
    ffmpeg = require_tool("ffmpeg")
    fifo, raw = tmp_path / "cam.y4m", tmp_path / "out.rgb"
    os.mkfifo(fifo)
    frames = composite_frames(8)
    cmd = [ffmpeg, "-v", "error", "-f", "yuv4mpegpipe", "-i", str(fifo), "-f", "rawvideo",
           "-pix_fmt", "rgb24", "-y", str(raw)]
    with running(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as proc:
        sink = open_sink(SinkSpec(SinkKind.Y4M, str(fifo)), W, H, 30)  # returns once ffmpeg has it open
        for i, frame in enumerate(frames):
            sink.send(frame, i / 30)
        sink.close()
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode()
    video = np.frombuffer(raw.read_bytes(), np.uint8).reshape(-1, H, W, 3)
    assert len(video) == 8
    assert np.abs(video[3, 5, 5].astype(int) - CHROMA).max() < 10
    head_x = W // 2 + round(0.5 * 0.5 * H)
    assert np.abs(video[3, H // 2, head_x].astype(int) - HEAD_RGB).max() < 12


# --- ffprobe reads the mp4 file ----------------------------------------------------------------------------


def test_ffprobe_reads_the_mp4_file(tmp_path: Path) -> None:
    ffprobe = require_tool("ffprobe")
    path = tmp_path / "out.mp4"
    sink = open_sink(SinkSpec(SinkKind.FILE, str(path)), W, H, 30)
    for i, frame in enumerate(composite_frames(15)):
        sink.send(frame, i / 30)
    sink.close()
    probe = subprocess.run(
        [ffprobe, "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
         "stream=codec_name,width,height,nb_read_frames,avg_frame_rate", "-of", "json", str(path)],
        capture_output=True, text=True, timeout=30, check=True,
    )
    stream = json.loads(probe.stdout)["streams"][0]
    assert stream["codec_name"] == "mpeg4"
    assert (stream["width"], stream["height"]) == (W, H)
    assert int(stream["nb_read_frames"]) == 15
    assert stream["avg_frame_rate"] == "30/1"


# --- a real window on a virtual X display ------------------------------------------------------------------

WINDOW_SCRIPT = """
import numpy as np
from avatar.frames import Image, PixelFormat
from avatar.output.sinks import SinkOptions, display_available, open_sink, parse_sink_spec
assert display_available()
actions = []
sink = open_sink(parse_sink_spec("window"), 320, 240, 30, SinkOptions(on_key=actions.append))
frame = np.zeros((240, 320, 4), np.uint8)
for i in range(10):
    frame[..., 0] = 25 * i
    frame[..., 3] = 255 if i % 2 else 0
    sink.send(Image(frame, PixelFormat.RGBA), i / 30)
sink.close()
print("shown", sink.frames, "actions", actions)
"""


@contextlib.contextmanager
def xvfb_display() -> Iterator[dict[str, str]]:
    """A virtual X display for the duration; yields the environment a child process needs to use it."""
    xvfb = require_tool("Xvfb")
    read_fd, write_fd = os.pipe()
    # -displayfd: Xvfb picks a free display number and writes it to us once it is ready.
    with running([xvfb, "-displayfd", str(write_fd), "-screen", "0", "640x480x24", "-nolisten", "tcp"],
                 pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL):
        os.close(write_fd)
        with os.fdopen(read_fd) as f:
            number = f.readline().strip()
        assert number.isdigit(), "Xvfb did not report a display"
        env = {**os.environ, "DISPLAY": f":{number}", "QT_QPA_PLATFORM": "xcb"}
        env.pop("WAYLAND_DISPLAY", None)
        yield env


def test_window_sink_opens_and_shows_frames_on_xvfb(tmp_path: Path) -> None:
    with xvfb_display() as env:
        # A separate process: Qt keeps global state, and it aborts rather than raises on display trouble.
        done = subprocess.run([sys.executable, "-c", WINDOW_SCRIPT], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "shown 10 actions []" in done.stdout


def test_composite_frames_helper_draws_what_the_tests_expect() -> None:
    """Guards the other tests: the synthetic scene really is red-on-green with the head to the right."""
    px = composite_frames(1)[0].pixels
    assert px[5, 5, :3].tolist() == list(CHROMA)
    assert px[H // 2, W // 2 + 60, :3].tolist() == list(HEAD_RGB)
