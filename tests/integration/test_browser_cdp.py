"""A tiny DevTools-protocol driver for headless Chromium over --remote-debugging-pipe (no WebSocket, no Selenium).

Chromium reads JSON commands, each ended by a NUL byte, on fd 3 and writes replies and events on fd 4. The
browser source tests (and benchmarks/latency.py) use it to open pages, run script in them, click, and take
screenshots.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import require_tool

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--remote-debugging-pipe")


class CdpError(RuntimeError):
    pass


class Chromium:
    """One headless Chromium; pages are DevTools sessions (flat mode)."""

    def __init__(self, binary: str, profile: str) -> None:
        to_browser, self._cmd_w = os.pipe()  # we write commands; Chromium reads fd 3
        self._evt_r, from_browser = os.pipe()  # Chromium writes fd 4; we read

        def wire_fds() -> None:
            # dup first: a plain dup2 onto the same number would keep close-on-exec set.
            a, b = os.dup(to_browser), os.dup(from_browser)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            preexec_fn=wire_fds, close_fds=False, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        os.close(to_browser)
        os.close(from_browser)
        self._buf = b""
        self._next_id = 0

    def call(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = 30.0) -> dict[str, Any]:
        self._next_id += 1
        msg: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._cmd_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise CdpError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def _read(self, deadline: float) -> dict[str, Any]:
        import select

        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._evt_r], [], [], left)[0]:
                raise CdpError("Chromium did not answer in time")
            chunk = os.read(self._evt_r, 1 << 16)
            if not chunk:
                raise CdpError("Chromium closed the DevTools pipe (it exited)")
            self._buf += chunk
        msg, _, self._buf = self._buf.partition(b"\0")
        return json.loads(msg)

    def open(self, url: str) -> str:
        """Open a page and wait until it has loaded; returns its session id."""
        target = self.call("Target.createTarget", {"url": url})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.wait_for(session, "location.href !== 'about:blank' && document.readyState === 'complete'")
        return session

    def evaluate(self, session: str, expression: str, timeout: float = 30.0) -> Any:
        """Run script in the page (promises are awaited); returns its JSON value."""
        result = self.call("Runtime.evaluate", {"expression": expression, "awaitPromise": True,
                                                "returnByValue": True}, session, timeout)
        if "exceptionDetails" in result:
            raise CdpError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, session: str, condition: str, timeout: float = 30.0) -> Any:
        """Poll a script expression in the page until it is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                value = self.evaluate(session, condition)
            except CdpError as e:  # the page navigated away from the context we asked in: ask the new one
                if "context" not in str(e).lower():
                    raise
                value = None
            if value:
                return value
            time.sleep(0.05)
        raise CdpError(f"timed out waiting for {condition!r}")

    def click(self, session: str, selector: str) -> None:
        """A real mouse click (press and release) at the middle of the element."""
        box = self.evaluate(session, f"(() => {{ const r = document.querySelector({json.dumps(selector)})"
                                     ".getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()")
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", {"type": kind, "x": box[0], "y": box[1], "button": "left",
                                                   "clickCount": 1}, session)

    def type_text(self, session: str, text: str) -> None:
        self.call("Input.insertText", {"text": text}, session)

    def screenshot_png(self, session: str, width: int, height: int) -> bytes:
        """A PNG of the page with its real transparency (the default white backdrop turned off)."""
        self.call("Emulation.setDeviceMetricsOverride", {"width": width, "height": height,
                                                         "deviceScaleFactor": 1, "mobile": False}, session)
        self.call("Emulation.setDefaultBackgroundColorOverride", {"color": {"r": 0, "g": 0, "b": 0, "a": 0}},
                  session)
        data = self.call("Page.captureScreenshot", {"format": "png"}, session)["data"]
        return base64.b64decode(data)

    def close(self) -> None:
        for fd in (self._cmd_w, self._evt_r):
            with contextlib.suppress(OSError):
                os.close(fd)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)


@contextlib.contextmanager
def chromium(binary: str | None = None) -> Iterator[Chromium]:
    """A headless Chromium with a throw-away profile; always ended with its helper processes."""
    binary = binary or require_tool("chromium")
    with tempfile.TemporaryDirectory(prefix="emotebot-chromium-") as profile:
        browser = Chromium(binary, profile)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser() -> Iterator[Chromium]:
    with chromium() as b:
        yield b


def test_the_driver_runs_script_and_clicks(browser: Chromium) -> None:
    """Guards the other browser tests: script results come back and a click reaches the page."""
    page = browser.open("data:text/html,<button id=b onclick=\"document.title='clicked'\" "
                        "style='width:200px;height:80px'>x</button>")
    assert browser.wait_for(page, "document.readyState === 'complete'") is True
    assert browser.evaluate(page, "Promise.resolve(6 * 7)") == 42
    browser.click(page, "#b")
    assert browser.wait_for(page, "document.title", timeout=5) == "clicked"
