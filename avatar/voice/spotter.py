"""The keyword spotter, a pure stage: 16 kHz chunks in, verified trigger detections out (two stages inside)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from avatar.errors import SourceError
from avatar.expression.rig import Expression
from avatar.voice.audio import RATE, AudioChunk
from avatar.voice.config import VoiceConfig
from avatar.voice.kws import Candidate, KwsConfig, KwsPhrase, KwsStage
from avatar.voice.profile import VoiceProfile
from avatar.voice.verifier import Verifier, load_verifier
from avatar.voice.vocabulary import Trigger, Vocabulary, parse_vocabulary

log = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 0.95  # verifier score needed where neither config, profile nor verifier says otherwise
_BUFFER_S = 2.0  # audio kept for the verifier's window
_OVERLAP_S = 0.05  # a candidate may start this much inside audio already reported (words run together)
_REFRACTORY_S = 0.25  # after a phrase, candidates starting this soon are its echo (the verifier still hears
#                       the word near the end of its window); a new trigger that soon would meet the cool-down
_SAME_WORD_S = 1.0  # the same phrase again this soon after it ended is the word still inside the verifier's 1 s
#                     window (or the user repeating it): one detection is enough, the expression is already set


@dataclass(frozen=True)
class Detection:
    """A trigger phrase heard (times in audio seconds; `t_emit − t_end` is the latency)."""

    phrase: str
    expression: Expression
    t_start: float
    t_end: float
    t_emit: float  # end of the audio that had been heard when the phrase was reported
    score: float  # verifier score 0..1 (1.0 when the phrase is not verified)

    def to_json(self) -> dict[str, object]:
        """The `emotebot listen` line (DESIGN): word, t_start, t_end, t_emit, score."""
        return {"word": self.phrase, "t_start": round(self.t_start, 3), "t_end": round(self.t_end, 3),
                "t_emit": round(self.t_emit, 3), "score": round(self.score, 4)}


@dataclass(frozen=True)
class PhraseSettings:
    """How one phrase is detected."""

    trigger: Trigger
    threshold: float  # verifier score needed (ignored when not verified)
    search: float  # pocketsphinx threshold exponent
    verified: bool  # whether the verifier checks this phrase


@dataclass(frozen=True)
class Scored:
    """A candidate and its verifier score (1.0 when unverified)."""

    candidate: Candidate
    score: float
    passed: bool


def default_search(phrase: str, verified: bool) -> float:
    """pocketsphinx's threshold exponent for a phrase: permissive when the verifier checks, strict alone.

    Path scores fall with length, so a longer phrase needs a lower threshold to be proposed at all.
    """
    letters = len(phrase.replace(" ", ""))
    if verified:
        return float(-min(80, 20 + 8 * letters))
    return float(-min(50, 5 + 4 * letters))


def phrase_settings(config: VoiceConfig, profile: VoiceProfile | None, verifier: Verifier | None,
                    vocabulary: Vocabulary | None = None) -> list[PhraseSettings]:
    """Thresholds per phrase: the config's own for that phrase, else the profile's, else the config's one
    threshold, else the verifier's for that word (chosen on validation speech), else DEFAULT_THRESHOLD."""
    vocab = vocabulary or parse_vocabulary(config)
    prof = profile or VoiceProfile()
    out = []
    for t in vocab.triggers:
        verified = config.verify and verifier is not None and verifier.knows(t.phrase)
        threshold = t.threshold if t.threshold is not None else prof.thresholds.get(t.phrase, config.threshold)
        if threshold is None:
            threshold = verifier.thresholds.get(t.phrase, DEFAULT_THRESHOLD) if verifier else DEFAULT_THRESHOLD
        search = t.search_threshold if t.search_threshold is not None else prof.search_thresholds.get(
            t.phrase, default_search(t.phrase, verified))
        out.append(PhraseSettings(t, threshold, search, verified))
    return out


class KeywordSpotter:
    """pocketsphinx proposes candidates; the verifier network confirms them; one detection per spoken phrase."""

    def __init__(self, settings: Sequence[PhraseSettings], verifier: Verifier | None,
                 pronunciations: dict[str, str] | None = None, kws: KwsConfig | None = None) -> None:
        self.settings = {s.trigger.phrase: s for s in settings}
        self.verifier = verifier
        phrases = [KwsPhrase(s.trigger.phrase, s.search) for s in settings]
        self._kws = KwsStage(phrases, kws or KwsConfig(), pronunciations)
        self.reset()

    @classmethod
    def from_config(cls, config: VoiceConfig, profile: VoiceProfile | None = None,
                    verifier: Verifier | None = None) -> KeywordSpotter:
        vocab = parse_vocabulary(config)
        checker = (verifier or load_verifier()) if config.verify else None
        if checker is not None:
            unknown = [t.phrase for t in vocab.triggers if not checker.knows(t.phrase)]
            if unknown:
                log.info("voice: %s checked by pocketsphinx alone (the verifier was trained on %s)",
                         ", ".join(unknown), ", ".join(c for c in checker.spec.classes if checker.knows(c)))
        spotter = cls(phrase_settings(config, profile, checker, vocab), checker, dict(vocab.pronunciations))
        log.info("voice: listening for %s", spotter.describe())
        return spotter

    def describe(self) -> str:
        """Each phrase with the verifier score it needs (or that pocketsphinx alone decides), for the log."""
        return ", ".join(f"{p} ({s.threshold:.2f})" if s.verified else f"{p} (pocketsphinx only)"
                         for p, s in self.settings.items())

    def reset(self, keep_voice: bool = False) -> None:
        """A new stream; `keep_voice` keeps what pocketsphinx learnt of the speaker's channel (its cepstral mean)."""
        self._kws.reset(keep_voice)
        self._buf = np.zeros(0, np.float32)
        self._t0: float | None = None  # audio clock time of the first sample
        self._samples = 0
        self._last: Detection | None = None  # the last report: later candidates it covers are ignored (_repeats)

    @property
    def recent_audio(self) -> np.ndarray:
        """The last seconds of 16 kHz audio, ending where the verifier's windows end (for training)."""
        return self._buf

    def score(self, chunk: AudioChunk) -> list[Scored]:
        """Feed a chunk; every new candidate with its score (the calibration and benchmark see all of them)."""
        if chunk.sr != RATE:
            raise SourceError(f"the keyword spotter takes {RATE} Hz audio, got {chunk.sr} Hz (resample first)")
        if self._t0 is None:
            self._t0 = chunk.t
        self._buf = np.concatenate([self._buf, chunk.pcm.astype(np.float32)])[-int(_BUFFER_S * RATE):]
        self._samples += len(chunk.pcm)
        out = []
        scores: dict[str, float] = {}  # every window ends at this chunk's end: the network runs once per chunk
        for c in self._kws.process(chunk.pcm):
            s = self.settings.get(c.phrase)
            if s is None:
                continue
            c = replace(c, t_start=c.t_start + self._t0, t_end=c.t_end + self._t0, t_detect=c.t_detect + self._t0)
            if s.verified and self.verifier is not None:
                scores = scores or self.verifier.scores(self._buf)
                out.append(Scored(c, scores[c.phrase], scores[c.phrase] >= s.threshold))
            else:
                out.append(Scored(c, 1.0, True))
        return out

    def process(self, chunk: AudioChunk) -> list[Detection]:
        """Feed a chunk; the phrases it completes (at most one per spoken phrase)."""
        return self.decide(self.score(chunk), chunk.t_end)

    def decide(self, scored: Sequence[Scored], t_end: float) -> list[Detection]:
        """The report, if any, from one chunk's scored candidates (`score`'s output; `t_end`: the chunk's end).

        Split from `score` so a benchmark can score audio once and replay the decision under other thresholds.
        """
        best: Scored | None = None
        for sc in scored:
            if sc.passed and not self._repeats(sc.candidate) and (best is None or sc.score > best.score):
                best = sc
        if best is None:
            return []
        c = best.candidate
        trigger = self.settings[c.phrase].trigger
        self._last = Detection(c.phrase, trigger.expression, c.t_start, c.t_end, t_end, best.score)
        return [self._last]

    def _repeats(self, c: Candidate) -> bool:
        """Whether `c` is words already reported: it starts inside the audio the last report was heard in (or its
        refractory tail), or it is the same phrase proposed again while still in the verifier's window."""
        last = self._last
        if last is None:
            return False
        heard_until = max(last.t_emit, last.t_end + _REFRACTORY_S)
        return c.t_start < heard_until - _OVERLAP_S or (c.phrase == last.phrase
                                                        and c.t_start < last.t_end + _SAME_WORD_S)
