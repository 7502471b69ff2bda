"""The control page in headless Chromium drives a real pipeline: a click and a typed word switch the expression."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from avatar.app import build_pipeline
from avatar.config import AppConfig
from avatar.expression.events import TriggerSource
from avatar.expression.rig import Expression
from avatar.pipeline import Pipeline
from tests.integration.test_browser_cdp import Chromium, browser  # noqa: F401 (the fixture)


@contextmanager
def live_pipeline(image: Path) -> Iterator[Pipeline]:
    """A photo as a 10 fps live source into the browser sink and a null sink, running in a thread."""
    config = (AppConfig().override("source", source=str(image), fps=10)
              .override("compositor", width=320, height=240).override("engine", size=96)
              .override("output", sinks=("browser:0", "null")).override("pipeline", duration_s=60))
    with ExitStack() as stack:
        pipeline = build_pipeline(config, None, stack)
        thread = threading.Thread(target=pipeline.run, daemon=True)
        thread.start()
        try:
            yield pipeline
        finally:
            pipeline.stop()
            thread.join(10)


def eventually(condition: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def happy_weight(pipeline: Pipeline) -> float:
    return float(pipeline.processor.last_code.values[-4])  # neutral, happy, sad, surprised, angry


def test_click_and_typed_word_switch_the_expression(browser: Chromium, fixtures: Path) -> None:  # noqa: F811
    with live_pipeline(fixtures / "images" / "misc" / "single_face.jpg") as pipeline:
        port = pipeline.sinks[0].port
        page = browser.open(f"http://127.0.0.1:{port}/control")
        browser.wait_for(page, "document.querySelector('button[data-action=happy]') !== null")
        assert eventually(lambda: pipeline.stats.frames_out >= 3)  # live, with a face in view
        assert pipeline.processor.state.target is Expression.NEUTRAL

        browser.click(page, "button[data-action=happy]")
        assert eventually(lambda: pipeline.processor.state.target is Expression.HAPPY)
        assert eventually(lambda: happy_weight(pipeline) > 0.99)  # the frames went on to show it fully
        # The page's live status follows: the active button and the expression line.
        assert browser.wait_for(page, "document.querySelector('button.active')?.dataset.action === 'happy' && "
                                      "document.getElementById('expression').textContent === 'happy'")
        fps = browser.wait_for(page, "parseFloat(document.getElementById('fps').textContent) || 0")
        assert 3 < fps < 60  # a live figure; the median frame interval can read a little above the source rate

        browser.click(page, "#word")
        browser.type_text(page, "so mad")
        browser.click(page, "#typed button")
        assert eventually(lambda: pipeline.processor.state.target is Expression.ANGRY)
        last = pipeline.processor.state.last_trigger
        assert last is not None and last.source is TriggerSource.TYPED and last.word == "so mad"
        assert browser.wait_for(page, "document.getElementById('last_trigger').textContent === 'so mad (typed)'")

        browser.click(page, "h1")  # out of the text box: number keys pick expressions, as in the preview window
        browser.call("Input.dispatchKeyEvent", {"type": "keyDown", "key": "3", "text": "3"}, page)
        assert eventually(lambda: pipeline.processor.state.target is Expression.SAD)
