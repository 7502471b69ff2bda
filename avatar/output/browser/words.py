"""Typed (and spoken) words to actions: an expression name, one of its simple synonyms, or "calibrate"."""

from __future__ import annotations

import re
from collections.abc import Mapping

from avatar.expression.rig import EXPRESSIONS

# Word → action. Expression names map to themselves; a configured vocabulary is passed to word_action as
# `extra`, which wins over these.
SYNONYMS: dict[str, str] = {
    **{e.value: e.value for e in EXPRESSIONS},
    **dict.fromkeys(("normal", "calm", "default", "reset", "relax", "relaxed"), "neutral"),
    **dict.fromkeys(("smile", "smiling", "joy", "glad", "yay", "cheerful", "laugh"), "happy"),
    **dict.fromkeys(("unhappy", "cry", "crying", "upset", "sorrow", "frown"), "sad"),
    **dict.fromkeys(("surprise", "wow", "whoa", "shock", "shocked", "amazed", "omg"), "surprised"),
    **dict.fromkeys(("mad", "anger", "furious", "grr", "annoyed", "rage"), "angry"),
    "calibrate": "calibrate",
}

_WORD = re.compile(r"[a-z]+")


def word_action(text: str, extra: Mapping[str, str] | None = None) -> str | None:
    """The action for what was typed: the first word of `text` that is known, or None.

    "Happy!", "so happy" and "wow" all work; case and punctuation are ignored. `extra` maps more words
    (lower case) to actions, e.g. a user's configured vocabulary.
    """
    table = {**SYNONYMS, **{" ".join(_WORD.findall(k.lower())): v for k, v in (extra or {}).items()}}
    words = _WORD.findall(text.lower())
    phrase = " ".join(words)
    if phrase in table:  # a configured phrase ("thumbs up") as a whole
        return table[phrase]
    for word in words:
        if word in table:
            return table[word]
    return None
