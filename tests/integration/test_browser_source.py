"""The OBS browser source in headless Chromium: EmoteBot's pixels on a transparent page, for several pages at once."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import cv2
import numpy as np

from avatar.character.renderer import RendererConfig, StudioRenderer
from avatar.expression.rig import RigCode
from avatar.frames import Image, PixelFormat
from avatar.output.browser import BrowserSink
from avatar.output.compositor import Background, Compositor, CompositorConfig
from tests.integration.test_browser_cdp import Chromium, browser  # noqa: F401 (the fixture)

W, H = 320, 240

# Waits for a few frames, then reads the canvas back: how many pixels are clear, solid, and two samples.
READ_CANVAS = """(async () => {
  for (let i = 0; i < 300 && !(window.emotebot && window.emotebot.frames >= 3); i++)
    await new Promise(r => setTimeout(r, 50));
  const s = window.emotebot;
  const c = document.getElementById('emotebot');
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let clear = 0, solid = 0;
  for (let i = 3; i < d.length; i += 4) { if (d[i] === 0) clear++; else if (d[i] === 255) solid++; }
  const px = (x, y) => Array.from(d.slice(4 * (y * c.width + x), 4 * (y * c.width + x) + 4));
  return {frames: s.frames, errors: s.errors, width: c.width, height: c.height, clear, solid,
          probe: px(%d, %d), corner: px(2, 2)};
})()"""


def emotebot_frame() -> Image:
    """The studio renderer's EmoteBot, placed to the image right, on a transparent background."""
    head = StudioRenderer(RendererConfig(size=160)).render(RigCode.rest(), 160)
    comp = Compositor(CompositorConfig(width=W, height=H, background=Background.TRANSPARENT, head_fraction=0.7))
    return Image(comp.process(head, RigCode.rest().replace(head_x=0.3)).pixels.copy(), PixelFormat.RGBA)


def solid_probe(frame: Image) -> tuple[int, int]:
    """A pixel well inside EmoteBot (alpha 255 in a 5×5 neighbourhood), to compare exactly."""
    alpha = frame.pixels[..., 3]
    inner = cv2.erode((alpha == 255).astype(np.uint8), np.ones((5, 5), np.uint8))
    ys, xs = np.nonzero(inner)
    i = len(xs) // 2
    return int(xs[i]), int(ys[i])


@contextlib.contextmanager
def serving(frame: Image, fps: float = 30.0) -> Iterator[BrowserSink]:
    """A browser sink on a free port, fed `frame` at `fps` from a thread, as the pipeline would."""
    sink = BrowserSink("0")
    sink.open(W, H, fps)
    stop = threading.Event()

    def feed() -> None:
        while not stop.is_set():
            sink.send(frame, time.perf_counter())
            stop.wait(1.0 / fps)

    thread = threading.Thread(target=feed, daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        stop.set()
        thread.join(5)
        sink.close()


def test_page_shows_emotebot_on_transparent_pixels_in_two_pages_at_once(browser: Chromium) -> None:  # noqa: F811
    frame = emotebot_frame()
    x, y = solid_probe(frame)
    with serving(frame) as sink:
        pages = [browser.open(sink.url), browser.open(sink.url)]  # several clients at once
        seen = [browser.evaluate(p, READ_CANVAS % (x, y), timeout=45) for p in pages]
        viewers = sink._server.viewers() if sink._server else 0
    alpha = frame.pixels[..., 3]
    for s in seen:
        assert s["frames"] >= 3 and s["errors"] == 0, s
        assert (s["width"], s["height"]) == (W, H)
        assert s["clear"] >= 0.9 * int((alpha == 0).sum())  # the background arrives transparent (alpha 0)
        assert s["solid"] >= 0.9 * int((alpha == 255).sum()) > 2000  # and EmoteBot arrives opaque
        assert np.abs(np.array(s["probe"]) - frame.pixels[y, x]).max() <= 2  # in its own colours (RGBA order)
        assert s["corner"][3] == 0
    assert viewers == 2


def test_page_itself_is_transparent_for_obs(browser: Chromium) -> None:  # noqa: F811
    """A screenshot without Chromium's white backdrop: only EmoteBot is opaque, so OBS shows what is below."""
    frame = emotebot_frame()
    x, y = solid_probe(frame)
    with serving(frame) as sink:
        page = browser.open(sink.url)
        browser.wait_for(page, "window.emotebot && window.emotebot.frames >= 3", timeout=45)
        png = browser.screenshot_png(page, W, H)
    shot = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)  # BGRA
    assert shot.shape == (H, W, 4)
    assert shot[2, 2, 3] == 0 and shot[H - 3, 2, 3] == 0
    assert shot[y, x, 3] == 255
    assert np.abs(shot[y, x, :3][::-1].astype(int) - frame.pixels[y, x, :3]).max() <= 2
