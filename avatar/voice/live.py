"""Live trigger inputs beside the pipeline: the microphone listener and typed lines on standard input."""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import TextIO

from avatar.expression.events import TriggerEvent, TriggerSource
from avatar.voice.config import VoiceConfig
from avatar.voice.listener import VoiceListener
from avatar.voice.mic import MicConfig, MicStream, MicUnavailableError
from avatar.voice.profile import load_profile
from avatar.voice.spotter import KeywordSpotter
from avatar.voice.vocabulary import Vocabulary, event_for, parse_vocabulary

log = logging.getLogger(__name__)

Emit = Callable[[TriggerEvent], None]


def start_listening(config: VoiceConfig, emit: Emit, stack: ExitStack, profile_path: str = "",
                    clock: Callable[[], float] = time.perf_counter) -> VoiceListener | None:
    """Open the microphone and spot trigger words into `emit`; None (one warning) when there is no microphone.

    Vocabulary and model mistakes are the user's to fix, so they stop the run; a missing microphone only
    turns voice triggers off, and the video goes on.
    """
    mic = MicStream(MicConfig(config.device, config.block_s), clock)
    try:
        mic.open()
    except MicUnavailableError as e:
        log.warning("voice triggers off: %s. Video goes on; type trigger words or use the hotkeys, or pass "
                    "--no-voice to skip the microphone.", e)
        return None
    stack.callback(mic.close)
    path = config.profile or profile_path
    spotter = KeywordSpotter.from_config(config, load_profile(path) if path else None)
    listener = VoiceListener(mic, spotter, emit, clock)
    listener.start()
    stack.callback(listener.stop)
    return listener


class TypedTriggers:
    """A line typed on standard input while running is a trigger word (or quit / calibrate)."""

    def __init__(self, vocabulary: Vocabulary, emit: Emit, action: Callable[[str], None],
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.vocabulary, self.emit, self.action, self.clock = vocabulary, emit, action, clock

    def handle(self, line: str) -> TriggerEvent | None:
        """What one line does; returns the event it sent, if any."""
        text = line.strip()
        if not text:
            return None
        if text.lower() in ("q", "quit", "exit"):
            self.action("quit")
            return None
        if text.lower() in ("c", "calibrate"):
            self.action("calibrate")
            return None
        event = event_for(text, self.clock(), TriggerSource.TYPED, self.vocabulary)
        if event is None:
            known = ", ".join(dict.fromkeys([*self.vocabulary.phrases, "neutral", "happy", "sad", "surprised",
                                             "angry"]))
            log.warning("%r is not a trigger; type one of: %s (or quit)", text, known)
            return None
        self.emit(event)
        return event

    def run(self, stream: TextIO) -> None:
        for line in stream:
            self.handle(line)

    def start(self, stream: TextIO | None = None) -> threading.Thread:
        thread = threading.Thread(target=self.run, args=(stream or sys.stdin,), name="typed", daemon=True)
        thread.start()
        return thread


def typed_triggers_wanted(config: VoiceConfig, stream: TextIO | None = None) -> bool:
    mode = config.stdin
    if mode == "auto":
        s = stream or sys.stdin
        return bool(s is not None and s.isatty())
    return mode == "on"


def start_typed(config: VoiceConfig, emit: Emit, action: Callable[[str], None]) -> TypedTriggers:
    typed = TypedTriggers(parse_vocabulary(config), emit, action)
    typed.start()
    log.info("type a trigger word and Enter to switch expression (%s)", ", ".join(typed.vocabulary.phrases))
    return typed
