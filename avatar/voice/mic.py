"""The microphone, an adapter at the edge: back ends tried in order; the callback copies, stamps, enqueues."""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from avatar.errors import SourceError

log = logging.getLogger(__name__)

Clock = Callable[[], float]
OnBlock = Callable[[np.ndarray], None]  # (frames, channels) float32, called from the audio thread


class MicUnavailableError(SourceError):
    """No microphone could be opened; the message lists what every back end said."""


@dataclass(frozen=True)
class RawBlock:
    """One block as the device delivered it (its own rate), stamped when it arrived."""

    pcm: np.ndarray  # (n,) float32 mono, the device's sample rate
    t_end: float  # clock time the block's last sample arrived
    sr: int

    @property
    def t_start(self) -> float:
        return self.t_end - len(self.pcm) / self.sr


class MicBackend(Protocol):
    """A way to reach a microphone: `open` starts calling `on_block`, returns the sample rate."""

    name: str

    def open(self, device: str, block_s: float, on_block: OnBlock) -> int: ...

    def close(self) -> None: ...


_BACKENDS: dict[str, Callable[[], MicBackend]] = {}


def register_backend(name: str, factory: Callable[[], MicBackend]) -> None:
    """Add a back end (tests register fakes here); back ends are tried in the order they were registered."""
    _BACKENDS[name] = factory


def unregister_backend(name: str) -> None:
    _BACKENDS.pop(name, None)


class SoundDeviceBackend:
    """PortAudio through python-sounddevice (needs libportaudio2 on Linux)."""

    name = "sounddevice"

    def __init__(self) -> None:
        self._stream: Any = None

    def open(self, device: str, block_s: float, on_block: OnBlock) -> int:
        try:
            import sounddevice as sd  # raises OSError when the PortAudio library is missing
        except OSError as e:
            raise MicUnavailableError(f"PortAudio is missing ({e}); on Debian/Ubuntu: sudo apt install libportaudio2"
                                 ) from e
        dev: int | str | None = int(device) if device.strip().isdigit() else (device or None)
        try:
            info = sd.query_devices(dev, "input")
            sr = int(info["default_samplerate"])

            def callback(indata, frames, time_info, status) -> None:  # the audio thread: copy and hand over
                on_block(indata)

            stream = sd.InputStream(device=dev, channels=1, samplerate=sr, dtype="float32",
                                    blocksize=max(1, round(block_s * sr)), callback=callback)
            self._stream = stream
            stream.start()
        except (ValueError, sd.PortAudioError) as e:
            self.close()
            what = f"microphone {device!r}" if device else "the default microphone"
            raise MicUnavailableError(f"{what} could not be opened: {e} (`emotebot devices` lists microphones)"
                                 ) from e
        log.info("microphone: %s at %d Hz", info["name"], sr)
        return sr

    def close(self) -> None:
        if self._stream is not None:
            try:
                self._stream.stop()
                self._stream.close()
            except Exception as e:  # a device that vanished mid-run must not stop the app from closing
                log.debug("closing the microphone: %s", e)
            self._stream = None


register_backend("sounddevice", SoundDeviceBackend)


@dataclass(frozen=True)
class MicConfig:
    """Which microphone and how it is read."""

    device: str = ""  # index or (part of) a name; empty = the system default
    block_s: float = 0.02  # block length asked of the device
    queue_blocks: int = 100  # blocks held while the listener is busy (2 s at 20 ms); older ones are dropped


class MicStream:
    """Opens the first back end that works; blocks arrive in a bounded queue for the listener thread."""

    def __init__(self, config: MicConfig = MicConfig(), clock: Clock = time.perf_counter) -> None:
        self.config, self.clock = config, clock
        self._queue: queue.Queue[RawBlock] = queue.Queue(maxsize=config.queue_blocks)
        self._backend: MicBackend | None = None
        self.sr = 0
        self.overflows = 0  # blocks dropped because the listener fell behind
        self.backend_name = ""

    def open(self) -> None:
        reasons = []
        for name, factory in _BACKENDS.items():
            backend = factory()
            try:
                self.sr = backend.open(self.config.device, self.config.block_s, self._on_block)
            except MicUnavailableError as e:
                reasons.append(f"{name}: {e}")
                continue
            self._backend, self.backend_name = backend, name
            return
        raise MicUnavailableError("no microphone: " + ("; ".join(reasons) or "no audio back end registered"))

    def _on_block(self, indata: np.ndarray) -> None:
        """Runs on the audio thread: copy, timestamp, enqueue, return; never blocks."""
        block = RawBlock(np.array(indata, dtype=np.float32).reshape(len(indata), -1).mean(axis=1),
                         self.clock(), self.sr)
        try:
            self._queue.put_nowait(block)
        except queue.Full:
            self.overflows += 1

    def read(self, timeout: float | None = None) -> RawBlock | None:
        """The next block, or None after `timeout` seconds without one."""
        try:
            return self._queue.get(timeout=timeout) if timeout != 0 else self._queue.get_nowait()
        except queue.Empty:
            return None

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()
            self._backend = None
