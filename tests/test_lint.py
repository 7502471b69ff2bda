"""House style is checked by CI: ruff (rules and reasons in pyproject.toml) and mypy over the package."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO


def run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *cmd], cwd=REPO, capture_output=True, text=True, timeout=600)


def test_ruff_is_clean():
    proc = run("ruff", "check", "avatar", "tests", "scripts", "benchmarks")
    assert proc.returncode == 0, proc.stdout[-4000:]


def test_mypy_is_clean():
    proc = run("mypy")
    assert proc.returncode == 0, proc.stdout[-4000:]
