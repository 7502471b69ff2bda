"""Browser sink parts without a network: typed words, frame encoding, the latest-frame store, the sink spec."""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest

from avatar.errors import ConfigError
from avatar.output.browser import FrameStore, encode_frame, parse_port, word_action
from avatar.output.sinks import SinkKind, SinkSpec, parse_sink_spec


@pytest.mark.parametrize(("text", "action"), [
    ("happy", "happy"), ("Happy!", "happy"), ("  so HAPPY today ", "happy"), ("wow", "surprised"),
    ("mad", "angry"), ("smile", "happy"), ("reset", "neutral"), ("calibrate", "calibrate"), ("banana", None),
    ("", None), ("quit", None),
])
def test_typed_words_map_to_actions(text: str, action: str | None) -> None:
    assert word_action(text) == action


def test_a_configured_vocabulary_adds_words_and_phrases() -> None:
    extra = {"Yippee": "happy", "thumbs up": "happy", "wow": "happy"}
    assert word_action("yippee", extra) == "happy"
    assert word_action("Thumbs up!", extra) == "happy"
    assert word_action("wow", extra) == "happy"  # the configured meaning wins over the built-in one


def rgba_with_box(x: int, y: int, w: int, h: int) -> np.ndarray:
    px = np.zeros((120, 160, 4), np.uint8)
    px[y:y + h, x:x + w] = (200, 40, 10, 255)
    return px


def test_encoded_frame_is_the_png_of_the_visible_box() -> None:
    frame = encode_frame(rgba_with_box(30, 20, 50, 40), seq=7, t_capture=1.5)
    assert (frame.seq, frame.t_capture, frame.width, frame.height, frame.box) == (7, 1.5, 160, 120, (30, 20, 50, 40))
    crop = cv2.imdecode(np.frombuffer(frame.png, np.uint8), cv2.IMREAD_UNCHANGED)
    assert crop.shape == (40, 50, 4)
    assert crop[0, 0].tolist() == [10, 40, 200, 255]  # OpenCV reads the PNG back as BGRA: the colour is RGB 200,40,10


def test_a_fully_transparent_frame_encodes_to_nothing() -> None:
    frame = encode_frame(np.zeros((120, 160, 4), np.uint8), 1, 0.0)
    assert frame.box == (0, 0, 0, 0) and frame.png == b""


def test_encode_refuses_frames_without_alpha() -> None:
    with pytest.raises(ValueError, match=r"\(H, W, 4\)"):
        encode_frame(np.zeros((120, 160, 3), np.uint8), 1, 0.0)


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_frames_are_wanted_only_while_a_client_asks() -> None:
    clock = FakeClock()
    store = FrameStore(clock)
    assert not store.wanted()
    assert store.newest(0, timeout=0) is None  # a client asked (nothing encoded yet)
    assert store.wanted()
    clock.t += 5.0
    assert not store.wanted()


def test_only_the_newest_frame_is_encoded_and_every_client_gets_it() -> None:
    store = FrameStore()
    for i in range(3):
        store.put(rgba_with_box(10 * i, 10, 20, 20), t_capture=float(i))
    encoder = threading.Thread(target=store.run_encoder, daemon=True)
    encoder.start()
    first = store.newest(0, timeout=10)
    second = store.newest(0, timeout=10)
    assert first is not None and first.seq == 3 and first.box[0] == 20  # latest wins
    assert second is first  # encoded once, shared
    assert store.encoded_count == 1
    store.close()
    encoder.join(5)
    assert not encoder.is_alive()
    assert store.newest(0, timeout=10) is None  # closed: waiting clients are released


def test_put_copies_the_frame() -> None:
    store = FrameStore()
    px = rgba_with_box(0, 0, 10, 10)
    store.put(px, 0.0)
    px[:] = 0  # the compositor reuses its buffer for the next frame
    encoder = threading.Thread(target=store.run_encoder, daemon=True)
    encoder.start()
    frame = store.newest(0, timeout=10)
    store.close()
    assert frame is not None and frame.box == (0, 0, 10, 10)


def test_browser_spec_and_port() -> None:
    assert parse_sink_spec("browser") == SinkSpec(SinkKind.BROWSER)
    assert parse_sink_spec("browser:9000") == SinkSpec(SinkKind.BROWSER, "9000")
    assert parse_port(None) == 8090 and parse_port("9000") == 9000 and parse_port("0") == 0
    for bad in ("http", "70000", "-1"):
        with pytest.raises(ConfigError, match=r"browser port must be a whole number 0\.\.65535"):
            parse_port(bad)
