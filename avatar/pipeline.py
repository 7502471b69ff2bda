"""The real-time loop: capture, processing and each sink run in their own threads, joined by one-item slots."""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from avatar.capture.base import Source
from avatar.errors import ConfigError, EmoteBotError
from avatar.expression.events import TriggerEvent, TriggerSource
from avatar.expression.rig import Expression, RigCode
from avatar.frames import Frame, Image
from avatar.output.hud import HudInfo
from avatar.processing import FrameProcessor
from avatar.queues import LatestSlot
from avatar.stats import RunStats

log = logging.getLogger(__name__)

Clock = Callable[[], float]


@dataclass(frozen=True)
class PipelineConfig:
    """Bounds and pacing of a run."""

    max_frames: int = 0  # stop after this many frames from the source (0 = no limit)
    duration_s: float = 0.0  # stop after this many seconds (0 = no limit)
    lossless: bool = False  # wait for slow stages instead of dropping frames (files and benchmarks)
    hud: bool = False  # draw fps, latency, expression and last trigger on the output

    def __post_init__(self) -> None:
        if self.max_frames < 0:
            raise ConfigError(f"pipeline.max_frames must be >= 0 (0 = no limit), got {self.max_frames}")
        if self.duration_s < 0:
            raise ConfigError(f"pipeline.duration_s must be >= 0 (0 = no limit), got {self.duration_s}")


@dataclass
class _Out:
    image: Image
    frame: Frame


class Pipeline:
    """Runs a source through the processor into the sinks until the source ends, a bound hits, or stop()."""

    def __init__(
        self,
        source: Source,
        processor: FrameProcessor,
        sinks: Sequence,  # avatar.output.sinks.Sink
        config: PipelineConfig = PipelineConfig(),
        clock: Clock = time.perf_counter,
    ) -> None:
        self.source, self.processor, self.sinks = source, processor, list(sinks)
        self.config, self.clock = config, clock
        self.stats = RunStats()
        self.events: queue.SimpleQueue[TriggerEvent] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._in: LatestSlot[Frame] = LatestSlot(config.lossless)
        self._outs: list[LatestSlot[_Out]] = [LatestSlot(config.lossless) for _ in self.sinks]
        self._failure: EmoteBotError | None = None
        self._error_kinds: set[str] = set()
        self._last_trigger: TriggerEvent | None = None
        # Called in the processing thread with each frame that reaches the outputs and the rig code it was drawn
        # from (tests, traces); and the microphone level for the HUD, set while a microphone listens.
        self.observers: list[Callable[[Frame, RigCode], None]] = []
        self.mic_level: Callable[[], float | None] | None = None

    # -- control, callable from any thread -------------------------------------------------------------
    def stop(self) -> None:
        self._stop.set()
        self._in.close()

    def action(self, name: str, source: TriggerSource = TriggerSource.HOTKEY) -> None:
        """"quit", "calibrate" or an expression name, from a hotkey, a typed line or a control page."""
        if name == "quit":
            self.stop()
        elif name == "calibrate":
            self.processor.request_calibration()
        else:
            self.events.put(TriggerEvent(Expression.parse(name), self.clock(), source, name))

    # -- threads ---------------------------------------------------------------------------------------
    def _fail(self, err: EmoteBotError) -> None:
        if self._failure is None:
            self._failure = err
        self.stop()

    def _bounded(self, frame: Frame, t_start: float) -> bool:
        c = self.config
        if c.max_frames and frame.index >= c.max_frames:
            return True
        return bool(c.duration_s) and frame.t_capture - t_start >= c.duration_s

    def _capture_loop(self) -> None:
        t_start = self.clock()
        try:
            while not self._stop.is_set():
                frame = self.source.read()  # sources time their own decoding, not their pacing or waiting
                if frame is None or self._bounded(frame, t_start):
                    break
                self.stats.frames_in += 1
                if not self._in.put(frame):
                    break
        except EmoteBotError as e:
            self._fail(e)
        except Exception as e:  # a device library failing in an unexpected way still ends the run cleanly
            log.exception("capture failed")
            self._fail(EmoteBotError(f"capture failed: {e}"))
        finally:
            self._in.close()

    def _drain_events(self, frame: Frame) -> list[TriggerEvent]:
        events = []
        while True:
            try:
                ev = self.events.get_nowait()
            except queue.Empty:
                break
            # Restamp onto the frame's media clock: the state machine runs on media time.
            events.append(dataclasses.replace(ev, t=frame.t_media))
        return events

    def _hud(self) -> HudInfo | None:
        if not self.config.hud:
            return None
        last = self.processor.state.last_trigger
        return HudInfo(
            fps=1000.0 / max(self.stats.recent_ms("frame_interval"), 1e-3),
            latency_ms=self.stats.recent_ms("end_to_end"),
            expression=self.processor.state.target.value,
            last_trigger=f"{last.word} ({last.source.value})" if last else None,
            mic_level=self.mic_level() if self.mic_level is not None else None,
        )

    def _process_one(self, frame: Frame) -> Image | None:
        try:
            return self.processor.process(frame, self._drain_events(frame), self._hud())
        except EmoteBotError:
            raise
        except Exception as e:  # one bad frame never ends the live loop: log once per kind, skip it
            self.stats.errors += 1
            kind = f"{type(e).__name__}: {e}"
            if kind not in self._error_kinds:
                self._error_kinds.add(kind)
                log.warning("frame %d skipped (%s); further errors of this kind are counted, not logged",
                            frame.index, kind, exc_info=log.isEnabledFor(logging.DEBUG))
            return None

    def _process_loop(self) -> None:
        try:
            while (frame := self._in.get()) is not None:
                image = self._process_one(frame)
                if image is None:
                    continue
                self.stats.faces_found += frame.face_found
                for observe in self.observers:
                    observe(frame, self.processor.last_code)
                for slot in self._outs:
                    slot.put(_Out(image, frame))
        except EmoteBotError as e:
            self._fail(e)
        finally:
            for slot in self._outs:
                slot.close()

    def _sink_loop(self, sink, slot: LatestSlot[_Out], primary: bool) -> None:
        t_prev: float | None = None
        try:
            while (out := slot.get()) is not None:
                t0 = self.clock()
                sink.send(out.image, out.frame.t_capture)
                t1 = self.clock()
                if primary:
                    self._record(out.frame, t0, t1, t_prev)
                    t_prev = t1
        except EmoteBotError as e:
            self._fail(e)
        except Exception as e:
            log.exception("sink %s failed", sink.name)
            self._fail(EmoteBotError(f"output {sink.name} failed: {e}"))
        finally:
            slot.close()

    def _record(self, frame: Frame, t0: float, t1: float, t_prev: float | None) -> None:
        for stage, seconds in frame.timings.items():
            self.stats.add(stage, seconds)
        self.stats.add("sink", t1 - t0)
        self.stats.add("end_to_end", t1 - frame.t_capture)
        # The same path without time spent waiting in slots: the latency of a source no faster than the chain.
        self.stats.add("work", sum(frame.timings.values()) + (t1 - t0))
        if t_prev is not None:
            self.stats.add("frame_interval", t1 - t_prev)
        self.stats.frames_out += 1

    # -- run ---------------------------------------------------------------------------------------------
    def run(self) -> RunStats:
        """Run to the end; Ctrl+C stops cleanly. Raises the first EmoteBotError a thread hit.

        A sink that needs the main thread (a GUI window) runs its loop here; every other stage gets a thread.
        """
        self.stats.t_start = self.clock()
        pairs = list(zip(self.sinks, self._outs, strict=True))
        on_main = next((i for i, (s, _) in enumerate(pairs) if getattr(s, "needs_main_thread", False)), None)
        threads = [threading.Thread(target=self._capture_loop, name="capture", daemon=True),
                   threading.Thread(target=self._process_loop, name="process", daemon=True)]
        threads += [
            threading.Thread(target=self._sink_loop, args=(s, q, i == 0), name=f"sink-{s.name}", daemon=True)
            for i, (s, q) in enumerate(pairs) if i != on_main
        ]
        for t in threads:
            t.start()
        try:
            if on_main is not None:
                self._sink_loop(*pairs[on_main], on_main == 0)
            for t in threads:
                while t.is_alive():
                    t.join(0.1)
        except KeyboardInterrupt:
            log.info("stopping (Ctrl+C)")
            self.stop()
            for slot in self._outs:
                slot.close()
            for t in threads:
                t.join(2.0)
        self.stats.t_end = self.clock()
        self.stats.frames_dropped = self._in.dropped + sum(s.dropped for s in self._outs)
        if self._failure is not None:
            raise self._failure
        return self.stats
