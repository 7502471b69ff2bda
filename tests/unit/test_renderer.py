"""The studio renderer: output contract, every rig field visible, sides, continuity and determinism."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from avatar.character.renderer import RendererConfig, StudioRenderer
from avatar.errors import ConfigError
from avatar.expression.rig import FACE_FIELDS, Expression, RigCode
from avatar.frames import PixelFormat

SIZE = 128  # about the size of a face in a video call: what must stay readable
COMPOSITOR_FIELDS = ("head_roll", "head_x", "head_y", "head_scale")
DRAWN_FIELDS = [f for f in FACE_FIELDS if f.name not in COMPOSITOR_FIELDS]


@pytest.fixture(scope="module")
def renderer() -> StudioRenderer:
    return StudioRenderer()


def draw(renderer: StudioRenderer, size: int = SIZE, **fields: float) -> np.ndarray:
    return renderer.render(RigCode.from_dict(fields, warn=False), size).pixels.astype(np.float32)


def changed(a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of pixels where some channel moved by more than 32 levels."""
    return float(np.mean(np.abs(a - b).max(axis=-1) > 32))


@pytest.mark.parametrize("size", [32, 64, 129, 256])
def test_output_is_square_rgba_uint8(renderer: StudioRenderer, size: int) -> None:
    image = renderer.render(RigCode.rest(), size)
    assert image.format is PixelFormat.RGBA
    assert image.pixels.shape == (size, size, 4)
    assert image.pixels.dtype == np.uint8


def test_size_defaults_to_the_config() -> None:
    assert StudioRenderer(RendererConfig(size=96)).render(RigCode.rest()).pixels.shape == (96, 96, 4)


@pytest.mark.parametrize(
    "fields", [{}, {"head_yaw": 45, "head_pitch": 45}, {"head_yaw": -45, "head_pitch": -45}, {"angry": 1}]
)
def test_background_is_transparent_and_head_opaque(renderer: StudioRenderer, fields: dict) -> None:
    alpha = draw(renderer, **fields)[..., 3]
    for corner in (alpha[:6, :6], alpha[:6, -6:], alpha[-6:, :6], alpha[-6:, -6:]):
        assert corner.max() == 0
    assert alpha[0].max() == alpha[-1].max() == alpha[:, 0].max() == alpha[:, -1].max() == 0
    assert alpha[SIZE // 2 - 8:SIZE // 2 + 8, SIZE // 2 - 8:SIZE // 2 + 8].min() == 255


def test_head_fills_most_of_the_canvas(renderer: StudioRenderer) -> None:
    cols = np.flatnonzero(draw(renderer)[..., 3].max(axis=0) > 0)
    width = (cols.max() - cols.min() + 1) / SIZE
    assert 0.75 <= width <= 0.9


def test_edges_are_anti_aliased_with_straight_alpha(renderer: StudioRenderer) -> None:
    image = draw(renderer, size=256)
    alpha = image[..., 3]
    edge = (alpha > 0) & (alpha < 255)
    assert edge.sum() > 200  # a soft one-pixel rim around the outline, not a hard cut
    # Straight alpha: a half-covered rim pixel keeps the shell's light colour rather than fading to black.
    half = (alpha > 60) & (alpha < 200)
    assert image[half][:, :3].mean() > 110


@pytest.mark.parametrize("spec", DRAWN_FIELDS, ids=lambda f: f.name)
def test_every_face_field_changes_the_drawing(renderer: StudioRenderer, spec) -> None:
    rest = draw(renderer)
    for value in (spec.low, spec.high):
        if value != spec.rest:
            assert changed(draw(renderer, **{spec.name: value}), rest) > 0.0012, (spec.name, value)


@pytest.mark.parametrize("expression", list(Expression), ids=lambda e: e.value)
def test_every_expression_weight_changes_the_drawing(renderer: StudioRenderer, expression: Expression) -> None:
    base = Expression.HAPPY if expression is Expression.NEUTRAL else Expression.NEUTRAL
    before = draw(renderer, **{base.value: 1.0})
    after = draw(renderer, **{base.value: 0.0, expression.value: 1.0})
    assert changed(after, before) > 0.01


@pytest.mark.parametrize("name", COMPOSITOR_FIELDS)
def test_compositor_fields_leave_the_drawing_alone(renderer: StudioRenderer, name: str) -> None:
    spec = next(f for f in FACE_FIELDS if f.name == name)
    assert np.array_equal(draw(renderer, **{name: spec.high}), draw(renderer))


@pytest.mark.parametrize("side", ["left", "right"])
def test_left_and_right_fields_act_on_the_users_side(renderer: StudioRenderer, side: str) -> None:
    # The user's left is the image's right: no mirroring anywhere.
    rest = draw(renderer)
    for name in (f"eye_blink_{side}", f"brow_raise_{side}"):
        diff = np.abs(draw(renderer, **{name: 1.0}) - rest).sum(axis=-1)
        left_half, right_half = diff[:, : SIZE // 2].sum(), diff[:, SIZE // 2:].sum()
        near, far = (right_half, left_half) if side == "left" else (left_half, right_half)
        assert near > 20 * max(far, 1.0), name


def light_centroid(image: np.ndarray) -> np.ndarray:
    """Where the neutral face's cyan light sits, as (x, y) in pixels, y down."""
    cyan = image[..., 2] - image[..., 0]  # blue over red: the face light, not the white shell or orange ears
    weight = np.where(cyan > 80, cyan, 0.0)
    ys, xs = np.mgrid[: image.shape[0], : image.shape[1]]
    return np.array([(xs * weight).sum(), (ys * weight).sum()]) / weight.sum()


@pytest.mark.parametrize(("name", "axis", "sign"), [
    ("head_yaw", 0, 1.0), ("head_pitch", 1, -1.0), ("gaze_x", 0, 1.0), ("gaze_y", 1, -1.0),
])
def test_turns_and_gaze_move_the_face_the_right_way(renderer: StudioRenderer, name: str, axis: int,
                                                     sign: float) -> None:
    spec = next(f for f in FACE_FIELDS if f.name == name)
    low = light_centroid(draw(renderer, **{name: spec.low}))
    high = light_centroid(draw(renderer, **{name: spec.high}))
    assert (high - low)[axis] * sign > 0.5  # "+" is image right for x, up (smaller row) for y


def test_expression_blend_is_continuous(renderer: StudioRenderer) -> None:
    steps = np.linspace(0.0, 1.0, 21)  # happy -> sad in 0.05 steps
    frames = [draw(renderer, size=96, happy=1.0 - t, sad=t) for t in steps]
    ends = np.abs(frames[-1] - frames[0]).mean()
    worst = max(np.abs(b - a).mean() for a, b in itertools.pairwise(frames))
    assert worst < 0.2 * ends


def test_pure_expressions_are_clearly_different(renderer: StudioRenderer) -> None:
    images = {e: draw(renderer, **{e.value: 1.0}) for e in Expression}
    for a, b in itertools.combinations(Expression, 2):
        assert changed(images[a], images[b]) > 0.01, (a.value, b.value)


def test_rendering_is_deterministic(renderer: StudioRenderer) -> None:
    code = RigCode.from_dict({"happy": 0.6, "surprised": 0.4, "head_yaw": 17, "gaze_x": 0.3, "jaw_open": 0.4})
    first = renderer.render(code, 150).pixels
    assert np.array_equal(first, renderer.render(code, 150).pixels)
    assert np.array_equal(first, StudioRenderer().render(code, 150).pixels)


@pytest.mark.parametrize(("field", "value"), [
    ("size", 8), ("size", 64.0), ("shell", (1, 2)), ("accent", (0, 0, 256)), ("glow", -1.0), ("gloss", 3.0),
])
def test_bad_config_names_the_field(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=field):
        RendererConfig(**{field: value})


def test_bad_render_size_is_refused(renderer: StudioRenderer) -> None:
    with pytest.raises(ConfigError, match="size"):
        renderer.render(RigCode.rest(), 4)


def test_non_finite_codes_draw_the_rest_pose(renderer: StudioRenderer) -> None:
    values = RigCode.rest().values.copy()
    values[:] = np.nan
    assert np.array_equal(renderer.render(RigCode(values), 64).pixels, renderer.render(RigCode.rest(), 64).pixels)


def test_config_colours_are_used() -> None:
    code = RigCode.rest()
    plain = StudioRenderer().render(code, 96).pixels
    green_ears = StudioRenderer(RendererConfig(accent=(0, 255, 0))).render(code, 96).pixels
    diff = np.abs(plain.astype(int) - green_ears.astype(int)).sum(axis=-1)
    assert diff[:, :20].sum() > 0 and diff[:, 20:76].sum() == 0  # only the ear pods at the sides change
