"""Microphone → front end → keyword spotter → trigger events, in a thread beside the video pipeline."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace

from avatar.expression.events import TriggerEvent, TriggerSource
from avatar.voice.audio import RATE, AudioChunk, LevelMeter, Resampler
from avatar.voice.mic import MicStream, RawBlock
from avatar.voice.spotter import Detection, KeywordSpotter

log = logging.getLogger(__name__)

Emit = Callable[[TriggerEvent], None]


class FrontEnd:
    """Device blocks (any rate, stamped on arrival) → contiguous 16 kHz chunks on the audio clock, and a level.

    The audio clock starts at the first block's start time and then counts samples, so the spotter's times
    do not jitter with the callback's scheduling.
    """

    def __init__(self, sr_in: int) -> None:
        self.sr_in = sr_in
        self._resampler = Resampler(sr_in, RATE)
        self.meter = LevelMeter()
        self.reset()

    def reset(self) -> None:
        self._resampler.reset()
        self.meter.reset()
        self.t0: float | None = None  # audio clock time of the first sample
        self._out = 0  # 16 kHz samples produced so far

    def process(self, block: RawBlock) -> AudioChunk:
        if self.t0 is None:
            self.t0 = block.t_start
        pcm = self._resampler.process(block.pcm)
        chunk = AudioChunk(pcm, self.t0 + self._out / RATE, RATE)
        self._out += len(pcm)
        self.meter.process(chunk)
        return chunk


def event_of(d: Detection, hold_s: float | None) -> TriggerEvent:
    """The trigger event a detection becomes, stamped when it was emitted."""
    return TriggerEvent(d.expression, d.t_emit, TriggerSource.VOICE, d.phrase, hold_s)


class VoiceListener:
    """Reads the microphone's queue, spots phrases and hands trigger events to `emit` (e.g. pipeline.events.put).

    `run_once` is the whole per-block step, so a test can drive it block by block in simulated time; `start`
    runs it in a thread. With a `clock` (live), `t_emit` is when the detection was actually handed over;
    without one it is the audio time at which the phrase was complete (simulated time).
    """

    def __init__(self, mic: MicStream, spotter: KeywordSpotter, emit: Emit,
                 clock: Callable[[], float] | None = None) -> None:
        self.mic, self.spotter, self.emit, self.clock = mic, spotter, emit, clock
        self.front: FrontEnd | None = None
        self.detections: list[Detection] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def level(self) -> float:
        """Microphone level 0..1 for the HUD and the control page."""
        return self.front.meter.level if self.front is not None else 0.0

    def handle(self, block: RawBlock) -> list[Detection]:
        if self.front is None or self.front.sr_in != block.sr:
            self.front = FrontEnd(block.sr)
        found = self.spotter.process(self.front.process(block))
        if self.clock is not None:
            found = [replace(d, t_emit=self.clock()) for d in found]
        for d in found:
            log.info("heard %r (score %.2f) → %s", d.phrase, d.score, d.expression.value)
            self.detections.append(d)
            self.emit(event_of(d, self.spotter.settings[d.phrase].trigger.hold_s))
        return found

    def run_once(self, timeout: float | None = 0.0) -> int:
        """Process every block waiting in the microphone's queue (waiting up to `timeout` for the first)."""
        n = 0
        block = self.mic.read(timeout)
        while block is not None:
            self.handle(block)
            n += 1
            block = self.mic.read(0)
        return n

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once(timeout=0.1)
            except Exception:  # the video goes on without voice rather than stop the show
                log.exception("voice triggers stopped after an error; video goes on")
                return

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="voice", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
        self.mic.close()
