"""The `[voice]` configuration section: microphone, vocabulary and detection settings for spoken triggers."""

from __future__ import annotations

from dataclasses import dataclass

from avatar.errors import ConfigError

DEFAULT_VOCABULARY = ("happy=happy", "sad=sad", "surprised=surprised", "angry=angry", "neutral=neutral",
                      "reset=neutral")


@dataclass(frozen=True)
class VoiceConfig:
    """Spoken triggers. List settings hold "PHRASE=VALUE" items (TOML lists, or comma-separated on --set)."""

    enabled: bool = True  # listen to the microphone during live runs (--no-voice turns it off)
    with_files: bool = False  # listen even when a video or image goes into files only (--mic)
    stdin: str = "auto"  # typed trigger lines on standard input: auto (when it is a terminal), on, off
    device: str = ""  # microphone index or (part of) its name, see `emotebot devices`; empty = system default
    block_s: float = 0.02  # microphone block length: shorter reacts sooner, longer costs less CPU
    vocabulary: tuple[str, ...] = DEFAULT_VOCABULARY  # PHRASE=EXPRESSION, e.g. "so happy=happy"
    hold: tuple[str, ...] = ()  # PHRASE=SECONDS before easing back (0 latches); others: expression.hold_s
    thresholds: tuple[str, ...] = ()  # PHRASE=0..1 verifier score needed; beats the profile and `threshold`
    # verifier score needed by phrases without their own (higher: fewer false alarms); None: the verifier's own
    # per-word thresholds, chosen on validation speech (DEFAULT_THRESHOLD for words it has none for)
    threshold: float | None = None
    search_thresholds: tuple[str, ...] = ()  # PHRASE=EXPONENT of pocketsphinx's threshold (-40 = 1e-40)
    pronunciations: tuple[str, ...] = ()  # WORD=ARPABET phones ("emotebot=IY M OW T B AA T") for new words
    verify: bool = True  # check pocketsphinx's candidates with the verifier network (off: pocketsphinx alone)
    profile: str = ""  # voice profile (JSON) written by `emotebot calibrate --voice`; empty = none

    def __post_init__(self) -> None:
        if not 0.005 <= self.block_s <= 0.2:
            raise ConfigError(f"voice.block_s must be within 0.005..0.2 seconds, got {self.block_s}")
        if self.threshold is not None and not 0.0 < self.threshold < 1.0:
            raise ConfigError(f"voice.threshold must be between 0 and 1, got {self.threshold}")
        if self.stdin not in ("auto", "on", "off"):
            raise ConfigError(f"voice.stdin must be one of auto, on, off; got {self.stdin!r}")
        if not self.vocabulary:
            raise ConfigError("voice.vocabulary is empty: add at least one PHRASE=EXPRESSION (or voice.enabled "
                              "= false)")
        for name in ("vocabulary", "hold", "thresholds", "search_thresholds", "pronunciations"):
            for item in getattr(self, name):
                if "=" not in item or not item.split("=", 1)[0].strip():
                    raise ConfigError(f"voice.{name}: {item!r} is not PHRASE=VALUE")
