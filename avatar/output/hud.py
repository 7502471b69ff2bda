"""Heads-up display: a small translucent panel with fps, latency, expression and trigger, drawn in place."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

_PANEL_RGB = np.array([12, 14, 18], np.float32)  # near-black so white text reads on any background
_PANEL_ALPHA = 0.62  # translucent: the background stays visible behind the panel
_TEXT_RGBA = (235, 240, 245, 255)
_BAR_RGBA = (80, 210, 120, 255)
_FONT = cv2.FONT_HERSHEY_SIMPLEX


@dataclass(frozen=True)
class HudInfo:
    """What the HUD shows for one frame."""

    fps: float  # output frames per second, measured by the pipeline
    latency_ms: float  # capture → sink latency of this frame
    expression: str  # the active (dominant) expression
    last_trigger: str | None  # the last trigger word or hotkey, None before the first
    mic_level: float | None = None  # microphone level 0..1, None when voice is off


def hud_lines(info: HudInfo) -> list[str]:
    """The text lines of the panel, top to bottom."""
    return [
        f"{info.fps:5.1f} fps  {info.latency_ms:5.1f} ms",
        f"expression: {info.expression}",
        f"trigger: {info.last_trigger or '-'}",
    ]


def draw_hud(frame: np.ndarray, info: HudInfo, margin: int = 12) -> tuple[int, int, int, int]:
    """Draw the panel into the top-left corner of an RGBA frame (straight alpha), in place.

    The panel is blended "over" what is there, so on a transparent frame it stays translucent while its text
    is opaque. Returns the panel box (x0, y0, x1, y1).
    """
    h, w = frame.shape[:2]
    scale = max(0.35, h / 720 * 0.55)  # readable at 720p, still legible at small preview sizes
    thick = 1 if scale < 0.7 else 2
    lines = hud_lines(info)
    (tw, th), base = cv2.getTextSize(max(lines, key=len), _FONT, scale, thick)
    step = th + base + 6
    rows = len(lines) + (info.mic_level is not None)
    x0, y0 = margin, margin
    x1 = min(w, x0 + tw + 2 * margin)
    y1 = min(h, y0 + rows * step + margin)
    _blend_panel(frame[y0:y1, x0:x1])
    for i, text in enumerate(lines):
        org = (x0 + margin, y0 + margin // 2 + (i + 1) * step - base - 3)
        cv2.putText(frame, text, org, _FONT, scale, _TEXT_RGBA, thick, cv2.LINE_AA)
    if info.mic_level is not None:
        top = y0 + margin // 2 + len(lines) * step + 3
        full = x1 - x0 - 2 * margin
        level = min(max(float(info.mic_level), 0.0), 1.0)
        cv2.rectangle(frame, (x0 + margin, top), (x0 + margin + full, top + th), _TEXT_RGBA, 1)
        if level > 0:
            right = x0 + margin + round(full * level)
            cv2.rectangle(frame, (x0 + margin, top), (right, top + th), _BAR_RGBA, cv2.FILLED)
    return x0, y0, x1, y1


def _blend_panel(roi: np.ndarray) -> None:
    """Porter-Duff "over" of the translucent panel colour onto straight-alpha RGBA pixels."""
    if cv2.minMaxLoc(cv2.extractChannel(roi, 3))[0] == 255:  # opaque background: one weighted sum
        panel = np.empty_like(roi)
        panel[:] = (*_PANEL_RGB.astype(np.uint8).tolist(), 255)
        cv2.addWeighted(roi, 1 - _PANEL_ALPHA, panel, _PANEL_ALPHA, 0.0, dst=roi)
        return
    dst_a = roi[..., 3:4].astype(np.float32) / 255
    out_a = _PANEL_ALPHA + dst_a * (1 - _PANEL_ALPHA)
    rgb = (_PANEL_RGB * _PANEL_ALPHA + roi[..., :3].astype(np.float32) * dst_a * (1 - _PANEL_ALPHA)) / out_a
    roi[..., :3] = np.clip(rgb + 0.5, 0, 255).astype(np.uint8)
    roi[..., 3:4] = np.clip(out_a * 255 + 0.5, 0, 255).astype(np.uint8)
