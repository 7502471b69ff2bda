"""The browser sink's server over real sockets: only its own files, only on 127.0.0.1, and no client can slow it."""

from __future__ import annotations

import http.client
import json
import select
import socket
import threading
from collections.abc import Iterator
from contextlib import ExitStack

import numpy as np
import pytest

from avatar.app import build_pipeline
from avatar.config import AppConfig
from avatar.errors import SinkError
from avatar.frames import Image, PixelFormat
from avatar.output.browser import BrowserSink
from avatar.output.sinks import SinkOptions

W, H = 160, 120


@pytest.fixture
def sink() -> Iterator[BrowserSink]:
    actions: list[str] = []
    s = BrowserSink("0", SinkOptions(on_key=actions.append, status=lambda: {"expression": "sad"}))
    s.open(W, H, 30)
    s.actions = actions  # type: ignore[attr-defined]
    try:
        yield s
    finally:
        s.close()


def request(port: int, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, bytes, http.client.HTTPResponse]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read(), resp
    finally:
        conn.close()


@pytest.mark.parametrize("path", [
    "/nope", "/../../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2fetc%2fpasswd", "//etc/passwd",
    "/source.html", "/web/source.js", "/source.js/../../server.py", "/control/", "/api", "/favicon.ico",
    "/etc/passwd", "/C:/Windows/win.ini", "/%00",
])
def test_unknown_paths_and_traversal_get_404(sink: BrowserSink, path: str) -> None:
    status, body, _ = request(sink.port, "GET", path)
    assert status == 404
    assert b"root:" not in body and b"import" not in body


def test_its_own_pages_are_served(sink: BrowserSink) -> None:
    for path, needle in [("/", b"<canvas"), ("/control", b"trigger word"), ("/source.js", b"fetch("),
                         ("/control.js", b"/api/action"), ("/style.css", b"button")]:
        status, body, resp = request(sink.port, "GET", path)
        assert status == 200 and needle in body, path
        assert resp.getheader("Cache-Control") == "no-store"


def test_it_listens_on_127_0_0_1_only(sink: BrowserSink) -> None:
    with socket.socket() as s, pytest.raises(OSError):  # another loopback address: nobody listens there
        s.settimeout(2)
        s.connect(("127.0.0.2", sink.port))


def test_a_foreign_host_name_is_refused(sink: BrowserSink) -> None:
    """DNS rebinding: a web page whose own name now points at 127.0.0.1 still sends its own Host."""
    status, _, _ = request(sink.port, "GET", "/", headers={"Host": "attacker.example:80"})
    assert status == 403
    status, _, _ = request(sink.port, "POST", "/api/action", json.dumps({"action": "happy"}).encode(),
                           {"Content-Type": "application/json", "Origin": "http://attacker.example"})
    assert status == 403
    assert sink.actions == []  # type: ignore[attr-defined]


def test_control_api_checks_what_it_is_sent(sink: BrowserSink) -> None:
    post = {"Content-Type": "application/json"}
    assert request(sink.port, "POST", "/api/action", b'{"action": "happy"}', post)[0] == 200
    assert request(sink.port, "POST", "/api/action", b'{"action": "quit"}', post)[0] == 400  # not from a page
    assert request(sink.port, "POST", "/api/action", b"action=happy",
                   {"Content-Type": "application/x-www-form-urlencoded"})[0] == 415  # a cross-site form
    assert request(sink.port, "POST", "/api/action", b"[1, 2]", post)[0] == 400
    assert request(sink.port, "POST", "/api/action", b"x" * 5000, post)[0] == 413
    assert request(sink.port, "POST", "/api/trigger", b'{"word": "Wow!"}', post)[0] == 200
    status, body, _ = request(sink.port, "POST", "/api/trigger", b'{"word": "banana"}', post)
    assert status == 422 and b"banana" in body
    assert sink.actions == ["happy", "surprised"]  # type: ignore[attr-defined]
    status, body, _ = request(sink.port, "GET", "/api/status")
    status_json = json.loads(body)
    assert status_json["expression"] == "sad" and "calibrate" in status_json["actions"]


def test_a_page_fetching_over_several_connections_counts_as_one_viewer(sink: BrowserSink) -> None:
    # each request() is a new TCP connection, as a browser's pool may use for one page
    request(sink.port, "GET", "/frame?after=0&viewer=abc123")  # watched: frames are encoded from now on
    px = np.zeros((H, W, 4), np.uint8)
    px[30:60, 100:140] = (10, 200, 30, 255)
    sink.send(Image(px, PixelFormat.RGBA), 0.0)  # so each request below is answered at once, not after 1 s
    for _ in range(2):
        assert request(sink.port, "GET", "/frame?after=0&viewer=abc123")[0] == 200
    assert sink._server is not None and sink._server.viewers() == 1
    request(sink.port, "GET", "/frame?after=0&viewer=def456")
    assert sink._server.viewers() == 2
    # a client that names no page (or names it badly) is counted by its connection
    request(sink.port, "GET", "/frame?after=0")
    request(sink.port, "GET", "/frame?after=0&viewer=../../x")
    assert sink._server.viewers() == 4


def test_frames_carry_their_box_and_alpha(sink: BrowserSink) -> None:
    px = np.zeros((H, W, 4), np.uint8)
    px[30:60, 100:140] = (10, 200, 30, 255)
    request(sink.port, "GET", "/frame?after=0")  # a page is watching: from now on frames are encoded
    sink.send(Image(px, PixelFormat.RGBA), 0.0)
    status, body, resp = request(sink.port, "GET", "/frame?after=0")
    assert status == 200 and resp.getheader("Content-Type") == "image/png"
    assert resp.getheader("X-Frame-Box") == f"100,30,40,30,{W},{H}"
    import cv2

    crop = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_UNCHANGED)
    assert crop.shape == (30, 40, 4) and crop[0, 0].tolist() == [30, 200, 10, 255]  # BGRA of the RGBA above
    seq = int(resp.getheader("X-Frame"))
    assert request(sink.port, "GET", f"/frame?after={seq}")[0] == 204  # nothing newer within a second


# --- a stalled client never slows the pipeline ------------------------------------------------------------


def healthy_reader(port: int, stop: threading.Event, got: list[int]) -> None:
    """A well-behaved page: asks for the next frame as soon as it has the last one."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    seq = 0
    while not stop.is_set():
        try:
            conn.request("GET", f"/frame?after={seq}")
            resp = conn.getresponse()
            resp.read()
        except OSError:
            break
        if resp.status == 200:
            seq = int(resp.getheader("X-Frame", "0"))
            got.append(seq)
    conn.close()


def stalled_client(port: int) -> socket.socket:
    """Asks for thousands of frames in one go (HTTP pipelining) and never reads a byte of the answers."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    one = f"GET /frame?after=0 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    s.sendall(one * 3000)
    return s


def run_pipeline(seconds: float, stall: bool) -> tuple[float, int, bool]:
    """fps of a paced run into a browser sink (+ null), the frames a healthy page got, and whether the stalled
    client was left with unread answers."""
    config = (AppConfig().override("source", source="script", fps=60)
              .override("compositor", width=W * 2, height=H * 2).override("engine", size=96)
              .override("output", sinks=("browser:0", "null")).override("pipeline", duration_s=seconds))
    stop, got = threading.Event(), []
    with ExitStack() as stack:
        pipeline = build_pipeline(config, None, stack)
        port = pipeline.sinks[0].port
        reader = threading.Thread(target=healthy_reader, args=(port, stop, got), daemon=True)
        reader.start()
        stuck = stalled_client(port) if stall else None
        stats = pipeline.run()
        stop.set()
        reader.join(10)
        backed_up = stuck is not None and bool(select.select([stuck], [], [], 0)[0])
        if stuck is not None:
            stuck.close()
    return stats.fps, len(got), backed_up


def test_a_stalled_client_does_not_lower_the_pipeline_fps() -> None:
    fps_free, got_free, _ = run_pipeline(2.0, stall=False)
    fps_stalled, got_stalled, backed_up = run_pipeline(2.0, stall=True)
    assert backed_up  # the stalled client really was sent answers it never read
    assert fps_free > 10
    assert fps_stalled >= 0.6 * fps_free, (fps_free, fps_stalled)
    assert got_stalled >= 0.5 * got_free > 0, (got_free, got_stalled)  # and other pages kept their frames


def test_a_taken_port_is_a_clear_error(sink: BrowserSink) -> None:
    second = BrowserSink(str(sink.port))
    with pytest.raises(SinkError, match=rf"cannot listen on 127\.0\.0\.1:{sink.port}.*--sink browser:{sink.port + 1}"):
        second.open(W, H, 30)
