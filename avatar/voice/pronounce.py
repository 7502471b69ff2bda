"""Pronunciations for the keyword search: the user's, pocketsphinx's dictionary, or flite's letter-to-sound."""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Callable, Mapping

from avatar.errors import ConfigError

log = logging.getLogger(__name__)

# pocketsphinx's en-us acoustic model knows these phones (ARPABET without stress marks).
PHONES = frozenset({"AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH",
                    "IH", "IY", "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH", "UH",
                    "UW", "V", "W", "Y", "Z", "ZH"})
_FLITE_TO_ARPABET = {"ax": "AH", "axr": "ER"}  # flite's extra phones; the rest are ARPABET in lower case


def check_phones(word: str, phones: str) -> str:
    """`phones` upper-cased and checked against the model's phone set, or a ConfigError naming the bad ones."""
    seq = phones.upper().split()
    bad = [p for p in seq if p not in PHONES]
    if not seq or bad:
        raise ConfigError(f"voice.pronunciations: {word}={phones!r} uses unknown phone(s) {bad or '(none given)'}; "
                          f"allowed: {' '.join(sorted(PHONES))}")
    return " ".join(seq)


def flite_phones(word: str) -> str | None:
    """flite's letter-to-sound guess for `word` in ARPABET, or None when flite is not installed or fails."""
    exe = shutil.which("flite")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "-psdur", "-t", word, "-o", "none"], capture_output=True, text=True,
                             check=True, timeout=20).stdout
    except (subprocess.SubprocessError, OSError) as e:
        log.debug("flite could not pronounce %r: %s", word, e)
        return None
    phones = [tok.rsplit(":", 1)[0] for tok in out.split() if ":" in tok]
    seq = [_FLITE_TO_ARPABET.get(p, p.upper()) for p in phones if p != "pau"]
    return " ".join(seq) if seq and all(p in PHONES for p in seq) else None


def pronounce(word: str, user: Mapping[str, str], lookup: Callable[[str], str | None],
              guess: Callable[[str], str | None] = flite_phones) -> tuple[str, bool]:
    """The phones for `word` and whether they must be added to the dictionary.

    The user's pronunciation wins; then the dictionary's; then a letter-to-sound guess (logged, so the user can
    correct it); otherwise a ConfigError says how to supply one.
    """
    if word in user:
        return check_phones(word, user[word]), True
    known = lookup(word)
    if known:
        return known, False
    guessed = guess(word)
    if guessed:
        log.info("voice: %r is not in the dictionary; pronouncing it %s (set voice.pronunciations to correct)",
                 word, guessed)
        return guessed, True
    raise ConfigError(f"voice: {word!r} is not in pocketsphinx's dictionary and no pronunciation could be guessed "
                      f"(flite is not installed); add one, e.g. --set voice.pronunciations=\"{word}=HH AH L OW\" "
                      "(ARPABET phones)")
