"""The live per-frame chain with real tracking: online neutral, the face's expression ("mirror" mode), triggers."""

from __future__ import annotations

from pathlib import Path

import pytest

from avatar.expression.events import TriggerEvent, TriggerSource
from avatar.expression.rig import Expression
from avatar.frames import Frame, Image, PixelFormat
from avatar.output.compositor import CompositorConfig
from avatar.processing import FrameProcessor, StageConfigs
from avatar.runtime.engines import EngineConfig
from avatar.tracking.mirror import MirrorConfig
from tests.integration.test_tracking import read_frames


def run(fixtures: Path, mirror: bool, events_at: dict[int, TriggerEvent] | None = None) -> list[dict]:
    """Process lp_d0 (rest, then a grin from frame ~24 to ~62); the code sent to the generator, per frame."""
    configs = StageConfigs(engine=EngineConfig(size=32), compositor=CompositorConfig(width=64, height=64),
                           face_expression=MirrorConfig(enabled=mirror))
    processor = FrameProcessor(configs)
    codes = []
    try:
        for i, pixels in enumerate(read_frames(fixtures / "videos" / "lp_d0.mp4", 70)):
            frame = Frame(i, i / 25, i / 25, image=Image(pixels, PixelFormat.BGR))
            events = [events_at[i]] if events_at and i in events_at else []
            processor.process(frame, events, None)
            assert frame.face_found and "tracking" in frame.timings and "solver" in frame.timings
            codes.append(processor.last_code.to_dict())
    finally:
        processor.close()
    return codes


@pytest.fixture(scope="module")
def mirrored(fixtures: Path) -> list[dict]:
    return run(fixtures, mirror=True)


def test_the_avatar_mirrors_a_grin(mirrored: list[dict]) -> None:
    assert all(c["neutral"] > 0.95 for c in mirrored[:16])  # the grin starts at frame ~17
    assert min(c["happy"] for c in mirrored[40:60]) > 0.8
    assert mirrored[-1]["happy"] < mirrored[55]["happy"]  # the grin fades at the end and so does the avatar's


def test_without_mirror_the_expression_stays_neutral(fixtures: Path, mirrored: list[dict]) -> None:
    plain = run(fixtures, mirror=False)
    assert all(c["neutral"] == pytest.approx(1.0) for c in plain)
    # The face itself is followed either way, from an online neutral: resting reads as rest within a second.
    assert max(abs(c["head_x"]) for c in plain[15:25]) < 0.1
    assert plain[45]["mouth_smile"] > 0.5


def test_a_trigger_wins_over_the_face(fixtures: Path) -> None:
    sad = TriggerEvent(Expression.SAD, 30 / 25, TriggerSource.HOTKEY, "3")
    codes = run(fixtures, mirror=True, events_at={30: sad})
    assert codes[50]["sad"] > 0.9 and codes[50]["happy"] < 0.05  # grinning, but the hotkey said sad
