"""The browser sink: serves EmoteBot with a transparent background to OBS browser sources, and a control page."""

from __future__ import annotations

import logging
import threading

from avatar.errors import ConfigError, SinkError
from avatar.frames import Image, PixelFormat
from avatar.output.browser.frames import FrameStore
from avatar.output.browser.server import BrowserServer, Controls, load_pages
from avatar.output.sinks.base import SinkOptions, check_open_args, check_size

log = logging.getLogger(__name__)

DEFAULT_PORT = 8090


def parse_port(target: str | None) -> int:
    """The port of "browser[:PORT]": DEFAULT_PORT when absent, 0 for any free port."""
    if target is None:
        return DEFAULT_PORT
    try:
        port = int(target)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise ConfigError(f"sink: browser port must be a whole number 0..65535, got {target!r}; write browser:8090")
    return port


class BrowserSink:
    """Serves http://127.0.0.1:PORT/ (the browser source) and /control (the control page).

    send() only copies the frame, and only while a page is watching; one encoder thread turns the newest
    frame into a PNG with alpha, and each client connection has its own thread that takes the newest
    encoded frame when it asks. So the pipeline never waits for a page, however slow or stalled.
    """

    def __init__(self, target: str | None, options: SinkOptions | None = None) -> None:
        self.requested_port = parse_port(target)
        self.name = f"browser:{self.requested_port}"
        options = options or SinkOptions()
        self.controls = Controls(options.on_key, options.on_typed, options.status)
        self.frames = 0
        self.store: FrameStore | None = None
        self._server: BrowserServer | None = None
        self._threads: list[threading.Thread] = []
        self._size = (0, 0)

    @property
    def port(self) -> int:
        """The port it listens on, once open (the one chosen by the system for browser:0)."""
        if self._server is None:
            raise SinkError(f"{self.name}: not open")
        return self._server.port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def open(self, width: int, height: int, fps: float) -> None:
        check_open_args(self.name, width, height, fps)
        pages = load_pages()
        store = FrameStore()
        server = BrowserServer(self.requested_port, store, self.controls, pages)
        self.store, self._server, self._size = store, server, (width, height)
        self.name = f"browser:{server.port}"
        self._threads = [
            threading.Thread(target=store.run_encoder, name="browser-encoder", daemon=True),
            threading.Thread(target=server.serve_forever, args=(0.05,), name="browser-server", daemon=True),
        ]
        for t in self._threads:
            t.start()
        log.info("browser source: %s  (OBS: add a Browser source with this URL, %d×%d)", self.url, width, height)
        log.info("control page:   %scontrol  (OBS: View → Docks → Custom Browser Docks)", self.url)

    def send(self, frame: Image, t_capture: float) -> None:
        if self.store is None:
            raise SinkError(f"{self.name}: send() before open() or after close()")
        check_size(self.name, frame, *self._size)
        self.frames += 1
        if self.store.wanted():  # nobody watching: not even a copy
            self.store.put(frame.to(PixelFormat.RGBA).pixels, t_capture)

    def close(self) -> None:
        store, server, self.store, self._server = self.store, self._server, None, None
        if store is not None:
            store.close()
        if server is not None:
            server.shutdown()
            server.end_connections()
            server.server_close()
        for t in self._threads:
            t.join(2.0)
        self._threads = []
