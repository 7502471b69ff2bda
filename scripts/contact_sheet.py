"""Draw the studio renderer's contact sheet (every rig field at work) and, optionally, the hero picture."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import cv2
import numpy as np

from avatar.character.renderer import RendererConfig, StudioRenderer
from avatar.expression.rig import RigCode

log = logging.getLogger("contact_sheet")

# (row label, [(caption, rig fields), ...]); fields not named rest, weights not named are 0.
ROWS: list[tuple[str, list[tuple[str, dict[str, float]]]]] = [
    ("expressions", [("neutral", {}), ("happy", {"happy": 1}), ("sad", {"sad": 1}),
                     ("surprised", {"surprised": 1}), ("angry", {"angry": 1})]),
    ("pose", [("yaw -35", {"head_yaw": -35}), ("yaw +35", {"head_yaw": 35}),
              ("pitch +30", {"head_pitch": 30}), ("pitch -30", {"head_pitch": -30}),
              ("yaw 35 pitch 20", {"head_yaw": 35, "head_pitch": 20})]),
    ("blink", [("left", {"eye_blink_left": 1}), ("right", {"eye_blink_right": 1}),
               ("both 0.5", {"eye_blink_left": 0.5, "eye_blink_right": 0.5}),
               ("both", {"eye_blink_left": 1, "eye_blink_right": 1}),
               ("happy, left", {"happy": 1, "eye_blink_left": 1})]),
    ("gaze", [("left", {"gaze_x": -1}), ("right", {"gaze_x": 1}), ("up", {"gaze_y": 1}),
              ("down", {"gaze_y": -1}), ("right+up", {"gaze_x": 1, "gaze_y": 1})]),
    ("brows", [("raise left", {"brow_raise_left": 1}), ("raise right", {"brow_raise_right": 1}),
               ("raise both", {"brow_raise_left": 1, "brow_raise_right": 1}),
               ("lower both", {"brow_raise_left": -1, "brow_raise_right": -1}),
               ("furrow", {"brow_furrow": 1})]),
    ("mouth", [("jaw 0.5", {"jaw_open": 0.5}), ("jaw 1", {"jaw_open": 1}), ("smile +1", {"mouth_smile": 1}),
               ("smile -1", {"mouth_smile": -1}), ("funnel", {"mouth_funnel": 1})]),
    ("happy > sad", [(f"{1 - t:.2f} / {t:.2f}", {"happy": 1 - t, "sad": t})
                     for t in (0.0, 0.25, 0.5, 0.75, 1.0)]),
]

GREY = (118, 120, 126)  # neutral mid-grey: shows both the light shell and the transparent margin
TEXT = (236, 236, 240)


def over(rgba: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Straight-alpha RGBA over an RGB background, both uint8."""
    a = rgba[..., 3:4].astype(np.float32) / 255.0
    out = rgba[..., :3].astype(np.float32) * a + background.astype(np.float32) * (1.0 - a)
    return (out + 0.5).astype(np.uint8)


def put(img: np.ndarray, text: str, org: tuple[int, int], scale: float, thick: int = 1) -> None:
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, TEXT, thick, cv2.LINE_AA)


def contact_sheet(renderer: StudioRenderer, size: int) -> np.ndarray:
    """The sheet as RGB uint8: one labelled row per group of fields, a caption under each tile."""
    label_w, pad = int(size * 0.95), 6
    cols = max(len(tiles) for _, tiles in ROWS)
    row_h = size + pad  # captions sit in the tile's transparent bottom margin, below the head
    sheet = np.empty((row_h * len(ROWS) + pad, label_w + cols * size + pad, 3), np.uint8)
    sheet[:] = GREY
    scale = size / 400.0
    for r, (label, tiles) in enumerate(ROWS):
        y = pad + r * row_h
        put(sheet, label, (pad * 2, y + size // 2), scale * 1.6, 2)
        for c, (caption, fields) in enumerate(tiles):
            x = label_w + c * size
            image = renderer.render(RigCode.from_dict(fields, warn=False), size).pixels
            sheet[y:y + size, x:x + size] = over(image, sheet[y:y + size, x:x + size])
            (tw, _), _ = cv2.getTextSize(caption, cv2.FONT_HERSHEY_SIMPLEX, scale * 1.25, 1)
            put(sheet, caption, (x + (size - tw) // 2, y + int(size * 0.96)), scale * 1.25)
    return sheet


def hero(renderer: StudioRenderer, size: int) -> np.ndarray:
    """EmoteBot, happy and turned a little, on a soft studio backdrop with a floor shadow."""
    code = RigCode.from_dict({"happy": 1, "head_yaw": 14, "head_pitch": 6, "gaze_x": 0.2}, warn=False)
    image = renderer.render(code, int(size * 0.86)).pixels
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    r = np.sqrt((xx - 0.5) ** 2 + (yy - 0.42) ** 2)
    top, bottom = np.array([54, 72, 120], np.float32), np.array([18, 22, 44], np.float32)
    bg = top + (bottom - top) * np.clip(r / 0.75, 0, 1)[..., None]
    shadow = np.exp(-(((xx - 0.5) / 0.3) ** 2 + ((yy - 0.86) / 0.035) ** 2))[..., None]
    bg = bg * (1.0 - 0.45 * shadow)
    canvas = np.clip(bg, 0, 255).astype(np.uint8)
    o = (size - image.shape[0]) // 2
    y0 = o - int(size * 0.01)
    canvas[y0:y0 + image.shape[0], o:o + image.shape[1]] = over(
        image, canvas[y0:y0 + image.shape[0], o:o + image.shape[1]])
    return canvas


def save(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise SystemExit(f"could not write {path}")
    log.info("wrote %s (%d KB)", path, path.stat().st_size // 1024)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("docs/contact_sheet.png"), help="contact sheet PNG")
    parser.add_argument("--size", type=int, default=192, help="tile size in pixels")
    parser.add_argument("--hero", type=Path, default=None, help="also write the hero picture here")
    parser.add_argument("--hero-size", type=int, default=512, help="hero picture size in pixels")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    renderer = StudioRenderer(RendererConfig(size=args.size))
    save(args.out, contact_sheet(renderer, args.size))
    if args.hero is not None:
        save(args.hero, hero(renderer, args.hero_size))


if __name__ == "__main__":
    main()
