"""The voice profile `emotebot calibrate --voice` writes: thresholds tuned to one person's voice and room."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from avatar.errors import ConfigError

PROFILE_VERSION = 1
DEFAULT_PROFILE = Path("calibration") / "voice.json"


@dataclass(frozen=True)
class VoiceProfile:
    """Per-phrase thresholds learnt from a user's recordings, and how they were measured."""

    thresholds: dict[str, float] = field(default_factory=dict)  # phrase -> verifier score needed
    search_thresholds: dict[str, float] = field(default_factory=dict)  # phrase -> pocketsphinx exponent
    notes: dict[str, object] = field(default_factory=dict)  # what calibration saw (scores, counts), for humans

    def to_dict(self) -> dict:
        return {"version": PROFILE_VERSION, "kind": "voice", "thresholds": self.thresholds,
                "search_thresholds": self.search_thresholds, "notes": self.notes}

    @classmethod
    def from_dict(cls, d: dict, where: str = "voice profile") -> VoiceProfile:
        if d.get("kind") != "voice" or d.get("version") != PROFILE_VERSION:
            raise ConfigError(f"{where} is not a version-{PROFILE_VERSION} voice profile; run "
                              "`emotebot calibrate --voice` again")
        try:
            th = {str(k): float(v) for k, v in d.get("thresholds", {}).items()}
            st = {str(k): float(v) for k, v in d.get("search_thresholds", {}).items()}
        except (TypeError, ValueError, AttributeError) as e:
            raise ConfigError(f"{where}: thresholds must map phrases to numbers ({e})") from e
        bad = [k for k, v in th.items() if not 0.0 <= v <= 1.0]
        if bad:
            raise ConfigError(f"{where}: thresholds of {', '.join(bad)} must be within 0..1")
        return cls(th, st, dict(d.get("notes", {})))


def load_profile(path: str | Path) -> VoiceProfile:
    p = Path(path).expanduser()
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"cannot read voice profile {str(p)!r}: {e.strerror}; run `emotebot calibrate --voice` "
                          "or leave voice.profile empty") from e
    except json.JSONDecodeError as e:
        raise ConfigError(f"voice profile {str(p)!r} is not valid JSON (line {e.lineno}): {e.msg}") from e
    return VoiceProfile.from_dict(data, f"voice profile {str(p)!r}")


def save_profile(profile: VoiceProfile, path: str | Path) -> Path:
    p = Path(path).expanduser()
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(profile.to_dict(), indent=2) + "\n", encoding="utf-8")
    return p
