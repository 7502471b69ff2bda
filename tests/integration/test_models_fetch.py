"""`emotebot models fetch`: download, verify and install, against a local HTTP server (never the internet)."""

from __future__ import annotations

import functools
import http.server
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from avatar.errors import ModelError
from avatar.models import FACE_LANDMARKER, fetch, file_sha256
from avatar.tracking.base import TrackerConfig
from avatar.tracking.tracker import open_tracker


@pytest.fixture
def server(fixtures: Path) -> Iterator[str]:
    """http://127.0.0.1:PORT/ serving the fixtures folder."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(fixtures))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.RequestHandlerClass.log_message = lambda *a, **k: None  # type: ignore[method-assign]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def test_the_pinned_hash_is_the_fixture_release(fixtures: Path) -> None:
    assert file_sha256(fixtures / "mediapipe" / "face_landmarker.task") == FACE_LANDMARKER.sha256
    assert FACE_LANDMARKER.url.startswith("https://storage.googleapis.com/mediapipe-models/face_landmarker/")


def test_fetch_verifies_and_installs(server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[int, int]] = []
    path = fetch("face-landmarker", tmp_path, url=server + "mediapipe/face_landmarker.task",
                 progress=lambda done, total: seen.append((done, total)))
    assert path == tmp_path / "face_landmarker.task"
    assert file_sha256(path) == FACE_LANDMARKER.sha256
    assert seen[-1][0] == seen[-1][1] == path.stat().st_size
    assert sorted(p.name for p in tmp_path.iterdir()) == ["face_landmarker.task"]  # no partial files left
    # Already there and verified: nothing is downloaded (this address would fail).
    assert fetch("face-landmarker", tmp_path, url="http://127.0.0.1:9/nothing") == path
    # And the tracker finds it in engines/ without being told.
    monkeypatch.setenv("EMOTEBOT_ENGINES", str(tmp_path))
    tracker = open_tracker(TrackerConfig())
    try:
        assert tracker.name == "tasks"
    finally:
        tracker.close()


def test_a_wrong_file_is_refused(server: str, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"sha256.*nothing was installed"):
        fetch("face-landmarker", tmp_path, url=server + "mediapipe/business-person.png")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ModelError, match="404"):
        fetch("face-landmarker", tmp_path, url=server + "mediapipe/missing.task")


def test_offline_says_what_to_do(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ModelError, match=r"offline.*face_landmarker\.task.*--face-model") as e:
        fetch("face-landmarker", tmp_path, url=f"http://127.0.0.1:{port}/face_landmarker.task", timeout_s=5)
    assert FACE_LANDMARKER.url in str(e.value)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ModelError, match="unknown model"):
        fetch("face-landmarkr", tmp_path)


def test_the_command(server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from avatar.cli import main

    url = server + "mediapipe/face_landmarker.task"
    assert main(["models", "fetch", "face-landmarker", "--url", url, "--dest", str(tmp_path)]) == 0
    assert "verified" in capsys.readouterr().out
    assert main(["models", "fetch", "face-landmarker", "--url", server + "nope", "--dest", str(tmp_path / "b")]) == 2
    assert "404" in capsys.readouterr().err
