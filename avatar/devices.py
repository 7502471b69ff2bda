"""`emotebot devices`: the cameras, microphones and virtual camera back ends this machine has."""

from __future__ import annotations

import sys
from pathlib import Path

from avatar.capture.camera import list_cameras
from avatar.doctor import is_loopback


def _cameras() -> list[str]:
    cams = [f"  {i}: {name}" for i, name in list_cameras()
            if not is_loopback(Path(f"/sys/class/video4linux/video{i}"), name)]
    if not cams and not sys.platform.startswith("linux"):
        return ["  (names are listed on Linux only; try --source 0, 1, ...)"]
    return cams or ["  none found"]


def _microphones() -> list[str]:
    try:
        import sounddevice as sd

        devices = sd.query_devices()
    except (OSError, ImportError) as e:  # no PortAudio library
        return [f"  unavailable: {e} (on Debian/Ubuntu: sudo apt install libportaudio2)"]
    except Exception as e:  # sounddevice raises PortAudioError when the host API fails
        return [f"  unavailable: {e}"]
    mics = [f"  {i}: {d['name']} ({d['max_input_channels']} ch, {d['default_samplerate']:.0f} Hz)"
            for i, d in enumerate(devices) if d["max_input_channels"] > 0]
    return mics or ["  none found"]


def _loopback_devices() -> list[tuple[str, str]]:
    found = []
    for dev in sorted(Path("/sys/class/video4linux").glob("video*")):
        try:
            name = (dev / "name").read_text().strip()
        except OSError:
            continue
        if is_loopback(dev, name):
            found.append((f"/dev/{dev.name}", name))
    return found


def _virtual_cameras() -> list[str]:
    try:
        import pyvirtualcam.camera as pvc
    except ImportError as e:
        return [f"  pyvirtualcam unavailable: {e}"]
    lines = [f"  back ends: {', '.join(pvc.BACKENDS) or 'none for this platform'}"]
    if sys.platform.startswith("linux"):
        devs = _loopback_devices()
        lines += [f"  {path}: {name}" for path, name in devs] or [
            "  no v4l2loopback device; create one with:",
            "    sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label=EmoteBot",
        ]
    else:
        lines.append("  needs OBS Studio's Virtual Camera (start it once in OBS) or Unity Capture on Windows")
    return lines


def describe_devices() -> str:
    parts = ["cameras:", *_cameras(), "microphones:", *_microphones(), "virtual cameras:", *_virtual_cameras()]
    return "\n".join(parts)
