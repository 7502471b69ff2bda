"""Image quality against the studio renderer: PSNR, SSIM and edge sharpness, on premultiplied RGBA.

Premultiplied (colour × alpha, alpha) because that is what a viewer sees: the colour of a pixel the head does
not cover is undefined in straight alpha and must not count. Images are float arrays in 0..1, (H, W, 4) or
(N, H, W, 4); uint8 straight RGBA is converted by `premultiply`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

_C1, _C2 = 0.01**2, 0.03**2  # SSIM's stabilisers for a dynamic range of 1 (Wang et al. 2004)


def premultiply(rgba: np.ndarray) -> np.ndarray:
    """Straight RGBA (uint8 0..255 or float 0..1) → premultiplied float32 0..1, same shape."""
    x = rgba.astype(np.float32)
    if rgba.dtype == np.uint8:
        x *= np.float32(1.0 / 255.0)
    out = x.copy()
    out[..., :3] *= x[..., 3:4]
    return out


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB over every pixel and channel (peak 1)."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0.0 else 10.0 * np.log10(1.0 / mse)


def _blur(x: np.ndarray) -> np.ndarray:
    # The 11-tap Gaussian window, sigma 1.5, of the SSIM paper; reflected borders.
    return cv2.GaussianBlur(x, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean structural similarity of two (H, W, C) images in 0..1, averaged over channels."""
    if a.shape != b.shape or a.ndim != 3:
        raise ValueError(f"ssim needs two (H, W, C) images of one shape, got {a.shape} and {b.shape}")
    x, y = a.astype(np.float32), b.astype(np.float32)
    mx, my = _blur(x), _blur(y)
    sxx = _blur(x * x) - mx * mx
    syy = _blur(y * y) - my * my
    sxy = _blur(x * y) - mx * my
    num = (2 * mx * my + _C1) * (2 * sxy + _C2)
    den = (mx * mx + my * my + _C1) * (sxx + syy + _C2)
    return float(np.mean(num / den))


def gradient_magnitude(a: np.ndarray) -> float:
    """Mean length of the image gradient (forward differences), over pixels and channels: edge energy."""
    x = a.astype(np.float32)
    gx = np.zeros_like(x)
    gy = np.zeros_like(x)
    gx[:, :-1] = x[:, 1:] - x[:, :-1]
    gy[:-1] = x[1:] - x[:-1]
    return float(np.mean(np.sqrt(gx * gx + gy * gy)))


@dataclass(frozen=True)
class Quality:
    """How close generated images are to the reference, averaged over a set of codes."""

    psnr_db: float  # mean over images of each image's PSNR
    ssim: float  # mean over images
    gradient_ratio: float  # mean edge energy of generated / of reference: < 1 is blurrier
    images: int

    def to_dict(self) -> dict[str, float]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}

    def meets(self, psnr_db: float = 30.0, ssim_min: float = 0.95, gradient_ratio: float = 0.9) -> bool:
        """The issue's bars at 256 px."""
        return self.psnr_db >= psnr_db and self.ssim >= ssim_min and self.gradient_ratio >= gradient_ratio


def quality(generated: np.ndarray, reference: np.ndarray) -> Quality:
    """Quality of premultiplied (N, H, W, 4) float images against their references."""
    if generated.shape != reference.shape or generated.ndim != 4:
        raise ValueError(f"need two (N, H, W, 4) stacks of one shape, got {generated.shape}, {reference.shape}")
    p = [psnr(g, r) for g, r in zip(generated, reference, strict=True)]
    s = [ssim(g, r) for g, r in zip(generated, reference, strict=True)]
    g_gen = sum(gradient_magnitude(g) for g in generated)
    g_ref = sum(gradient_magnitude(r) for r in reference)
    return Quality(float(np.mean(np.minimum(p, 100.0))), float(np.mean(s)), g_gen / max(g_ref, 1e-12),
                   len(generated))


def sheet(reference: np.ndarray, generated: np.ndarray, columns: int = 4,
          background: tuple[float, float, float] = (0.5, 0.5, 0.5)) -> np.ndarray:
    """Side-by-side pairs (reference | generated) over a grey background: RGB uint8 (rows·S, columns·2S, 3)."""
    n, S = len(reference), reference.shape[1]
    rows = (n + columns - 1) // columns
    bg = np.asarray(background, np.float32)
    out = np.empty((rows * S, columns * 2 * S, 3), np.float32)
    out[:] = bg
    for i in range(n):
        r, c = divmod(i, columns)
        for j, img in enumerate((reference[i], generated[i])):
            x0 = (2 * c + j) * S
            out[r * S:(r + 1) * S, x0:x0 + S] = img[..., :3] + bg * (1.0 - img[..., 3:4])
    return (np.clip(out, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
