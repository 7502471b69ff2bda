"""Which face to follow when several are in view: the largest, most central one, kept without jumping."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from avatar.errors import ConfigError
from avatar.tracking.base import Landmarks


def main_score(lm: Landmarks) -> float:
    """Bigger and nearer the image centre is better: a face half as wide in the centre ties one in a corner."""
    cx, cy, w, _ = lm.box()
    dx = (cx / lm.image_width - 0.5) * 2
    dy = (cy / lm.image_height - 0.5) * 2
    off_centre = min(1.0, math.hypot(dx, dy) / math.sqrt(2))  # 0 at the centre, 1 in a corner
    return w / lm.image_width * (1.0 - 0.5 * off_centre)


def distinct(faces: Sequence[Landmarks]) -> tuple[Landmarks, ...]:
    """The faces without duplicates: a face whose centre lies inside an earlier face's box is the same face.

    The Tasks detector sometimes reports one face twice in a group photo (a second, looser mesh around it).
    """
    kept: list[Landmarks] = []
    for lm in faces:
        cx, cy, _, _ = lm.box()
        if not any(abs(cx - x) < w / 2 and abs(cy - y) < h / 2 for x, y, w, h in (k.box() for k in kept)):
            kept.append(lm)
    return tuple(kept)


def pick_main(faces: Sequence[Landmarks]) -> Landmarks | None:
    """The main face of one picture (no memory of earlier frames), or None."""
    return max(faces, key=main_score) if faces else None


@dataclass(frozen=True)
class FollowConfig:
    """How the followed face is recognised from one frame to the next."""

    max_jump: float = 0.75  # face widths the followed face's centre may move between frames and stay "the same"
    max_resize: float = 1.6  # size ratio between frames beyond which it is a different face
    patience_s: float = 0.6  # how long the followed face may vanish before another face is taken instead

    def __post_init__(self) -> None:
        for name in ("max_jump", "patience_s"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0 < value < 100:
                raise ConfigError(f"follow {name} must be a number > 0, got {value!r}")
        if not isinstance(self.max_resize, (int, float)) or self.max_resize <= 1:
            raise ConfigError(f"follow max_resize must be a number > 1, got {self.max_resize!r}")


class FaceFollower:
    """A stage: `step(faces, t)` returns the face being followed, or None while it is out of view.

    The first face taken is the main one (largest, most central). After that the follower keeps to the face
    nearest where it was, even when a bigger one walks in; only when its face has been gone for `patience_s`
    does it take the main face again. So a passer-by never steals the avatar and a face that leaves and comes
    back is picked up again.
    """

    def __init__(self, config: FollowConfig = FollowConfig()) -> None:
        self.config = config
        self.reset()

    def reset(self) -> None:
        self._box: tuple[float, float, float, float] | None = None  # last followed box, pixels
        self._t_seen = -math.inf

    def step(self, faces: Sequence[Landmarks], t: float) -> Landmarks | None:
        chosen = self._same_face(faces, self._box) if self._box is not None else None
        if chosen is None and (self._box is None or t - self._t_seen > self.config.patience_s):
            chosen = pick_main(faces)
        if chosen is not None:
            self._box, self._t_seen = chosen.box(), t
        return chosen

    def _same_face(self, faces: Sequence[Landmarks], box: tuple[float, float, float, float]) -> Landmarks | None:
        x, y, w, _ = box
        best, best_d = None, math.inf
        for lm in faces:
            cx, cy, fw, _ = lm.box()
            d = math.hypot(cx - x, cy - y) / max(w, 1.0)
            ratio = max(fw, 1.0) / max(w, 1.0)
            similar = 1 / self.config.max_resize <= ratio <= self.config.max_resize
            if similar and d <= self.config.max_jump and d < best_d:
                best, best_d = lm, d
        return best
