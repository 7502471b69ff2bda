"""Synthetic speech corpora for training the verifier and for the benchmark: voices, sentences, augmentation."""

from __future__ import annotations

import ast
import logging
import re
import sysconfig
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from avatar.errors import SourceError
from avatar.voice.audio import RATE, read_wav, resample
from avatar.voice.synth import Speech, SynthError, WordTiming, say_espeak, say_flite

log = logging.getLogger(__name__)

TRIGGERS = ("happy", "sad", "surprised", "angry", "neutral", "reset")

# Voices are split so the benchmark hears voices the verifier never trained on.
ESPEAK_ACCENTS_TRAIN = ("en-us", "en", "en-gb-x-rp", "en-gb-scotland", "en-gb-x-gbcwmd")
ESPEAK_ACCENTS_EVAL = ("en-us", "en-029", "en-gb-x-gbclan")
ESPEAK_VARIANTS_TRAIN = ("m1", "m2", "m3", "m4", "m6", "m8", "f1", "f2", "f4", "klatt", "klatt3", "klatt4",
                         "klatt5", "klatt6", "Alex", "Alicia", "Andrea", "Andy", "Annie", "AnxiousAndy", "Denis",
                         "Diogo", "Gene", "Gene2", "Henrique", "Hugo", "Jacky", "Marco", "Mario", "Michael", "Mike",
                         "Nguyen", "RicishayMax", "RicishayMax2", "adam", "anika", "announcer", "antonio", "aunty",
                         "belinda", "benjamin", "boris", "caleb", "croak", "david", "ed", "edward", "edward2",
                         "grandma", "grandpa", "gustave", "iven", "iven2", "iven3", "iven4", "kaukovalta", "linda",
                         "marcelo", "max", "michel", "miguel", "norbert", "pablo", "paul", "pedro", "rob", "robert",
                         "sandro", "steph", "steph2", "travis", "victor", "zac")
ESPEAK_VARIANTS_EVAL = ("m5", "m7", "f3", "f5", "klatt2", "john", "quincy", "shelby", "steph3", "Lee", "Storm")
FLITE_VOICES_TRAIN = ("kal16", "awb", "rms")
FLITE_VOICES_EVAL = ("slt", "kal")

# Carrier sentences put a trigger inside ordinary words ({} is the trigger).
CARRIERS_TRAIN = ("{}", "I feel {} today", "that makes me {}", "now I am {}", "{} please", "you look {} again",
                  "she said {} and left", "okay {}", "we are all {} about it", "make it {} now", "{} {}",
                  "oh {}", "be {} for a while", "really {} this morning", "so {}")
CARRIERS_EVAL = ("I feel {} today", "{}", "well I am {} about that", "this is {} news", "can you look {}",
                 "honestly {}", "they were {} yesterday", "go {} for me")

# Words that sound like a trigger but are not one: the verifier has to learn to say no to these.
NEAR_MISSES = ("happen", "happening", "hippie", "sappy", "snappy", "nappy", "habit", "hapless", "happened",
               "said", "sat", "sand", "sag", "bad", "mad", "sadder than", "set", "sack",
               "surprise", "surmised", "apprised", "supplied", "sunrise", "surprising", "prized",
               "hungry", "anchor", "angle", "ankle", "angel", "agree", "entry", "country",
               "neutron", "natural", "central", "mutual", "new trial", "nutrition", "neuter",
               "recent", "receipt", "resent", "regret", "research", "recess", "presets", "rest",
               "hippy", "puppy", "carry", "happen to", "sadly", "saddle")


def train_sentences(rng: np.random.Generator, n: int) -> list[str]:
    """Ordinary sentences from a small grammar (no trigger words), plus near misses inside sentences."""
    subjects = ("I", "you", "we", "they", "my brother", "the team", "our neighbour", "this camera", "the meeting",
                "everyone here", "my sister", "the manager", "that dog", "the old computer", "nobody")
    verbs = ("will finish", "found", "moved", "wanted", "called", "bought", "cleaned", "opened", "forgot",
             "painted", "started", "watched", "played", "carried", "needs", "remembered", "sent", "fixed")
    objects = ("the report", "a new bicycle", "the kitchen window", "some fresh bread", "the last train",
               "a long letter", "the garden gate", "three small boxes", "the blue car", "my phone", "the project",
               "a cup of coffee", "the video call", "their tickets", "the presentation", "a quiet room")
    tails = ("before lunch", "on Monday", "after the rain", "in the evening", "quite slowly", "without a word",
             "next to the station", "for the second time", "as usual", "this week", "at the office", "")
    fillers = ("well", "you know", "so", "actually", "I think", "basically", "right", "anyway", "")
    out = []
    for _ in range(n):
        parts = [rng.choice(fillers), rng.choice(subjects), rng.choice(verbs), rng.choice(objects),
                 rng.choice(tails)]
        if rng.random() < 0.35:
            parts.insert(int(rng.integers(1, 5)), rng.choice(NEAR_MISSES))
        out.append(" ".join(p for p in parts if p))
    return out


_TRIGGER_LIKE = re.compile(r"\b(happ(y|ier|iest|ily|iness)|unhapp\w*|sad\w*|surpris\w*|angr\w*|neutral\w*|reset\w*)\b",
                           re.IGNORECASE)


@lru_cache(maxsize=1)
def _prose() -> tuple[str, ...]:
    """Sentences from the docstrings of Python's own library: a large, varied, human-written English text."""
    out = []
    for path in sorted(Path(sysconfig.get_paths()["stdlib"]).rglob("*.py")):
        if {"test", "tests", "idlelib", "site-packages", "dist-packages"} & set(path.parts):
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, OSError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef):
                out += _sentences(ast.get_docstring(node) or "")
    return tuple(out)


def _sentences(doc: str) -> list[str]:
    text = " ".join(doc.split())
    keep = []
    for s in re.split(r"(?<=[.!?])\s+", text):
        words = s.rstrip(".!?").split()
        if 5 <= len(words) <= 22 and re.fullmatch(r"[A-Za-z ,;:'-]+", s.rstrip(".!?")) and not _TRIGGER_LIKE.search(s):
            keep.append(s)
    return keep


def prose_sentences(rng: np.random.Generator, n: int) -> list[str]:
    """`n` sentences of ordinary written English with no trigger word in them."""
    prose = _prose()
    return [prose[int(i)] for i in rng.integers(0, len(prose), size=n)]


@dataclass(frozen=True)
class Voice:
    """A synthetic speaker: engine, voice name and how fast / how high it speaks."""

    engine: str  # espeak or flite
    name: str
    rate: float  # espeak words per minute; flite duration stretch (> 1 slower)
    pitch: float  # espeak 0..99; flite mean f0 in Hz (0 = the voice's own)

    def say(self, text: str, timed: bool = True) -> Speech:
        if self.engine == "espeak":
            return say_espeak(text, self.name, int(self.rate), int(self.pitch))
        return say_flite(text, self.name, self.rate, self.pitch or None, timed=timed)


def random_voice(rng: np.random.Generator, held_out: bool) -> Voice:
    """A voice from the training set of speakers, or from the held-out set."""
    if rng.random() < 0.6:
        accents = ESPEAK_ACCENTS_EVAL if held_out else ESPEAK_ACCENTS_TRAIN
        variants = ESPEAK_VARIANTS_EVAL if held_out else ESPEAK_VARIANTS_TRAIN
        name = f"{rng.choice(accents)}+{rng.choice(variants)}"
        return Voice("espeak", name, float(rng.integers(120, 220)), float(rng.integers(25, 75)))
    name = str(rng.choice(FLITE_VOICES_EVAL if held_out else FLITE_VOICES_TRAIN))
    f0 = 0.0 if rng.random() < 0.5 else float(rng.uniform(90, 220))
    return Voice("flite", name, float(rng.uniform(0.8, 1.3)), f0)


@dataclass(frozen=True)
class Utterance:
    """16 kHz speech with word timings; `label` is the trigger it contains ("" for none)."""

    pcm: np.ndarray  # (n,) float32
    words: tuple[WordTiming, ...]
    label: str
    text: str
    voice: str

    def span(self, word: str) -> WordTiming | None:
        return next((w for w in self.words if w.word == word), None)


def speak(text: str, voice: Voice, label: str = "", timed: bool = True) -> Utterance | None:
    """`text` spoken by `voice` at 16 kHz, or None when the synthesiser could not time its words."""
    try:
        s = voice.say(text, timed)
    except SynthError as e:
        log.debug("skipped %r (%s): %s", text, voice, e)
        return None
    return Utterance(resample(s.pcm, s.sr, RATE), s.words, label, text, f"{voice.engine}:{voice.name}")


def load_noises(folder: str | Path, names: Sequence[str] | None = None) -> list[np.ndarray]:
    """The noise recordings in `folder` (all, or those named) at 16 kHz; SourceError if any is missing."""
    found = {p.name: p for p in sorted(Path(folder).glob("*.wav"))}
    wanted = list(found) if names is None else list(names)
    missing = [n for n in wanted if n not in found]
    if missing or not wanted:
        raise SourceError(f"noise recordings {missing or '*.wav'} not found in {folder} (pass the fixtures folder, "
                          "e.g. --fixtures ../shared/fixtures)")
    out = []
    for name, path in found.items():  # in file-name order, whatever order `names` has (seeded draws index it)
        if name in wanted:
            x, sr = read_wav(path)
            out.append(resample(x, sr, RATE))
    return out


def mix_at_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """Speech plus a random stretch of `noise` scaled to `snr_db` (power over the voiced part)."""
    if len(noise) < len(speech):
        noise = np.tile(noise, len(speech) // len(noise) + 1)
    start = int(rng.integers(0, len(noise) - len(speech) + 1))
    n = noise[start : start + len(speech)].astype(np.float64)
    voiced = speech[np.abs(speech) > 0.02 * np.max(np.abs(speech) + 1e-9)]
    p_s = float(np.mean(voiced.astype(np.float64) ** 2)) if voiced.size else 1e-6
    p_n = float(np.mean(n**2)) + 1e-12
    return (speech + n * np.sqrt(p_s / p_n / 10 ** (snr_db / 10))).astype(np.float32)


def augment(pcm: np.ndarray, rng: np.random.Generator, noises: Sequence[np.ndarray]) -> np.ndarray:
    """A different microphone and room: random tilt, a short echo, noise at 5–30 dB SNR, gain."""
    x = pcm.astype(np.float64)
    if rng.random() < 0.7:  # spectral tilt: a first-order filter brightens or dulls the voice
        a = float(rng.uniform(-0.6, 0.9))
        x = np.concatenate([x[:1], x[1:] - a * x[:-1]])
    if rng.random() < 0.3:  # a room: a few decaying reflections
        ir = np.zeros(int(RATE * rng.uniform(0.05, 0.25)))
        ir[0] = 1.0
        taps = rng.integers(20, len(ir), size=8)
        ir[taps] += rng.uniform(-0.4, 0.4, size=8) * np.exp(-taps / (0.3 * len(ir)))
        x = np.convolve(x, ir)[: len(x)]
    x = x / (np.max(np.abs(x)) + 1e-9) * rng.uniform(0.05, 0.9)
    if noises and rng.random() < 0.8:
        x = mix_at_snr(x.astype(np.float32), noises[int(rng.integers(len(noises)))], float(rng.uniform(5, 30)), rng)
    return np.clip(x, -1.0, 1.0).astype(np.float32)
