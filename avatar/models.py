"""Model files EmoteBot can download on the user's request, pinned by sha256 and checked before use."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from avatar.errors import ModelError

log = logging.getLogger(__name__)

_CHUNK = 1 << 16


@dataclass(frozen=True)
class ModelSpec:
    """A downloadable model: where it comes from, what its bytes hash to, and where it goes."""

    name: str  # what `emotebot models fetch NAME` calls it
    url: str  # the official release
    sha256: str  # of the release's bytes: anything else is refused
    filename: str  # written to engines/<filename>
    about: str  # one line for `emotebot models list`


FACE_LANDMARKER = ModelSpec(
    name="face-landmarker",
    url="https://storage.googleapis.com/mediapipe-models/face_landmarker/face_landmarker/float16/1/"
    "face_landmarker.task",
    sha256="64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff",
    filename="face_landmarker.task",
    about="MediaPipe Face Landmarker (float16, v1): landmarks + 52 blendshapes + head transform, 3.6 MB",
)

MODELS: dict[str, ModelSpec] = {m.name: m for m in (FACE_LANDMARKER,)}


def engines_dir() -> Path:
    """Where model files live: $EMOTEBOT_ENGINES, else the engines/ folder beside the avatar package."""
    env = os.environ.get("EMOTEBOT_ENGINES")
    return Path(env).expanduser() if env else Path(__file__).resolve().parents[1] / "engines"


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    try:
        with path.open("rb") as f:
            while chunk := f.read(_CHUNK):
                h.update(chunk)
    except OSError as e:
        raise ModelError(f"cannot read model file {str(path)!r}: {e.strerror}") from e
    return h.hexdigest()


def spec_for(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise ModelError(f"unknown model {name!r}; available: {', '.join(MODELS)}") from None


def _offline_help(spec: ModelSpec, dest: Path, url: str, reason: object) -> ModelError:
    return ModelError(
        f"cannot download {spec.name} from {url} ({reason}). Are you offline? Nothing was changed. "
        f"On a machine with internet, download {spec.url} , then copy it to {dest} "
        f"(or pass --face-model PATH); EmoteBot works without it, using the bundled FaceMesh tracker"
    )


def fetch(
    name: str,
    dest_dir: Path | None = None,
    url: str | None = None,
    timeout_s: float = 30.0,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Download model `name` into dest_dir (engines/ by default), verify its sha256, return its path.

    A file already there with the right hash is kept. The download goes to a temporary file that replaces
    the target only once its hash matches, so a failed or corrupt download never leaves a broken model.
    `url` overrides the official address (a mirror, or a local server in tests); `progress(done, total)`.
    """
    spec = spec_for(name)
    folder = dest_dir if dest_dir is not None else engines_dir()
    dest = folder / spec.filename
    if dest.is_file() and file_sha256(dest) == spec.sha256:
        log.info("%s is already there and verified: %s", spec.name, dest)
        return dest
    source = url or spec.url
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ModelError(f"cannot create {str(folder)!r} for the model: {e.strerror}") from e
    fd, tmp_name = tempfile.mkstemp(prefix=f".{spec.filename}.", suffix=".part", dir=folder)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            digest = _download(spec, source, dest, out, timeout_s, progress)
        if digest != spec.sha256:
            raise ModelError(
                f"the file downloaded from {source} has sha256 {digest}, expected {spec.sha256}: "
                "it is not the release EmoteBot trusts (corrupt, truncated or changed); nothing was installed"
            )
        tmp.replace(dest)
    finally:
        tmp.unlink(missing_ok=True)
    log.info("%s verified and written to %s", spec.name, dest)
    return dest


def _download(
    spec: ModelSpec, url: str, dest: Path, out, timeout_s: float, progress: Callable[[int, int], None] | None
) -> str:
    """Stream `url` into `out`, hashing as it goes; network failures become a ModelError with offline help."""
    h = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            total = int(response.headers.get("Content-Length") or 0)
            done = 0
            while chunk := response.read(_CHUNK):
                h.update(chunk)
                out.write(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
    except urllib.error.HTTPError as e:
        raise ModelError(f"cannot download {spec.name} from {url}: the server answered {e.code} {e.reason}") from e
    except (TimeoutError, urllib.error.URLError, ConnectionError) as e:
        raise _offline_help(spec, dest, url, getattr(e, "reason", e)) from e
    except OSError as e:
        raise ModelError(f"cannot write {str(dest)!r} while downloading: {e.strerror}") from e
    return h.hexdigest()
