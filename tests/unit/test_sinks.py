"""Sinks: spec parsing, colour order and frame counts of every output, and the errors users see."""

from __future__ import annotations

import os
import platform
import threading
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import pytest
import pyvirtualcam
from pyvirtualcam.util import encode_fourcc

from avatar.errors import ConfigError, SinkError
from avatar.frames import Image, PixelFormat
from avatar.output.sinks import (
    FileSink,
    NullSink,
    SinkKind,
    SinkOptions,
    SinkSpec,
    VirtualCameraSink,
    WindowSink,
    Y4mSink,
    open_sink,
    parse_sink_spec,
)
from avatar.output.sinks import window as window_module
from avatar.output.sinks.convert import Flattener, checkerboard, solid
from avatar.output.sinks.vcam import FramePacer, setup_help
from avatar.output.sinks.window import key_action
from avatar.output.sinks.y4m import y4m_header
from tests.memory_vcam import BrokenCamera, MemoryCamera

W, H = 160, 120
RED, GREEN, BLUE = (230, 20, 20), (20, 200, 40), (30, 40, 220)
MATTE = (24, 26, 32)


def rgba(rgb: tuple[int, int, int], alpha: int = 255) -> Image:
    px = np.empty((H, W, 4), np.uint8)
    px[..., :3] = rgb
    px[..., 3] = alpha
    return Image(px, PixelFormat.RGBA)


def near(actual: object, expected: Sequence[int], tol: int) -> bool:
    return bool(np.abs(np.asarray(actual, dtype=int) - np.asarray(expected)).max() <= tol)


# --- specs -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("vcam", SinkSpec(SinkKind.VCAM)),
        ("vcam:/dev/video10", SinkSpec(SinkKind.VCAM, "/dev/video10")),
        ("window", SinkSpec(SinkKind.WINDOW)),
        ("file:out/a.mp4", SinkSpec(SinkKind.FILE, "out/a.mp4")),
        ("file:C:\\clips\\a.mp4", SinkSpec(SinkKind.FILE, "C:\\clips\\a.mp4")),
        ("Y4M:/tmp/cam.y4m", SinkSpec(SinkKind.Y4M, "/tmp/cam.y4m")),
        (" null ", SinkSpec(SinkKind.NULL)),
    ],
)
def test_sink_specs_parse(text: str, spec: SinkSpec) -> None:
    assert parse_sink_spec(text) == spec


def test_spec_round_trips_through_str() -> None:
    assert str(parse_sink_spec("vcam:/dev/video10")) == "vcam:/dev/video10"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("obs", "allowed: vcam[:DEVICE], window, file:PATH, y4m:PATH, null"),
        ("file", "needs a path"),
        ("y4m:", "needs a path"),
        ("window:big", "takes no ':' target"),
        ("null:x", "takes no ':' target"),
        ("vcam:", "empty target"),
    ],
)
def test_bad_sink_specs_say_what_is_allowed(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_sink_spec(text)


def test_sink_options_validate_the_matte() -> None:
    with pytest.raises(ConfigError, match="matte"):
        SinkOptions(matte=(0, 0, 256))


# --- conversions -------------------------------------------------------------------------------------------


def test_flattener_lays_transparency_over_the_matte_in_the_asked_order() -> None:
    frame = rgba(RED).pixels.copy()
    frame[:, : W // 2, 3] = 0
    frame[:, W // 2 :, 3] = 128
    bgr = Flattener(solid(W, H, BLUE, PixelFormat.BGR), PixelFormat.BGR)(Image(frame, PixelFormat.RGBA))
    assert bgr[0, 0].tolist() == list(BLUE[::-1])
    half = [round((r * 128 + b * 127) / 255) for r, b in zip(RED, BLUE, strict=True)]
    assert near(bgr[0, -1], half[::-1], 1)


def test_flattener_passes_opaque_frames_through() -> None:
    out = Flattener(solid(W, H, BLUE, PixelFormat.RGB), PixelFormat.RGB)(rgba(GREEN))
    assert (out == GREEN).all()


def test_checkerboard_alternates_two_greys() -> None:
    board = checkerboard(64, 32, cell=16)
    assert board.shape == (32, 64, 3)
    assert board[0, 0, 0] != board[0, 16, 0] and board[0, 0, 0] == board[16, 16, 0]


# --- null --------------------------------------------------------------------------------------------------


def test_null_sink_counts_frames_and_refuses_the_wrong_size() -> None:
    sink = open_sink(parse_sink_spec("null"), W, H, 30)
    assert isinstance(sink, NullSink)
    for i in range(3):
        sink.send(rgba(RED), t_capture=float(i))
    assert sink.frames == 3 and sink.last_t_capture == 2.0
    with pytest.raises(SinkError, match="opened at 160×120"):
        sink.send(Image(np.zeros((10, 10, 4), np.uint8), PixelFormat.RGBA), 3.0)


def test_sinks_refuse_odd_sizes_at_open() -> None:
    with pytest.raises(SinkError, match="even"):
        NullSink().open(161, 120, 30)


# --- file --------------------------------------------------------------------------------------------------


def read_video(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


@pytest.mark.parametrize("name", ["out.mp4", "out.avi"])
def test_file_sink_writes_every_frame_in_the_right_colours(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    sink = open_sink(SinkSpec(SinkKind.FILE, str(path)), W, H, 30, SinkOptions(matte=MATTE))
    sequence = [rgba(RED)] * 4 + [rgba(GREEN)] * 4 + [rgba(BLUE, alpha=0)] * 4
    for i, frame in enumerate(sequence):
        sink.send(frame, i / 30)
    sink.close()
    sink.close()  # harmless
    frames = read_video(path)
    assert len(frames) == 12
    assert frames[0].shape == (H, W, 3)
    # Read back as BGR: a red frame must come back red (catches an RGB/BGR swap), transparency as the matte.
    assert near(frames[1][H // 2, W // 2], RED[::-1], 20)
    assert near(frames[6][H // 2, W // 2], GREEN[::-1], 20)
    assert near(frames[10][H // 2, W // 2], MATTE[::-1], 20)


def test_file_sink_refuses_unknown_extensions_and_missing_folders(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\.webm.*allowed: \.mp4"):
        FileSink(str(tmp_path / "a.webm"), MATTE)
    missing = tmp_path / "no" / "a.mp4"
    with pytest.raises(SinkError, match="does not exist"):
        FileSink(str(missing), MATTE).open(W, H, 30)


# --- y4m ---------------------------------------------------------------------------------------------------


def parse_y4m(data: bytes) -> tuple[dict[str, str], list[np.ndarray]]:
    header, _, rest = data.partition(b"\n")
    magic, *tokens = header.decode().split(" ")
    assert magic == "YUV4MPEG2"
    tags = {t[0]: t[1:] for t in tokens}
    w, h = int(tags["W"]), int(tags["H"])
    size = w * h * 3 // 2
    frames = []
    while rest:
        marker, _, rest = rest.partition(b"\n")
        assert marker == b"FRAME"
        yuv = np.frombuffer(rest[:size], np.uint8).reshape(h * 3 // 2, w)
        frames.append(cv2.cvtColor(yuv, cv2.COLOR_YUV2RGB_I420))
        rest = rest[size:]
    return tags, frames


def test_y4m_sink_writes_a_valid_header_and_frames(tmp_path: Path) -> None:
    path = tmp_path / "out.y4m"
    sink = open_sink(SinkSpec(SinkKind.Y4M, str(path)), W, H, 30, SinkOptions(matte=MATTE))
    for i, frame in enumerate([rgba(RED), rgba(GREEN), rgba(BLUE, alpha=0)]):
        sink.send(frame, i / 30)
    sink.close()
    tags, frames = parse_y4m(path.read_bytes())
    assert tags == {"W": "160", "H": "120", "F": "30:1", "I": "p", "A": "1:1", "C": "420jpeg"}
    assert len(frames) == 3
    assert near(frames[0][H // 2, W // 2], RED, 6)
    assert near(frames[1][H // 2, W // 2], GREEN, 6)
    assert near(frames[2][H // 2, W // 2], MATTE, 6)


def test_y4m_header_writes_ntsc_rates_as_fractions() -> None:
    assert b" F30000:1001 " in y4m_header(640, 480, 29.97)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_y4m_sink_stops_cleanly_when_the_fifo_reader_leaves(tmp_path: Path) -> None:
    fifo = tmp_path / "cam.y4m"
    os.mkfifo(fifo)
    header = len(y4m_header(W, H, 30))
    got: list[bytes] = []

    def reader() -> None:  # reads the header and two frames, then hangs up like a closed ffplay
        with open(fifo, "rb") as f:
            got.append(f.read(header + 2 * (6 + W * H * 3 // 2)))

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    sink = Y4mSink(str(fifo), MATTE)
    sink.open(W, H, 30)  # blocks until the reader connects
    with pytest.raises(SinkError, match="reader closed the stream"):
        for _ in range(200):
            sink.send(rgba(GREEN), 0.0)
    sink.close()
    thread.join(5)
    assert got and got[0].startswith(b"YUV4MPEG2 W160 H120")


# --- virtual camera ----------------------------------------------------------------------------------------


def test_virtual_camera_gets_rgb_frames_in_order(memory_backends: None) -> None:
    options = SinkOptions(matte=MATTE, vcam_backend="emotebot-memory")
    sink = open_sink(parse_sink_spec("vcam:mem7"), W, H, 30, options)
    assert isinstance(sink, VirtualCameraSink) and sink.opened_device == "mem7"
    for i, frame in enumerate([rgba(RED), rgba(GREEN), rgba(BLUE), rgba(BLUE, alpha=0)]):
        sink.send(frame, i / 30)
    sink.close()
    assert MemoryCamera.closed == 1
    assert [fourcc for fourcc, _ in MemoryCamera.received] == [encode_fourcc("raw ")] * 4  # RGB
    pictures = [frame.reshape(H, W, 3) for _, frame in MemoryCamera.received]
    assert [p[0, 0].tolist() for p in pictures] == [list(RED), list(GREEN), list(BLUE), list(MATTE)]


def test_virtual_camera_failure_keeps_the_back_ends_reason(memory_backends: None) -> None:
    with pytest.raises(SinkError, match="device is busy") as info:
        open_sink(parse_sink_spec("vcam"), W, H, 30, SinkOptions(vcam_backend="emotebot-broken"))
    assert "To fix:" in str(info.value)


def test_unknown_virtual_camera_back_end_lists_the_available(memory_backends: None) -> None:
    with pytest.raises(SinkError, match=r"available: .*emotebot-memory"):
        open_sink(parse_sink_spec("vcam"), W, H, 30, SinkOptions(vcam_backend="nope"))


def test_missing_virtual_camera_says_how_to_make_one() -> None:
    """No virtual camera at this path on any machine: the real back ends fail and the fix is printed."""
    spec = parse_sink_spec("vcam:/dev/video-emotebot-missing")
    with pytest.raises(SinkError) as info:
        open_sink(spec, W, H, 30)
    message = str(info.value)
    assert setup_help(platform.system()) in message
    if platform.system() == "Linux":
        assert "sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label=EmoteBot" in message


@pytest.mark.parametrize(
    ("system", "words"),
    [("Linux", "v4l2loopback-dkms"), ("Windows", "OBS Studio 26"), ("Darwin", "OBS Studio 30")],
)
def test_setup_help_is_specific_to_the_platform(system: str, words: str) -> None:
    assert words in setup_help(system)


# --- window ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "action"),
    [("1", "neutral"), ("2", "happy"), ("5", "angry"), ("c", "calibrate"), ("Q", "quit"), ("\x1b", "quit")],
)
def test_hotkeys_map_to_actions(key: str, action: str) -> None:
    assert key_action(ord(key)) == action


def test_unbound_and_absent_keys_do_nothing() -> None:
    assert key_action(-1) is None and key_action(ord("x")) is None


def test_window_without_a_display_points_to_file_output(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(window_module.platform, "system", lambda: "Linux")
    monkeypatch.delenv("DISPLAY", raising=False)
    assert not window_module.display_available()
    with pytest.raises(SinkError, match=r"no display.*--sink file:out\.mp4"):
        open_sink(parse_sink_spec("window"), W, H, 30)


def test_unreachable_x_display_counts_as_no_display(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(window_module.platform, "system", lambda: "Linux")
    monkeypatch.setenv("DISPLAY", ":987")
    assert not window_module.display_available()


class FakeHighGui:
    """Stands in for OpenCV's GUI calls so key dispatch is testable without a display."""

    def __init__(self, keys: list[int]) -> None:
        self.keys = keys
        self.shown: list[np.ndarray] = []

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        cv = window_module.cv2
        monkeypatch.setattr(window_module, "display_available", lambda: True)
        monkeypatch.setattr(cv, "namedWindow", lambda *a: None)
        monkeypatch.setattr(cv, "resizeWindow", lambda *a: None)
        monkeypatch.setattr(cv, "destroyWindow", lambda *a: None)
        monkeypatch.setattr(cv, "imshow", lambda title, img: self.shown.append(img.copy()))
        monkeypatch.setattr(cv, "waitKey", lambda ms: self.keys.pop(0) if self.keys else -1)
        monkeypatch.setattr(cv, "getWindowProperty", lambda *a: 1.0)


def test_window_shows_bgr_over_a_checkerboard_and_reports_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    gui = FakeHighGui([ord("2"), -1, ord("q")])
    gui.install(monkeypatch)
    actions: list[str] = []
    sink = open_sink(parse_sink_spec("window"), W, H, 30, SinkOptions(on_key=actions.append))
    assert isinstance(sink, WindowSink)
    for frame in [rgba(RED), rgba(RED, alpha=0), rgba(GREEN)]:
        sink.send(frame, 0.0)
    sink.close()
    assert actions == ["happy", "quit"]
    assert gui.shown[0][0, 0].tolist() == list(RED[::-1])
    assert gui.shown[1][0, 0].tolist() == checkerboard(W, H)[0, 0].tolist()


# --- virtual camera: pacing, order, alpha back ends, chroma fallback, device choice -----------------------


def test_pacer_thins_a_faster_stream_evenly_to_the_camera_rate() -> None:
    pacer = FramePacer(30)
    admitted = [i for i in range(60) if pacer.admit(i / 60)]  # one second of a 60 fps webcam
    assert admitted == list(range(0, 60, 2))


def test_pacer_keeps_a_jittery_stream_at_its_own_rate() -> None:
    rng = np.random.default_rng(3)
    times = np.arange(90) / 30 + rng.uniform(-0.004, 0.004, 90)  # 30 fps, ±4 ms capture jitter
    pacer = FramePacer(30)
    assert all(pacer.admit(float(t)) for t in times)


def test_pacer_refuses_old_frames_and_restarts_after_a_stall() -> None:
    pacer = FramePacer(30)
    assert pacer.admit(1.0)
    assert not pacer.admit(1.0) and not pacer.admit(0.9)  # a repeat or an older frame would run time backwards
    assert pacer.admit(5.0)  # after a 4 s stall: sent at once …
    assert not pacer.admit(5.01)  # … and no burst to catch up
    assert pacer.admit(5.0 + 1 / 30)


def numbered(i: int) -> Image:
    return rgba((10 * i, 100, 200))


def test_virtual_camera_gets_paced_frames_in_capture_order(memory_backends: None) -> None:
    options = SinkOptions(vcam_backend="emotebot-memory")
    sink = open_sink(parse_sink_spec("vcam"), W, H, 30, options)
    for i in range(12):  # a 60 fps source into a 30 fps camera
        sink.send(numbered(i), i / 60)
    sink.send(numbered(20), 0.05)  # late and out of order
    sink.close()
    assert isinstance(sink, VirtualCameraSink) and sink.frames == 6 and sink.skipped == 7
    pictures = [frame.reshape(H, W, 3) for _, frame in MemoryCamera.received]
    assert [p[5, 5, 0] for p in pictures] == [0, 20, 40, 60, 80, 100]  # every other frame, in order


def test_virtual_camera_lays_transparency_over_the_vcam_matte(memory_backends: None) -> None:
    chroma = (0, 177, 64)
    options = SinkOptions(matte=MATTE, vcam_backend="emotebot-memory", vcam_matte=chroma)
    sink = open_sink(parse_sink_spec("vcam"), W, H, 30, options)
    sink.send(rgba(RED, alpha=0), 0.0)
    sink.close()
    assert MemoryCamera.received[0][1].reshape(H, W, 3)[0, 0].tolist() == list(chroma)


def test_alpha_back_ends_get_rgba_with_the_alpha_kept(memory_backends: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Unity Capture takes RGBA: a transparent background stays transparent instead of becoming the matte."""
    monkeypatch.setitem(pyvirtualcam.camera.BACKENDS, "unitycapture", MemoryCamera)
    sink = open_sink(parse_sink_spec("vcam"), W, H, 30, SinkOptions(vcam_backend="unitycapture"))
    assert isinstance(sink, VirtualCameraSink) and sink.pixel_format is PixelFormat.RGBA
    sink.send(rgba(RED, alpha=0), 0.0)
    sink.send(rgba(GREEN), 1 / 30)
    sink.close()
    assert [fourcc for fourcc, _ in MemoryCamera.received] == [encode_fourcc("ABGR")] * 2  # pyvirtualcam's RGBA
    first, second = (frame.reshape(H, W, 4) for _, frame in MemoryCamera.received)
    assert first[0, 0].tolist() == [*RED, 0] and second[0, 0].tolist() == [*GREEN, 255]


def test_every_back_end_is_tried_with_its_own_format(memory_backends: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """No back end named: broken ones are skipped and their reasons kept, the next one takes the camera."""
    monkeypatch.setattr(pyvirtualcam.camera, "BACKENDS", {"emotebot-broken": BrokenCamera,
                                                          "emotebot-memory": MemoryCamera})
    sink = open_sink(parse_sink_spec("vcam"), W, H, 30)
    assert isinstance(sink, VirtualCameraSink) and sink.opened_backend == "emotebot-memory"
    sink.close()
    monkeypatch.setattr(pyvirtualcam.camera, "BACKENDS", {"emotebot-broken": BrokenCamera})
    with pytest.raises(SinkError, match="'emotebot-broken' backend: device is busy"):
        open_sink(parse_sink_spec("vcam"), W, H, 30)


def test_vcam_device_setting_and_chroma_fallback_reach_the_sink(memory_backends: None) -> None:
    from contextlib import ExitStack

    from avatar.app import build_pipeline
    from avatar.config import AppConfig

    config = (AppConfig().override("source", source="script").override("compositor", width=W, height=H)
              .override("engine", size=64).override("output", sinks=("vcam",), vcam_device="/dev/video42",
                                                      vcam_backend="emotebot-memory"))
    with ExitStack() as stack:
        [sink] = build_pipeline(config, None, stack).sinks
        assert isinstance(sink, VirtualCameraSink) and sink.opened_device == "/dev/video42"
        assert sink.matte == config.compositor.chroma  # transparent background → chroma green on the camera
    colour = config.override("compositor", background="color")
    with ExitStack() as stack:
        [sink] = build_pipeline(colour, None, stack).sinks
        assert sink.matte == colour.compositor.color
