"""The browser source's HTTP server on 127.0.0.1: its pages, the newest frame, and the control page's API."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from avatar.errors import SinkError
from avatar.expression.rig import EXPRESSIONS
from avatar.output.browser.frames import FrameStore
from avatar.output.browser.words import word_action

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
# The only files served, by exact request path: no path is ever joined to a folder, so nothing else can be
# reached (no traversal, no listing).
PAGES: dict[str, tuple[str, str]] = {
    "/": ("source.html", "text/html; charset=utf-8"),
    "/control": ("control.html", "text/html; charset=utf-8"),
    "/source.js": ("source.js", "text/javascript; charset=utf-8"),
    "/control.js": ("control.js", "text/javascript; charset=utf-8"),
    "/style.css": ("style.css", "text/css; charset=utf-8"),
}
ACTIONS: tuple[str, ...] = (*(e.value for e in EXPRESSIONS), "calibrate")  # what the control page may ask for
MAX_CONNECTIONS = 32  # open connections at once; more are closed at once (a runaway page cannot exhaust threads)
SOCKET_TIMEOUT_S = 10.0  # a client that stops reading (or goes quiet) is dropped after this long
FRAME_WAIT_S = 1.0  # how long a frame request waits for a new frame before answering 204
_MAX_BODY = 4096  # bytes of JSON a control request may carry
_VIEWER_S = 2.0  # a client that asked for a frame this recently counts as watching


@dataclass(frozen=True)
class Controls:
    """What the control page reaches: the pipeline's actions and live state."""

    on_action: Callable[[str], None] | None = None  # "happy", "calibrate", …: the same actions as hotkeys
    on_typed: Callable[[str, str], None] | None = None  # (action, word typed); None → on_action(action)
    status: Callable[[], dict[str, object]] | None = None  # fps, latency_ms, expression, last_trigger, mic_level


def load_pages(folder: Path = WEB_DIR) -> dict[str, tuple[bytes, str]]:
    """Every page's bytes and content type, read once when the server starts."""
    pages = {}
    for path, (name, ctype) in PAGES.items():
        try:
            pages[path] = ((folder / name).read_bytes(), ctype)
        except OSError as e:
            raise SinkError(f"browser: the page file {str(folder / name)!r} is missing; reinstall EmoteBot") from e
    return pages


class BrowserServer(ThreadingHTTPServer):
    """One thread per connection, bound to 127.0.0.1; knows every open connection so close() can end them."""

    daemon_threads = True  # a client stuck mid-write never keeps EmoteBot from exiting

    def __init__(self, port: int, store: FrameStore, controls: Controls, pages: dict[str, tuple[bytes, str]]):
        self.store, self.controls, self.pages = store, controls, pages
        self._open: set[socket.socket] = set()
        self._viewers: dict[str, float] = {}  # page name (or connection) -> last frame request
        self._lock = threading.Lock()
        try:
            super().__init__(("127.0.0.1", port), Handler)
        except OSError as e:
            raise SinkError(
                f"browser: cannot listen on 127.0.0.1:{port}: {e.strerror or e}. Another program (or another "
                f"EmoteBot) uses the port: pick another, e.g. --sink browser:{port + 1}"
            ) from e

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def allowed_hosts(self) -> set[str]:
        return {f"127.0.0.1:{self.port}", f"localhost:{self.port}"}

    def verify_request(self, request, client_address) -> bool:  # type: ignore[no-untyped-def]
        with self._lock:
            if len(self._open) >= MAX_CONNECTIONS:
                log.warning("browser: %d connections already open; refusing one more", MAX_CONNECTIONS)
                return False
            self._open.add(request)
            return True

    def shutdown_request(self, request) -> None:  # type: ignore[no-untyped-def]
        with self._lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request, client_address) -> None:  # type: ignore[no-untyped-def]
        log.debug("browser: request from %s failed", client_address, exc_info=True)

    def saw_viewer(self, client: str) -> None:
        with self._lock:
            self._viewers[client] = time.monotonic()

    def viewers(self) -> int:
        """Pages (by the name each gives itself; else connections) that asked for a frame in the last two seconds."""
        now = time.monotonic()
        with self._lock:
            self._viewers = {c: t for c, t in self._viewers.items() if now - t < _VIEWER_S}
            return len(self._viewers)

    def end_connections(self) -> None:
        """Cut every open connection (a stalled client's blocked write fails at once)."""
        with self._lock:
            conns = list(self._open)
        for conn in conns:
            with contextlib.suppress(OSError):  # already closed by the client
                conn.shutdown(socket.SHUT_RDWR)


class Handler(BaseHTTPRequestHandler):
    """Routes by exact path; anything else is 404."""

    server: BrowserServer
    protocol_version = "HTTP/1.1"  # keep-alive: a page fetching 30 frames a second reuses its connection
    server_version = "EmoteBot"
    timeout = SOCKET_TIMEOUT_S

    def log_message(self, format: str, *args: object) -> None:
        log.debug("browser: %s " + format, self.address_string(), *args)

    # -- responses ---------------------------------------------------------------------------------------
    def _send(self, status: HTTPStatus, body: bytes = b"", ctype: str = "text/plain; charset=utf-8",
              headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)
        except OSError:  # the client left (reset, broken pipe, timed out): nothing to tell it
            self.close_connection = True

    def _json(self, status: HTTPStatus, data: dict[str, object]) -> None:
        self._send(status, json.dumps(data).encode(), "application/json")

    def _host_ok(self) -> bool:
        # A page on another site that re-points its own name at 127.0.0.1 (DNS rebinding) sends its own Host.
        if self.headers.get("Host", "") in self.server.allowed_hosts():
            return True
        self._send(HTTPStatus.FORBIDDEN, b"wrong Host: open http://127.0.0.1:%d/\n" % self.server.port)
        return False

    # -- GET ---------------------------------------------------------------------------------------------
    def do_GET(self) -> None:
        if not self._host_ok():
            return
        url = urllib.parse.urlsplit(self.path)
        if url.path in self.server.pages:
            body, ctype = self.server.pages[url.path]
            self._send(HTTPStatus.OK, body, ctype)
        elif url.path == "/frame":
            self._frame(url.query)
        elif url.path == "/api/status":
            self._json(HTTPStatus.OK, self._status())
        else:
            self._send(HTTPStatus.NOT_FOUND, b"not found\n")

    def _frame(self, query: str) -> None:
        args = urllib.parse.parse_qs(query)
        try:
            after = int(args.get("after", ["0"])[0])
        except ValueError:
            self._send(HTTPStatus.BAD_REQUEST, b"after must be a whole number\n")
            return
        # a page names itself (it may fetch over several connections); a client that does not is its connection
        name = args.get("viewer", [""])[0]
        ok = 0 < len(name) <= 32 and name.isascii() and name.isalnum()
        self.server.saw_viewer(f"page {name}" if ok else f"{self.client_address[0]}:{self.client_address[1]}")
        frame = self.server.store.newest(after, FRAME_WAIT_S)
        if frame is None:
            self._send(HTTPStatus.NO_CONTENT)
            return
        x, y, w, h = frame.box
        age_ms = (time.perf_counter() - frame.t_capture) * 1000.0  # the pipeline's clock is perf_counter
        self._send(HTTPStatus.OK, frame.png, "image/png", {
            "X-Frame": str(frame.seq),
            "X-Frame-Box": f"{x},{y},{w},{h},{frame.width},{frame.height}",
            "X-Frame-Age-Ms": f"{age_ms:.1f}",
        })

    def _status(self) -> dict[str, object]:
        c = self.server.controls
        store = self.server.store
        live = dict(c.status()) if c.status is not None else {}
        encode_ms = 1000.0 * store.encode_seconds / store.encoded_count if store.encoded_count else 0.0
        return {**live, "actions": list(ACTIONS), "viewers": self.server.viewers(),
                "encode_ms": round(encode_ms, 2)}

    # -- POST --------------------------------------------------------------------------------------------
    def do_POST(self) -> None:
        if not self._host_ok():
            return
        origin = self.headers.get("Origin")
        if origin is not None and origin not in {f"http://{h}" for h in self.server.allowed_hosts()}:
            self._json(HTTPStatus.FORBIDDEN, {"error": f"requests from {origin} are not accepted"})
            return
        path = urllib.parse.urlsplit(self.path).path
        if path not in ("/api/action", "/api/trigger"):
            self._send(HTTPStatus.NOT_FOUND, b"not found\n")
            return
        body = self._body()
        if body is None:
            return
        if path == "/api/action":
            self._action(str(body.get("action", "")))
        else:
            self._typed(str(body.get("word", "")))

    def _body(self) -> dict[str, object] | None:
        """The request's JSON object, or None after answering 4xx."""
        if self.headers.get_content_type() != "application/json":
            # Cross-site pages cannot send JSON without the browser asking first (CORS), and we never agree.
            self._json(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, {"error": "send application/json"})
            return None
        try:
            length = int(self.headers.get("Content-Length", "-1"))
        except ValueError:
            length = -1
        if not 0 <= length <= _MAX_BODY:
            self._json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": f"body must be 0..{_MAX_BODY} bytes"})
            self.close_connection = True
            return None
        try:
            data = json.loads(self.rfile.read(length) or b"{}")
        except (ValueError, OSError):
            data = None
        if not isinstance(data, dict):
            self._json(HTTPStatus.BAD_REQUEST, {"error": "the body must be a JSON object"})
            return None
        return data

    def _action(self, action: str) -> None:
        if action not in ACTIONS:
            self._json(HTTPStatus.BAD_REQUEST, {"error": f"unknown action {action!r}", "actions": list(ACTIONS)})
            return
        if self.server.controls.on_action is not None:
            self.server.controls.on_action(action)
        self._json(HTTPStatus.OK, {"action": action})

    def _typed(self, word: str) -> None:
        action = word_action(word)
        if action is None:
            self._json(HTTPStatus.UNPROCESSABLE_ENTITY,
                       {"error": f"no expression for {word.strip()[:40]!r}", "actions": list(ACTIONS)})
            return
        c = self.server.controls
        if c.on_typed is not None:
            c.on_typed(action, word.strip()[:40])
        elif c.on_action is not None:
            c.on_action(action)
        self._json(HTTPStatus.OK, {"action": action})
