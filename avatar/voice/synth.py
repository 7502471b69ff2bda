"""Synthesised test speech with word timings (espeak-ng in process, flite on the command line): tests,
benchmarks and verifier training use it; nothing live does."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import pickle
import re
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from avatar.errors import EmoteBotError
from avatar.voice.audio import read_wav


class SynthError(EmoteBotError):
    """A speech synthesiser is missing or could not say the text."""


@dataclass(frozen=True)
class WordTiming:
    """One spoken word and where it is in the audio (seconds)."""

    word: str
    t_start: float
    t_end: float


@dataclass(frozen=True)
class Speech:
    """Mono float32 samples in -1..1 at `sr`, with the time span of each word."""

    pcm: np.ndarray  # (n,) float32
    sr: int
    words: tuple[WordTiming, ...]

    @property
    def duration(self) -> float:
        return len(self.pcm) / self.sr

    def find(self, word: str) -> WordTiming:
        """The first occurrence of `word` (case-insensitive)."""
        for w in self.words:
            if w.word == word.lower():
                return w
        raise SynthError(f"{word!r} is not among the spoken words {[w.word for w in self.words]}")


def _normalise(word: str) -> str:
    return re.sub(r"[^a-z']", "", word.lower())


def _trim_end(pcm: np.ndarray, sr: int, t0: float, t1: float) -> float:
    """The end of voiced sound inside [t0, t1]: synthesisers report word starts, and a pause may follow."""
    hop = sr // 100
    a, b = int(t0 * sr), min(len(pcm), int(t1 * sr))
    if b - a < 2 * hop:
        return t1
    frames = pcm[a : b - (b - a) % hop].reshape(-1, hop)
    energy = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))
    loud = np.flatnonzero(energy > 0.02 * float(np.max(np.abs(pcm)) + 1e-9))
    return t1 if loud.size == 0 else t0 + (loud[-1] + 1) * hop / sr


# -- espeak-ng, through its library: word events carry the audio position of each word ----------------------
class _EspeakEvent(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint), ("text_position", ctypes.c_int),
                ("length", ctypes.c_int), ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", ctypes.c_char * 8)]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                             ctypes.POINTER(_EspeakEvent))
_EVENT_WORD, _EVENT_END = 1, 5
_PARAM_RATE, _PARAM_PITCH, _PARAM_RANGE = 1, 3, 4
_AUDIO_OUTPUT_SYNCHRONOUS = 2


class _Espeak:
    """The espeak-ng library, initialised once; calls are serialised (the library keeps global state)."""

    def __init__(self) -> None:
        name = ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1"
        try:
            self.lib = ctypes.CDLL(name)
        except OSError as e:
            raise SynthError(f"espeak-ng library not found ({e}); on Debian/Ubuntu: sudo apt install espeak-ng") from e
        self.sr = self.lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, None, 0)
        if self.sr <= 0:
            raise SynthError("espeak-ng could not start (espeak_Initialize failed)")
        self.lock = threading.RLock()  # re-entered by the forked child
        self._chunks: list[np.ndarray] = []
        self._events: list[tuple[int, int, int, int]] = []
        self._cb = _CALLBACK(self._on_audio)  # kept referenced: the library calls it later
        self.lib.espeak_SetSynthCallback(self._cb)

    def _on_audio(self, wav, n, events) -> int:
        if wav and n > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        i = 0
        while events[i].type != 0:
            e = events[i]
            self._events.append((e.type, e.text_position, e.length, e.audio_position))
            i += 1
        return 0

    def say(self, text: str, voice: str, rate: int, pitch: int, pitch_range: int) -> tuple[np.ndarray, list]:
        """Synthesised in a forked child where fork exists: the library carries state from one utterance into the
        next (glottal flutter, noise, filter memory), so in process the same sentence comes out differently each
        time; a child starts from the state right after initialisation, and tests hear the same audio every run."""
        if not hasattr(os, "fork"):
            return self._say_here(text, voice, rate, pitch, pitch_range)
        with self.lock:
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:  # the child: synthesise, hand back the result or the error, leave without cleanup
                os.close(r)
                try:
                    result: object = self._say_here(text, voice, rate, pitch, pitch_range)
                except BaseException as e:  # the parent raises it
                    result = SynthError(str(e))
                with os.fdopen(w, "wb") as f:
                    f.write(pickle.dumps(result))
                os._exit(0)
            os.close(w)
            with os.fdopen(r, "rb") as f:
                data = f.read()
            os.waitpid(pid, 0)
        if not data:
            raise SynthError(f"espeak-ng stopped while speaking {text!r}")
        answer = pickle.loads(data)
        if isinstance(answer, Exception):
            raise answer
        pcm, events = answer
        return pcm, events

    def _say_here(self, text: str, voice: str, rate: int, pitch: int, pitch_range: int) -> tuple[np.ndarray, list]:
        with self.lock:
            if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise SynthError(f"espeak-ng has no voice {voice!r} (see `espeak-ng --voices=en`)")
            for param, value in ((_PARAM_RATE, rate), (_PARAM_PITCH, pitch), (_PARAM_RANGE, pitch_range)):
                self.lib.espeak_SetParameter(param, int(value), 0)
            self._chunks, self._events = [], []
            data = text.encode("utf-8")
            if self.lib.espeak_Synth(data, len(data) + 1, 0, 1, 0, 0, None, None) != 0:
                raise SynthError(f"espeak-ng failed on {text!r}")
            pcm = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
            return pcm, list(self._events)


@lru_cache(maxsize=1)
def _espeak() -> _Espeak:
    return _Espeak()


def say_espeak(text: str, voice: str = "en-us", rate: int = 170, pitch: int = 50, pitch_range: int = 50) -> Speech:
    """`text` spoken by espeak-ng (`voice` like "en-us+f3", `rate` in words per minute, pitch 0..99)."""
    engine = _espeak()
    raw, events = engine.say(text, voice, rate, pitch, pitch_range)
    sr = engine.sr
    pcm = raw.astype(np.float32) / 32768.0
    data = text.encode("utf-8")
    starts = [(data[pos - 1 : pos - 1 + n].decode("utf-8", "replace"), ms / 1000.0)
              for kind, pos, n, ms in events if kind == _EVENT_WORD]
    end = max([ms / 1000.0 for kind, _, _, ms in events if kind == _EVENT_END] + [len(pcm) / sr])
    words = []
    for i, (w, t0) in enumerate(starts):
        t1 = starts[i + 1][1] if i + 1 < len(starts) else end
        if _normalise(w):
            words.append(WordTiming(_normalise(w), t0, _trim_end(pcm, sr, t0, t1)))
    return Speech(pcm, sr, tuple(words))


# -- flite, on the command line: phone end times, grouped into words by each word's phone count ---------------
def _flite(args: list[str]) -> str:
    exe = shutil.which("flite")
    if exe is None:
        raise SynthError("flite is not installed; on Debian/Ubuntu: sudo apt install flite")
    try:
        done = subprocess.run([exe, *args], capture_output=True, text=True, check=True, timeout=60)
    except subprocess.CalledProcessError as e:
        raise SynthError(f"flite failed: {e.stderr.strip() or e}") from e
    return done.stdout


def _phones(out: str) -> list[tuple[str, float]]:
    pairs = [tok.rsplit(":", 1) for tok in out.split() if ":" in tok]
    return [(p, float(t)) for p, t in pairs]


@lru_cache(maxsize=4096)
def _phone_count(word: str, voice: str) -> int:
    return sum(p != "pau" for p, _ in _phones(_flite(["-voice", voice, "-psdur", "-t", word, "-o", "none"])))


def say_flite(text: str, voice: str = "slt", stretch: float = 1.0, f0: float | None = None,
              timed: bool = True) -> Speech:
    """`text` spoken by flite (`voice` from `flite -lv`; `stretch` > 1 is slower; `f0` mean pitch in Hz).

    With `timed`, each word's span is worked out from flite's phones (SynthError when they do not split).
    """
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "say.wav"
        opts = ["-voice", voice, "--setf", f"duration_stretch={stretch}"]
        if f0:
            opts += ["--setf", f"int_f0_target_mean={f0}"]
        phones = _phones(_flite([*opts, "-psdur", "-t", text, "-o", str(path)]))
        pcm, sr = read_wav(path)
    if not timed:
        return Speech(pcm, sr, ())
    spoken = [_normalise(w) for w in text.split() if _normalise(w)]
    counts = [_phone_count(w, voice) for w in spoken]
    bounds = [(0.0 if i == 0 else phones[i - 1][1], t) for i, (p, t) in enumerate(phones) if p != "pau"]
    if sum(counts) != len(bounds) or 0 in counts:
        raise SynthError(f"flite's phones for {text!r} do not split into its words")
    words, k = [], 0
    for w, n in zip(spoken, counts, strict=True):
        words.append(WordTiming(w, bounds[k][0], bounds[k + n - 1][1]))
        k += n
    return Speech(pcm, sr, tuple(words))
