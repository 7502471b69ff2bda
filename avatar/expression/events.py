"""Trigger events: a request to switch expression, from a spoken word, typed text, a hotkey or a script."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from avatar.expression.rig import Expression


class TriggerSource(enum.Enum):
    """Where a trigger came from; all sources produce the same event."""

    VOICE = "voice"
    TYPED = "typed"
    HOTKEY = "hotkey"
    SCRIPT = "script"


@dataclass(frozen=True)
class TriggerEvent:
    """Switch to `expression` at time `t` (pipeline clock, seconds)."""

    expression: Expression
    t: float
    source: TriggerSource
    word: str = ""  # what was said or typed, for the HUD and logs
    hold_s: float | None = None  # None: the expression state's default; 0: latch; else back to neutral after this
    transition_s: float | None = None  # how long the switch takes; None: the expression state's default

