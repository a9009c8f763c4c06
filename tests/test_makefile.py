"""make's targets after make test: the environment it installed is used as it is, with no
second install (which would fail offline)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The Makefile and pyproject.toml beside a stand-in .venv whose python logs its arguments."""
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    python = bin_dir / "python"
    python.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path / "calls.log"}\n')
    python.chmod(0o755)
    return tmp_path


def make(project: Path, *args: str) -> str:
    subprocess.run(["make", "-s", *args], cwd=project, check=True, capture_output=True, text=True)
    log = project / "calls.log"
    return log.read_text() if log.exists() else ""


@pytest.mark.parametrize("extras", ["", "api", "orchestration", "auth", "tracking"])
def test_after_make_test_no_target_installs_again(project, extras):
    (project / ".venv" / ".test-stamp").touch()
    os.utime(project / ".venv" / ".test-stamp", (time.time() + 5, time.time() + 5))
    calls = make(project, "install", f"EXTRAS={extras}")
    assert "pip install" not in calls


def test_without_make_tests_environment_the_core_is_installed(project):
    calls = make(project, "install")
    assert "-m pip install --quiet -e ." in calls
