"""`emotebot render`: rig codes in JSON Lines to PNG frames or a video."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import cv2

from avatar.errors import ConfigError, RigError
from avatar.expression.rig import FIELD_NAMES, RigCode, parse_code
from avatar.frames import PixelFormat
from avatar.output.compositor import Background, Compositor, CompositorConfig
from avatar.runtime.engines import EngineConfig, make_engine

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = {".mp4", ".avi", ".mkv", ".mov"}


def read_codes(path: str | Path) -> Iterator[tuple[int, RigCode, str]]:
    """(line number, code, what was adjusted) per non-empty line; unknown fields or bad JSON raise RigError.

    A line is either an object of rig fields, or a line of `emotebot track` output (its "params" and
    "expression" objects are merged).
    """
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise RigError(f"cannot read codes file {str(p)!r}: {e.strerror}") from e
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise RigError(f"{p}, line {n}: not valid JSON ({e.msg})") from None
        if not isinstance(obj, dict):
            raise RigError(f"{p}, line {n}: expected an object of rig fields, got {type(obj).__name__}")
        if "params" in obj:
            obj = {**obj.get("params", {}), **obj.get("expression", {})}
        try:
            code, report = parse_code(obj)
        except RigError as e:
            raise RigError(f"{p}, line {n}: {e}") from None
        yield n, code, report


def _writer(out: Path, width: int, height: int, fps: float) -> cv2.VideoWriter:
    fourcc = "mp4v" if out.suffix.lower() in (".mp4", ".mov") else "MJPG"
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter.fourcc(*fourcc), fps, (width, height))
    if not writer.isOpened():
        raise ConfigError(f"cannot write video {str(out)!r}: try a .avi or .mp4 path in a writable folder")
    return writer


def render_codes(codes: str, out: str, engine: str = "reference", size: int = 256, output_size: str = "",
                 background: str = "transparent", fps: float = 30.0) -> int:
    """Draw every code; returns the number of frames written."""
    head_engine = make_engine(EngineConfig(engine=engine, size=size))
    compositor = None
    if output_size:
        w, _, h = output_size.lower().partition("x")
        if not (w.isdigit() and h.isdigit()):
            raise ConfigError(f"--output-size must be WxH, e.g. 1280x720, got {output_size!r}")
        compositor = Compositor(CompositorConfig(width=int(w), height=int(h), background=Background(background)))
    target = Path(out)
    is_video = target.suffix.lower() in VIDEO_SUFFIXES
    writer = None
    adjusted: list[str] = []
    n = 0
    try:
        if not is_video:
            target.mkdir(parents=True, exist_ok=True)
        for line, code, report in read_codes(codes):
            if report:
                adjusted.append(f"line {line}: {report}")
            image = head_engine.render(code)
            if compositor is not None:
                image = compositor.process(image, code)
            if is_video:
                bgr = image.to(PixelFormat.BGR).pixels
                if writer is None:
                    writer = _writer(target, bgr.shape[1], bgr.shape[0], fps)
                writer.write(bgr)
            else:
                cv2.imwrite(str(target / f"{n:06d}.png"), image.to(PixelFormat.BGRA).pixels)
            n += 1
    finally:
        if writer is not None:
            writer.release()
        head_engine.close()
    if adjusted:
        more = f" (and {len(adjusted) - 1} more line(s))" if len(adjusted) > 1 else ""
        log.warning("out-of-range values were clamped: %s%s", adjusted[0], more)
    if n == 0:
        raise RigError(f"{codes} holds no codes; each line is an object of rig fields: {', '.join(FIELD_NAMES)}")
    return n

