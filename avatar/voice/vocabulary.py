"""Trigger vocabulary: which spoken or typed phrase asks for which expression, and the one lookup for it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from avatar.errors import ConfigError, RigError
from avatar.expression.events import TriggerEvent, TriggerSource
from avatar.expression.rig import Expression
from avatar.voice.config import VoiceConfig


def normalise_phrase(text: str) -> str:
    """Lower case, letters and apostrophes only, single spaces: how phrases are compared."""
    return " ".join(re.sub(r"[^a-z' ]", " ", text.lower()).split())


@dataclass(frozen=True)
class Trigger:
    """One vocabulary entry."""

    phrase: str  # normalised words
    expression: Expression
    hold_s: float | None = None  # None: the expression state's default; 0: latch; else seconds
    threshold: float | None = None  # verifier score needed; None: the profile's or the default
    search_threshold: float | None = None  # pocketsphinx threshold exponent; None: chosen by phrase length


@dataclass(frozen=True)
class Vocabulary:
    """The phrases EmoteBot listens for, and user-supplied pronunciations."""

    triggers: tuple[Trigger, ...]
    pronunciations: tuple[tuple[str, str], ...] = ()  # (word, ARPABET phones)

    def lookup(self, phrase: str) -> Trigger | None:
        key = normalise_phrase(phrase)
        return next((t for t in self.triggers if t.phrase == key), None)

    @property
    def phrases(self) -> tuple[str, ...]:
        return tuple(t.phrase for t in self.triggers)


def _pairs(items: tuple[str, ...], field: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, _, value = item.partition("=")
        phrase = normalise_phrase(key)
        if not phrase or not value.strip():
            raise ConfigError(f"voice.{field}: {item!r} is not PHRASE=VALUE")
        out[phrase] = value.strip()
    return out


def _number(value: str, field: str, phrase: str, low: float, high: float) -> float:
    try:
        x = float(value)
    except ValueError:
        raise ConfigError(f"voice.{field}: {phrase}={value!r} is not a number") from None
    if not low <= x <= high:
        raise ConfigError(f"voice.{field}: {phrase}={x} must be within {low}..{high}")
    return x


def parse_vocabulary(config: VoiceConfig) -> Vocabulary:
    """The vocabulary a `[voice]` section describes; every mistake names the setting and the phrase."""
    words = _pairs(config.vocabulary, "vocabulary")
    holds, thresholds = _pairs(config.hold, "hold"), _pairs(config.thresholds, "thresholds")
    searches = _pairs(config.search_thresholds, "search_thresholds")
    for field, table in (("hold", holds), ("thresholds", thresholds), ("search_thresholds", searches)):
        unknown = sorted(set(table) - set(words))
        if unknown:
            raise ConfigError(f"voice.{field} names {', '.join(unknown)}, which is not in voice.vocabulary "
                              f"({', '.join(words)})")
    triggers = []
    for phrase, name in words.items():
        try:
            expression = Expression.parse(name)
        except RigError as e:
            raise ConfigError(f"voice.vocabulary: {phrase}={name}: {e}") from None
        triggers.append(Trigger(
            phrase, expression,
            _number(holds[phrase], "hold", phrase, 0.0, 3600.0) if phrase in holds else None,
            _number(thresholds[phrase], "thresholds", phrase, 0.0, 1.0) if phrase in thresholds else None,
            _number(searches[phrase], "search_thresholds", phrase, -80.0, 0.0) if phrase in searches else None,
        ))
    prons = []
    for word, phones in _pairs(config.pronunciations, "pronunciations").items():
        if " " in word:
            raise ConfigError(f"voice.pronunciations: give one word per entry, got {word!r}")
        prons.append((word, " ".join(phones.upper().split())))
    return Vocabulary(tuple(triggers), tuple(prons))


@lru_cache(maxsize=1)
def default_vocabulary() -> Vocabulary:
    return parse_vocabulary(VoiceConfig())


def resolve(text: str, vocabulary: Vocabulary | None = None) -> Expression | None:
    """The expression typed or spoken `text` asks for: a vocabulary phrase or an expression's name; else None.

    The one mapping every trigger path uses (microphone, a line on stdin, the control page).
    """
    trigger = (vocabulary or default_vocabulary()).lookup(text)
    if trigger is not None:
        return trigger.expression
    try:
        return Expression.parse(normalise_phrase(text))
    except RigError:
        return None


def event_for(text: str, t: float, source: TriggerSource, vocabulary: Vocabulary | None = None
              ) -> TriggerEvent | None:
    """The trigger event for typed or spoken `text` at time `t`, with the phrase's hold; None if it means nothing."""
    expression = resolve(text, vocabulary)
    if expression is None:
        return None
    trigger = (vocabulary or default_vocabulary()).lookup(text)
    hold = trigger.hold_s if trigger is not None else None
    return TriggerEvent(expression, t, source, normalise_phrase(text), hold)
