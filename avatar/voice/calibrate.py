"""`emotebot calibrate --voice`: record each trigger and some ordinary speech, tune thresholds to that voice."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from avatar.errors import ConfigError
from avatar.voice.audio import RATE, AudioChunk, read_wav, resample
from avatar.voice.config import VoiceConfig
from avatar.voice.listener import FrontEnd
from avatar.voice.mic import MicStream
from avatar.voice.profile import VoiceProfile
from avatar.voice.spotter import KeywordSpotter, PhraseSettings, phrase_settings
from avatar.voice.verifier import Verifier, load_verifier
from avatar.voice.vocabulary import normalise_phrase, parse_vocabulary

log = logging.getLogger(__name__)

ORDINARY = ("Yesterday I walked to the station, bought a coffee and read the news while the train was late. "
            "Then we talked about the weekend, the weather and what to cook for dinner.")
# Margins in log-odds: verifier scores crowd near 0 and 1, where a fixed step in probability means nothing
_MARGIN_BELOW_WEAKEST = 1.0  # a threshold this far below the user's weakest take (0.9 → 0.77, 0.999 → 0.997)
_MARGIN_ABOVE_FALSE = 1.0  # and at least this far above the best score ordinary speech reached (0.3 → 0.54)
_HIGHEST, _LOWEST = 0.99, 0.05  # thresholds stay within 0.05..0.99 (and above the verifier's floor for a word)
_SEARCH_STEP = 10.0  # how far a phrase's search threshold is lowered when a take was not even proposed


@dataclass(frozen=True)
class Take:
    """One recording: a trigger phrase said once, or ordinary speech (phrase "")."""

    phrase: str
    pcm: np.ndarray  # 16 kHz float32


def _scores(spotter: KeywordSpotter, pcm: np.ndarray) -> dict[str, list[float]]:
    """Every candidate's score per phrase over one take (padded with silence on both sides), heard as the live
    spotter would hear it: already used to this voice and microphone (see _get_used_to)."""
    spotter.reset(keep_voice=True)
    pad = np.zeros(RATE // 2, np.float32)
    x = np.concatenate([pad, pcm, pad])
    out: dict[str, list[float]] = {}
    for i in range(0, len(x), RATE // 50):
        for sc in spotter.score(AudioChunk(x[i : i + RATE // 50], i / RATE)):
            out.setdefault(sc.candidate.phrase, []).append(sc.score)
    return out


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1.0 - 1e-6)
    return float(np.log(p / (1.0 - p)))


def _prob(z: float) -> float:
    return float(1.0 / (1.0 + np.exp(-z)))


def choose_threshold(positive: Sequence[float], negative: Sequence[float], default: float,
                     floor: float = _LOWEST) -> tuple[float, str]:
    """A threshold below every take of the trigger and above ordinary speech; and a note when they overlap.

    The default stands unless the user's own takes need a lower one: enrolment lowers a threshold for a voice
    the verifier finds hard, and never raises false alarms for a voice it already scores confidently. It never
    goes under `floor`, the verifier's lowest score for that word that kept ordinary speech quiet on validation:
    a user's half minute of ordinary speech cannot show a rate of one false alarm in ten minutes, and voices the
    verifier finds hard scored far more false alarms below it (benchmarks/results/voice_calibration.md).
    """
    above_false = _prob(_logit(max(negative)) + _MARGIN_ABOVE_FALSE) if negative else 0.0
    below_weakest = _prob(_logit(min(positive)) - _MARGIN_BELOW_WEAKEST) if positive else default
    note = ""
    if below_weakest < above_false:
        note = "your takes and ordinary speech overlap; a longer phrase would be more reliable"
        chosen = above_false
    else:
        chosen = max(above_false, min(default, below_weakest))
    lowest = min(default, max(floor, _LOWEST))
    if chosen < lowest:
        chosen = lowest
        if positive and min(positive) < lowest:
            note = note or (f"your weakest take scored {min(positive):.2f}; it stays at {lowest:.2f}, below which "
                            "ordinary speech sets it off: say it as you would in a sentence, or use a longer phrase")
    return float(min(_HIGHEST, chosen)), note


def _get_used_to(spotter: KeywordSpotter, takes: Sequence[Take]) -> None:
    """Hear all the takes once: live, pocketsphinx has long adapted to the user's voice and microphone (its
    cepstral mean) before a trigger comes, while a short take heard fresh would score lower than it will live."""
    spotter.reset()
    pcm = np.concatenate([t.pcm for t in sorted(takes, key=lambda t: bool(t.phrase))])
    for i in range(0, len(pcm), RATE // 50):
        spotter.score(AudioChunk(pcm[i : i + RATE // 50], i / RATE))


def tune(takes: Sequence[Take], config: VoiceConfig, verifier: Verifier | None = None) -> VoiceProfile:
    """Per-phrase thresholds from a user's takes; phrases a take did not even propose search more widely."""
    if config.verify and verifier is None:
        verifier = load_verifier()
    vocab = parse_vocabulary(config)
    settings = {s.trigger.phrase: s for s in phrase_settings(config, None, verifier, vocab)}
    ordinary = [t.pcm for t in takes if not t.phrase]
    for _ in range(4):  # widen the search for phrases that some take never reached
        spotter = KeywordSpotter(list(settings.values()), verifier, dict(vocab.pronunciations))
        _get_used_to(spotter, takes)
        missed = {t.phrase for t in takes if t.phrase and t.phrase not in _scores(spotter, t.pcm)}
        if not missed:
            break
        for phrase in missed:
            s = settings[phrase]
            settings[phrase] = replace(s, search=max(-90.0, s.search - _SEARCH_STEP))
    return _profile(takes, settings, spotter, ordinary, config)


def _profile(takes: Sequence[Take], settings: dict[str, PhraseSettings], spotter: KeywordSpotter,
             ordinary: list[np.ndarray], config: VoiceConfig) -> VoiceProfile:
    heard = [(t.phrase, _scores(spotter, t.pcm)) for t in takes]
    negative: dict[str, list[float]] = {}
    for phrase, scores in heard:
        for other, values in scores.items():
            if not phrase:
                negative.setdefault(other, []).extend(values)
    thresholds, notes = {}, {}
    for phrase, s in settings.items():
        mine = [max(scores.get(phrase, [0.0])) for said, scores in heard if said == phrase]
        if not mine:
            continue
        if s.verified:
            floor = spotter.verifier.floors.get(phrase, _LOWEST) if spotter.verifier else _LOWEST
            thresholds[phrase], warning = choose_threshold(mine, negative.get(phrase, []), s.threshold, floor)
        else:
            warning = "" if min(mine) > 0 else "not detected in every take"
        notes[phrase] = {"takes": [round(x, 3) for x in mine],
                         "ordinary_max": round(max(negative.get(phrase, [0.0])), 3), "warning": warning}
    searches = {p: s.search for p, s in settings.items()}
    seconds = round(sum(len(x) for x in ordinary) / RATE, 1)
    return VoiceProfile(thresholds, searches, {"phrases": notes, "ordinary_seconds": seconds,
                                               "created": time.strftime("%Y-%m-%d %H:%M:%S")})


def takes_from_folder(folder: Path, phrases: Sequence[str]) -> list[Take]:
    """WAV takes named after their phrase (happy_1.wav, "so happy 2.wav") or ordinary*.wav."""
    takes = []
    for p in sorted(Path(folder).glob("*.wav")):
        stem = normalise_phrase(p.stem.replace("_", " ").rstrip("0123456789 "))
        pcm, sr = read_wav(p)
        if stem.startswith("ordinary"):
            takes.append(Take("", resample(pcm, sr, RATE)))
        elif stem in phrases:
            takes.append(Take(stem, resample(pcm, sr, RATE)))
    if not any(t.phrase for t in takes):
        raise ConfigError(f"no takes in {folder}: name them after a phrase ({', '.join(phrases)}), e.g. "
                          "happy_1.wav, and ordinary speech ordinary.wav")
    return takes


def record(mic: MicStream, seconds: float) -> np.ndarray:
    """`seconds` of 16 kHz audio from an open microphone."""
    front: FrontEnd | None = None
    parts: list[np.ndarray] = []
    got = 0.0
    while got < seconds:
        block = mic.read(timeout=1.0)
        if block is None:
            raise ConfigError("the microphone delivered no sound for a second; check it is not muted")
        front = front if front is not None and front.sr_in == block.sr else FrontEnd(block.sr)
        parts.append(front.process(block).pcm)
        got += len(block.pcm) / block.sr
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def record_takes(mic: MicStream, phrases: Sequence[str], repeats: int, prompt: Callable[[str], None],
                 take_s: float = 2.0, ordinary_s: float = 10.0) -> list[Take]:
    """Ask for each phrase `repeats` times, then for ordinary speech, recording each answer."""
    takes = []
    for phrase in phrases:
        for i in range(repeats):
            prompt(f"say \"{phrase}\" once, now ({i + 1}/{repeats})")
            takes.append(Take(phrase, record(mic, take_s)))
    prompt(f"now read this aloud at your normal pace:\n    {ORDINARY}")
    takes.append(Take("", record(mic, ordinary_s)))
    return takes
