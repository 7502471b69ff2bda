"""`emotebot listen`: spot trigger phrases in a WAV file or from the microphone, one JSON line per detection."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from avatar.voice.audio import chunks, read_wav
from avatar.voice.config import VoiceConfig
from avatar.voice.listener import FrontEnd, VoiceListener
from avatar.voice.mic import MicConfig, MicStream, RawBlock
from avatar.voice.profile import VoiceProfile, load_profile
from avatar.voice.spotter import Detection, KeywordSpotter

log = logging.getLogger(__name__)


def make_spotter(config: VoiceConfig) -> KeywordSpotter:
    profile = load_profile(config.profile) if config.profile else None
    return KeywordSpotter.from_config(config, profile)


def spot_file(path: str | Path, spotter: KeywordSpotter, block_s: float = 0.02,
              clock: Callable[[], float] = time.perf_counter) -> Iterator[Detection]:
    """Detections in a WAV file, fed in microphone-sized blocks at the file's own rate.

    Times are seconds into the file. `t_emit` is the end of the block that completed the phrase plus the time
    the spotter took on that block: what a live microphone would see on this machine.
    """
    pcm, sr = read_wav(path)
    front = FrontEnd(sr)
    spotter.reset()
    for c in chunks(pcm, sr, block_s):
        block = RawBlock(c.pcm, c.t_end, sr)
        t0 = clock()
        found = spotter.process(front.process(block))
        spent = clock() - t0
        for d in found:
            yield replace(d, t_emit=d.t_emit + spent)


def write_lines(detections: Iterator[Detection], out: TextIO, t0: float = 0.0) -> int:
    n = 0
    for d in detections:
        shifted = replace(d, t_start=d.t_start - t0, t_end=d.t_end - t0, t_emit=d.t_emit - t0)
        out.write(json.dumps(shifted.to_json()) + "\n")
        out.flush()
        n += 1
    return n


def listen_mic(config: VoiceConfig, out: TextIO, duration_s: float = 0.0,
               profile: VoiceProfile | None = None) -> int:
    """Listen until Ctrl+C (or `duration_s`), writing each detection as it happens; times from the start."""
    spotter = KeywordSpotter.from_config(config, profile or (load_profile(config.profile) if config.profile
                                                             else None))
    mic = MicStream(MicConfig(config.device, config.block_s))
    mic.open()
    lines: list[Detection] = []
    listener = VoiceListener(mic, spotter, lambda ev: None, clock=time.perf_counter)
    t_start = time.perf_counter()
    log.info("listening for %s (Ctrl+C to stop)", ", ".join(spotter.settings))
    try:
        while not duration_s or time.perf_counter() - t_start < duration_s:
            listener.run_once(timeout=0.1)
            fresh = listener.detections[len(lines):]
            t0 = listener.front.t0 if listener.front is not None and listener.front.t0 is not None else t_start
            write_lines(iter(fresh), out, t0)
            lines.extend(fresh)
    except KeyboardInterrupt:
        pass
    finally:
        mic.close()
    return len(lines)
