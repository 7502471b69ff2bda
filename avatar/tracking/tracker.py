"""Tracker back ends in a registry tried in order, and the tracking stage that follows one face with them."""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import TracebackType

from avatar.errors import ConfigError, EmoteBotError, ModelError, SourceError
from avatar.frames import Image
from avatar.tracking.base import Landmarks, Tracker, TrackerBackend, TrackerConfig
from avatar.tracking.follow import FaceFollower, FollowConfig

log = logging.getLogger(__name__)

TrackerFactory = Callable[[TrackerConfig], Tracker]


class TrackerUnavailableError(EmoteBotError):
    """A back end cannot run here (no model file, say); the registry moves on to the next one."""


def _tasks(config: TrackerConfig) -> Tracker:
    from avatar.tracking.tasks import TasksTracker, find_face_model

    model = find_face_model(config)
    if model is None:
        raise TrackerUnavailableError(
            "no face_landmarker.task: pass --face-model PATH or run `emotebot models fetch face-landmarker`"
        )
    return TasksTracker(config, model)


def _facemesh(config: TrackerConfig) -> Tracker:
    from avatar.tracking.facemesh import FaceMeshTracker

    return FaceMeshTracker(config)


# Tried in this order by backend "auto": the richer tracker first, the always-available one last.
_REGISTRY: dict[str, TrackerFactory] = {"tasks": _tasks, "facemesh": _facemesh}


def register_tracker(name: str, factory: TrackerFactory, first: bool = False) -> None:
    """Add (or replace) a back end; `first` puts it ahead of the others for backend "auto"."""
    _REGISTRY.pop(name, None)
    if first:
        items = list(_REGISTRY.items())
        _REGISTRY.clear()
        _REGISTRY.update({name: factory, **dict(items)})
    else:
        _REGISTRY[name] = factory


def unregister_tracker(name: str) -> None:
    _REGISTRY.pop(name, None)


def open_tracker(config: TrackerConfig) -> Tracker:
    """The back end the config asks for; with "auto", the first registered one that can run here.

    A named back end that fails raises its own error. With "auto" each failure is logged and the next back
    end is tried; when all fail, one error lists every reason.
    """
    if config.backend is not TrackerBackend.AUTO:
        factory = _REGISTRY.get(config.backend.value)
        if factory is None:
            raise ConfigError(f"tracker backend {config.backend.value!r} is not available; "
                              f"registered: {', '.join(_REGISTRY)}")
        try:
            return factory(config)
        except TrackerUnavailableError as e:
            raise ModelError(f"tracker backend {config.backend.value!r}: {e}") from e
    reasons = []
    for name, factory in list(_REGISTRY.items()):
        try:
            tracker = factory(config)
        except TrackerUnavailableError as e:
            log.debug("tracker %s unavailable: %s", name, e)
            reasons.append(f"{name}: {e}")
            continue
        except EmoteBotError as e:
            log.warning("tracker %s failed (%s); trying the next one", name, e)
            reasons.append(f"{name}: {e}")
            continue
        log.info("face tracker: %s", name)
        return tracker
    raise SourceError("no face tracker could start: " + "; ".join(reasons))


class FaceTracker:
    """The tracking stage: a back end finds every face, a FaceFollower keeps to one of them."""

    def __init__(self, config: TrackerConfig | None = None, follow: FollowConfig | None = None,
                 backend: Tracker | None = None) -> None:
        self.config = config if config is not None else TrackerConfig()
        self.backend: Tracker = backend if backend is not None else open_tracker(self.config)
        self.follower = FaceFollower(follow if follow is not None else FollowConfig())
        self._frames = 0

    @property
    def name(self) -> str:
        return self.backend.name

    def process(self, image: Image, t: float | None = None) -> Landmarks | None:
        """The followed face in this frame, or None; `t` (media seconds) defaults to the frame count at 30 fps."""
        when = t if t is not None else self._frames / 30.0
        self._frames += 1
        if self.config.static_images:  # unrelated photos: each picture's own main face, no memory
            self.follower.reset()
        return self.follower.step(self.backend.process_all(image, t), when)

    def process_all(self, image: Image, t: float | None = None) -> tuple[Landmarks, ...]:
        return self.backend.process_all(image, t)

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> FaceTracker:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
