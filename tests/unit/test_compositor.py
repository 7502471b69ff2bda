"""Compositor and HUD: head placement by pose, backgrounds, edges, HUD pixels and config errors."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from avatar.errors import ConfigError
from avatar.expression.rig import FIELD_INDEX, RigCode
from avatar.frames import Image, PixelFormat
from avatar.output.compositor import Background, Compositor, CompositorConfig
from avatar.output.hud import HudInfo, draw_hud

W, H = 320, 240
HEAD_RGB = (200, 60, 40)
SMALL = CompositorConfig(width=W, height=H, head_fraction=0.5)
BASE = SMALL.head_fraction * H  # on-screen head size at scale 1, the unit of head_x / head_y


def straight_head(mask: np.ndarray, under: tuple[int, int, int]) -> Image:
    """Straight-alpha RGBA: the head colour wherever the (anti-aliased) mask covers, `under` elsewhere."""
    px = np.empty((*mask.shape, 4), np.uint8)
    px[..., :3] = np.where(mask[..., None] > 0, np.array(HEAD_RGB, np.uint8), np.array(under, np.uint8))
    px[..., 3] = mask
    return Image(px, PixelFormat.RGBA)


def bar_head(size: int = 128, under: tuple[int, int, int] = (0, 0, 0)) -> Image:
    """A tall bar (its long axis shows the roll) on transparent pixels whose colour is `under`."""
    mask = np.zeros((size, size), np.uint8)
    cv2.rectangle(mask, (size // 2 - 10, 12), (size // 2 + 10, size - 13), (255,), cv2.FILLED)
    return straight_head(mask, under)


def disc_head(size: int = 128, under: tuple[int, int, int] = (0, 0, 0)) -> Image:
    mask = np.zeros((size, size), np.uint8)
    cv2.circle(mask, (size // 2, size // 2), size // 3, (255,), cv2.FILLED, cv2.LINE_AA)
    return straight_head(mask, under)


def moments(frame: Image) -> tuple[float, float, float, np.ndarray]:
    """Alpha mass, centroid (x, y) and the 2×2 covariance of the alpha distribution."""
    a = frame.pixels[..., 3].astype(np.float64)
    ys, xs = np.indices(a.shape)
    mass = a.sum()
    cx, cy = (a * xs).sum() / mass, (a * ys).sum() / mass
    dx, dy = xs - cx, ys - cy
    cov = np.array([[(a * dx * dx).sum(), (a * dx * dy).sum()], [(a * dx * dy).sum(), (a * dy * dy).sum()]])
    return mass, cx, cy, cov / mass


def compose(code: RigCode, head: Image | None = None, config: CompositorConfig = SMALL) -> Image:
    return Compositor(config).process(head or bar_head(), code)


def test_rest_pose_puts_the_head_at_the_frame_centre() -> None:
    out = compose(RigCode.rest())
    assert out.format is PixelFormat.RGBA and out.pixels.shape == (H, W, 4)
    _, cx, cy, _ = moments(out)
    assert cx == pytest.approx((W - 1) / 2, abs=0.5)
    assert cy == pytest.approx((H - 1) / 2, abs=0.5)


def test_offsets_are_in_head_sizes_with_plus_x_right_and_plus_y_up() -> None:
    out = compose(RigCode.rest().replace(head_x=0.5, head_y=0.25))
    _, cx, cy, _ = moments(out)
    assert cx == pytest.approx((W - 1) / 2 + 0.5 * BASE, abs=0.5)
    assert cy == pytest.approx((H - 1) / 2 - 0.25 * BASE, abs=0.5)


def test_scale_grows_the_head_area_by_its_square() -> None:
    small, *_ = moments(compose(RigCode.rest().replace(head_scale=0.6)))
    big, *_ = moments(compose(RigCode.rest().replace(head_scale=1.2)))
    assert big / small == pytest.approx(4.0, rel=0.03)


@pytest.mark.parametrize("roll", [30.0, -20.0])
def test_positive_roll_tilts_the_top_of_the_head_towards_image_right(roll: float) -> None:
    _, cx, _, cov = moments(compose(RigCode.rest().replace(head_roll=roll)))
    evals, evecs = np.linalg.eigh(cov)
    ax, ay = evecs[:, int(np.argmax(evals))]  # the bar's long axis
    if ay > 0:
        ax, ay = -ax, -ay  # point it at the top of the head (rows grow downwards)
    tilt = math.degrees(math.atan2(ax, -ay))  # + = top towards image right
    assert tilt == pytest.approx(roll, abs=1.0)
    assert cx == pytest.approx((W - 1) / 2, abs=0.5)  # rolling turns about the head's centre


def test_transparent_background_is_clear_outside_the_head_and_straight_inside() -> None:
    out = compose(RigCode.rest(), disc_head()).pixels
    assert out[0, 0].tolist() == [0, 0, 0, 0]
    assert out[H // 2, W // 2].tolist() == [*HEAD_RGB, 255]
    edge = out[(out[..., 3] > 0) & (out[..., 3] < 255)].astype(np.float64)
    assert len(edge) > 50
    # Straight alpha: partly covered edge pixels keep the head's colour, not darkened towards black (no
    # fringe). Compared as seen, weighted by coverage: 8-bit alpha cannot carry more precision than that.
    seen_error = np.abs(edge[:, :3] - HEAD_RGB) * edge[:, 3:] / 255
    assert seen_error.max() <= 1.5


@pytest.mark.parametrize(
    ("background", "field"), [(Background.COLOR, "color"), (Background.CHROMA, "chroma")]
)
def test_solid_backgrounds_fill_the_frame_opaquely(background: Background, field: str) -> None:
    config = replace(SMALL, background=background)
    out = compose(RigCode.rest(), disc_head(), config).pixels
    assert out[0, 0].tolist() == [*getattr(config, field), 255]
    assert out[H // 2, W // 2].tolist() == [*HEAD_RGB, 255]
    assert (out[..., 3] == 255).all()


def test_image_background_covers_the_frame(tmp_path: Path) -> None:
    picture = np.zeros((100, 200, 3), np.uint8)  # BGR on disk: left half blue, right half yellow
    picture[:, :100] = (255, 0, 0)
    picture[:, 100:] = (0, 255, 255)
    path = tmp_path / "bg.png"
    cv2.imwrite(str(path), picture)
    config = replace(SMALL, background=Background.IMAGE, image_path=str(path))
    out = compose(RigCode.rest().replace(head_scale=0.5), disc_head(), config).pixels
    assert out[5, 5].tolist() == [0, 0, 255, 255]  # RGB blue
    assert out[5, W - 5].tolist() == [255, 255, 0, 255]  # RGB yellow


@pytest.mark.parametrize("background", [Background.TRANSPARENT, Background.COLOR])
def test_colour_under_transparent_head_pixels_never_shows(background: Background) -> None:
    config = replace(SMALL, background=background)
    code = RigCode.rest().replace(head_roll=17, head_scale=1.3, head_x=0.1)
    black = compose(code, disc_head(under=(0, 0, 0)), config).pixels
    white = compose(code, disc_head(under=(255, 255, 255)), config).pixels
    assert np.abs(black.astype(int) - white.astype(int)).max() <= 1


def test_a_head_partly_off_frame_is_clipped() -> None:
    out = compose(RigCode.rest().replace(head_x=1.0, head_scale=2.0), disc_head())
    alpha = out.pixels[..., 3]
    assert alpha[:, -1].max() == 255  # reaches the right edge
    assert alpha[:, : W // 2].max() == 0


def test_bgra_heads_are_accepted_in_their_own_order() -> None:
    bgra = disc_head().to(PixelFormat.BGRA)
    out = compose(RigCode.rest(), bgra).pixels
    assert out[H // 2, W // 2].tolist() == [*HEAD_RGB, 255]


def test_a_returned_frame_survives_the_next_two_calls() -> None:
    comp = Compositor(SMALL)
    first = comp.process(bar_head(), RigCode.rest())
    kept = first.pixels.copy()
    comp.process(bar_head(), RigCode.rest().replace(head_x=0.5))
    comp.process(bar_head(), RigCode.rest().replace(head_x=-0.5))
    assert np.array_equal(first.pixels, kept)


INFO = HudInfo(fps=29.7, latency_ms=23.4, expression="happy", last_trigger="happy", mic_level=0.5)


def test_hud_draws_an_opaque_text_panel_even_on_a_transparent_frame() -> None:
    config = replace(SMALL, hud=True)
    with_hud = Compositor(config).process(bar_head(), RigCode.rest(), INFO).pixels
    without = Compositor(config).process(bar_head(), RigCode.rest()).pixels  # no info: no panel
    corner = (slice(0, 100), slice(0, 140))  # clear of the head
    assert without[corner][..., 3].max() == 0
    alpha = with_hud[corner][..., 3]
    assert (alpha > 230).sum() > 300  # text strokes and the level bar
    assert ((alpha > 100) & (alpha < 200)).sum() > 1000  # the translucent panel behind them


def test_hud_off_ignores_the_info() -> None:
    plain = Compositor(SMALL).process(bar_head(), RigCode.rest(), INFO).pixels
    assert plain[:100, :140, 3].max() == 0


def test_hud_mic_level_bar_fills_in_proportion() -> None:
    def green_pixels(level: float) -> int:
        frame = np.zeros((H, W, 4), np.uint8)
        draw_hud(frame, replace(INFO, mic_level=level))
        return int(((frame[..., 1] > 150) & (frame[..., 0] < 120)).sum())

    assert green_pixels(0.0) == 0
    assert green_pixels(0.8) > 1.5 * green_pixels(0.4) > 0


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"width": 321}, "width"),
        ({"height": 32}, "height"),
        ({"color": (300, 0, 0)}, "color"),
        ({"chroma": (0, 177)}, "chroma"),
        ({"head_fraction": 0.0}, "head_fraction"),
        ({"background": "green"}, "background"),
        ({"background": Background.IMAGE}, "image_path"),
        ({"background": Background.IMAGE, "image_path": "/no/such/file.png"}, "image_path"),
    ],
)
def test_config_errors_name_the_field(changes: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        CompositorConfig(**changes)


def test_an_unreadable_background_picture_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "not-a-picture.png"
    path.write_text("hello")
    with pytest.raises(ConfigError, match="image_path"):
        Compositor(replace(SMALL, background=Background.IMAGE, image_path=str(path)))


def test_background_names_parse_and_unknown_ones_list_the_allowed() -> None:
    assert Background.parse(" Chroma ") is Background.CHROMA
    with pytest.raises(ConfigError, match="transparent, color, chroma, image"):
        Background.parse("blue")


def test_a_non_finite_pose_draws_those_fields_at_rest() -> None:
    bad = RigCode(RigCode.rest().replace(head_x=0.5).values.copy())
    bad.values[FIELD_INDEX["head_scale"]] = np.nan
    _, cx, cy, _ = moments(compose(bad))
    assert cx == pytest.approx((W - 1) / 2 + 0.5 * BASE, abs=0.5)  # head_x kept, scale back at rest
    assert cy == pytest.approx((H - 1) / 2, abs=0.5)


def test_keep_in_frame_holds_most_of_the_head_in_view():
    code = RigCode.rest().replace(head_x=1.0, head_y=-1.0)
    _, cx_free, cy_free, _ = moments(compose(code, disc_head(), replace(SMALL, keep_in_frame=False)))
    mass, cx, cy, _ = moments(compose(code, disc_head(), SMALL))
    assert cy < H - 0.25 * BASE  # clamped, the head stays at least a quarter head inside
    assert cy_free > cy + 15  # unclamped, it sinks over the bottom edge
    assert cx == pytest.approx(cx_free, abs=1.0)  # a head that fits is left alone
    full, _, _, _ = moments(compose(RigCode.rest(), disc_head()))
    assert mass > 0.5 * full  # most of the head is still visible
