"""The JSON Lines format of `emotebot track` and `emotebot smooth`: one frame's reading per line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from avatar.errors import RigError
from avatar.expression.rig import Expression, FaceParams


@dataclass(frozen=True)
class TrackRecord:
    """`{"t": s, "frame": i, "face": bool, "params": {...}, "expression": {...}}` plus optional extras."""

    t: float  # seconds into the source
    frame: int  # frame index in the source
    face: bool  # whether a face was found (params are then the solver's; otherwise rest values or held)
    params: FaceParams
    expression: dict[Expression, float] = field(default_factory=dict)  # weights read from the face, if any
    extra: dict[str, Any] = field(default_factory=dict)  # "landmarks", "blendshapes", …: kept as they are

    def to_json(self) -> str:
        obj: dict[str, Any] = {
            "t": round(self.t, 6),
            "frame": self.frame,
            "face": self.face,
            "params": self.params.to_dict(),
            "expression": {e.value: round(w, 5) for e, w in self.expression.items()},
        }
        obj.update(self.extra)
        return json.dumps(obj, separators=(",", ":"))

    @classmethod
    def from_json(cls, line: str, where: str = "") -> TrackRecord:
        try:
            obj = json.loads(line)
            params = FaceParams.from_dict(obj.get("params", {}))
            expression = {Expression.parse(k): float(v) for k, v in obj.get("expression", {}).items()}
            extra = {k: v for k, v in obj.items() if k not in ("t", "frame", "face", "params", "expression")}
            return cls(float(obj["t"]), int(obj["frame"]), bool(obj["face"]), params, expression, extra)
        except json.JSONDecodeError as e:
            raise RigError(f"{where}not valid JSON ({e.msg})") from None
        except RigError as e:
            raise RigError(f"{where}{e}") from None
        except KeyError as e:
            raise RigError(f"{where}missing {e.args[0]!r}; a track line has t, frame, face, params") from None
        except (TypeError, ValueError, AttributeError) as e:
            raise RigError(f"{where}malformed track line: {e}") from None


def read_track(path: str | Path) -> Iterator[TrackRecord]:
    """Every record of a track file; a bad line raises RigError naming the file and line."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise RigError(f"cannot read track file {str(p)!r}: {e.strerror}") from e
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            yield TrackRecord.from_json(line, f"{p}, line {n}: ")


def write_track(records: Iterator[TrackRecord] | list[TrackRecord], out: IO[str]) -> int:
    n = 0
    for record in records:
        out.write(record.to_json() + "\n")
        n += 1
    return n
