"""Stage 1 of keyword spotting: pocketsphinx's keyphrase search proposes candidates on a 16 kHz stream."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from avatar.errors import ConfigError, ModelError
from avatar.voice.audio import RATE
from avatar.voice.pronounce import pronounce

log = logging.getLogger(__name__)

FRAME_S = 0.01  # pocketsphinx computes one feature frame per 10 ms
_ALIAS = "__"  # marks a dictionary word added for another pronunciation of a phrase ("surprised__2")


@dataclass(frozen=True)
class KwsPhrase:
    """A phrase to listen for and its search threshold."""

    phrase: str  # lower-case words separated by single spaces
    threshold: float  # log10 of pocketsphinx's keyphrase threshold (-30 means 1e-30); lower catches more


@dataclass(frozen=True)
class Candidate:
    """A stretch of audio pocketsphinx thinks may be `phrase` (seconds on the stream's audio clock)."""

    phrase: str
    t_start: float
    t_end: float
    t_detect: float  # how much audio had been heard when it was proposed
    confidence: float = 0.0  # pocketsphinx's score of the phrase against its phone loop (log units / 1000)


@dataclass(frozen=True)
class KwsConfig:
    """How the pocketsphinx search runs."""

    delay_frames: int = 4  # frames pocketsphinx waits for a better-scoring end (its default 10 adds 60 ms)
    restart_after_s: float = 20.0  # restart the search after this much audio, in a pause, to bound its state
    max_utterance_s: float = 60.0  # ... and unconditionally after this much

    def __post_init__(self) -> None:
        if not 0 <= self.delay_frames <= 50:
            raise ConfigError(f"voice kws delay_frames must be within 0..50, got {self.delay_frames}")
        if not 1.0 <= self.restart_after_s <= self.max_utterance_s:
            raise ConfigError("voice kws restart_after_s must be within 1..max_utterance_s")


def _variants(decoder, phrase: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """The phrase as spoken with the dictionary's other pronunciations (one-word phrases), as alias words."""
    if " " in phrase:
        return []
    out = []
    for i in range(2, 6):
        phones = decoder.lookup_word(f"{phrase}({i})")
        if not phones:
            break
        alias = f"{phrase}{_ALIAS}{i}"
        out.append((alias, [(alias, phones)]))
    return out


def make_decoder(phrases: Sequence[KwsPhrase], config: KwsConfig, user: Mapping[str, str]):
    """A pocketsphinx decoder searching for `phrases`, each with its own threshold, and every pronunciation."""
    import pocketsphinx as ps  # a computation library, not a device; imported late to keep startup light

    try:
        decoder = ps.Decoder(loglevel="FATAL", cmn="live", kws_delay=config.delay_frames)
    except (RuntimeError, OSError) as e:
        raise ModelError(f"pocketsphinx could not load its English model: {e}; reinstall pocketsphinx") from e
    lines = []
    for p in phrases:
        for word in p.phrase.split():
            phones, add = pronounce(word, user, decoder.lookup_word)
            if add:
                decoder.add_word(word, phones, True)
        lines.append(f"{p.phrase} /1e{p.threshold:+.0f}/")
        for alias, words in _variants(decoder, p.phrase):
            for word, phones in words:
                decoder.add_word(word, phones, True)
            lines.append(f"{alias} /1e{p.threshold:+.0f}/")
    fd, path = tempfile.mkstemp(suffix=".kws", text=True)
    try:
        with os.fdopen(fd, "w") as f:
            f.write("\n".join(lines) + "\n")
        decoder.add_kws("triggers", path)
    except RuntimeError as e:
        raise ConfigError(f"pocketsphinx refused the vocabulary {[p.phrase for p in phrases]}: {e}") from e
    finally:
        os.unlink(path)
    decoder.activate_search("triggers")
    return decoder


def phrase_of(word: str) -> str:
    """The vocabulary phrase a search result stands for (alias pronunciations map back to their word)."""
    return " ".join(w.split(_ALIAS, 1)[0] for w in word.split())


class KwsStage:
    """Feeds 16 kHz float chunks to pocketsphinx and returns each new candidate once."""

    def __init__(self, phrases: Sequence[KwsPhrase], config: KwsConfig = KwsConfig(),
                 pronunciations: Mapping[str, str] | None = None) -> None:
        if not phrases:
            raise ConfigError("the voice vocabulary is empty: add at least one trigger word")
        self.config = config
        self._decoder = make_decoder(phrases, config, pronunciations or {})
        self._logmath = self._decoder.get_logmath()
        self._cmn0 = self._decoder.get_cmn()  # the starting cepstral mean: live CMN then adapts to the speaker
        self.reset()

    def reset(self, keep_voice: bool = False) -> None:
        """A new stream. It forgets the cepstral mean learnt so far (a stream never depends on the last one)
        unless `keep_voice`: the same speaker and microphone go on, as in a calibration's takes."""
        if getattr(self, "_in_utt", False):
            self._decoder.end_utt()
            self._in_utt = False
        if not keep_voice:
            # set_cmn alone is not a fresh start: front-end state it does not restore (not the noise estimate:
            # the same with noise removal off) carried the last stream into the next (a recorded "happy" scored
            # 0.94 after other speakers' clips, 0.99 in a fresh decoder); reinit_feat rebuilds the front end
            self._decoder.reinit_feat()
            self._decoder.set_cmn(self._cmn0)
        self._samples = 0  # samples fed since the stream began
        self._utt_frame0 = 0  # stream frame where the current utterance began
        self._seen: set[tuple[str, int, int]] = set()
        self._quiet_frames = 0
        self._floor = 1e9  # running noise floor (int16 RMS)
        self._decoder.start_utt()
        self._in_utt = True

    def _restart(self) -> None:
        self._decoder.end_utt()
        self._utt_frame0 = self._samples // int(RATE * FRAME_S)
        self._seen.clear()
        self._decoder.start_utt()

    def process(self, pcm: np.ndarray) -> list[Candidate]:
        """Candidates proposed by this chunk (16 kHz mono float32 in -1..1)."""
        if not len(pcm):
            return []
        data = np.clip(np.asarray(pcm, np.float32) * 32767.0, -32768, 32767).astype(np.int16)
        self._decoder.process_raw(data.tobytes())
        self._samples += len(data)
        out = self._collect()
        self._maybe_restart(data)
        return out

    def _collect(self) -> list[Candidate]:
        if self._decoder.hyp() is None:
            return []
        out = []
        t_detect = self._samples / RATE
        for seg in self._decoder.seg():
            key = (seg.word.strip(), seg.start_frame, seg.end_frame)
            if key in self._seen:
                continue
            self._seen.add(key)
            f0 = self._utt_frame0
            t0, t1 = (f0 + seg.start_frame) * FRAME_S, (f0 + seg.end_frame + 1) * FRAME_S
            conf = self._logmath.log(seg.prob) / 1000.0 if seg.prob > 0 else -100.0
            out.append(Candidate(phrase_of(key[0]), t0, t1, t_detect, conf))
        return out

    def _maybe_restart(self, data: np.ndarray) -> None:
        # A pause is quiet relative to the room: the floor follows the quietest blocks and creeps up slowly.
        rms = float(np.sqrt(np.mean(data.astype(np.float64) ** 2))) + 1.0
        self._floor = min(rms, self._floor * (1.0 + 0.5 * len(data) / RATE))
        quiet = rms < 2.0 * self._floor
        self._quiet_frames = self._quiet_frames + len(data) if quiet else 0
        utt_s = self._samples / RATE - self._utt_frame0 * FRAME_S
        paused = self._quiet_frames >= 0.3 * RATE
        if (utt_s >= self.config.restart_after_s and paused) or utt_s >= self.config.max_utterance_s:
            self._restart()
