"""Shared test helpers: where the real fixtures are, and tools that must exist in CI."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import pyvirtualcam

from tests.memory_vcam import BrokenCamera, MemoryCamera

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(os.environ.get("EMOTEBOT_FIXTURES", REPO.parent / "shared" / "fixtures"))
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(what: str) -> None:
    """Skip on a developer's machine, fail in CI: CI installs every tool the tests use."""
    if IN_CI:
        pytest.fail(f"{what} is missing in CI; .ci/run must install it")
    pytest.skip(f"{what} is missing")


@pytest.fixture(scope="session")
def fixtures() -> Path:
    if not FIXTURES.is_dir():
        missing(f"the shared fixtures folder {FIXTURES}")
    return FIXTURES


def require_tool(name: str) -> str:
    """Path of a command-line tool, or skip (fail in CI) when it is not installed."""
    path = shutil.which(name)
    if path is None:
        missing(f"the tool {name!r}")
    return str(path)


@pytest.fixture
def memory_backends():
    pyvirtualcam.register_backend("emotebot-memory", MemoryCamera)
    pyvirtualcam.register_backend("emotebot-broken", BrokenCamera)
    MemoryCamera.received, MemoryCamera.closed = [], 0
    yield
    pyvirtualcam.camera.BACKENDS.pop("emotebot-memory", None)
    pyvirtualcam.camera.BACKENDS.pop("emotebot-broken", None)


