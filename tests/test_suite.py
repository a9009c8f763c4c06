"""The suite's own rules: a process a test leaves running is found (and fails the session,
tests/conftest.py), and temporary files land in the session's folder, removed at its end."""

from __future__ import annotations

import subprocess
import sys
import tempfile

from tests.conftest import TEST_TEMP, leftover_processes


def test_a_process_left_running_is_found_and_one_stopped_is_not():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert child.pid in [p.pid for p in leftover_processes(grace_seconds=0.5)]
    finally:
        child.kill()
        child.wait()
    assert child.pid not in [p.pid for p in leftover_processes(grace_seconds=0.5)]


def test_temporary_files_land_in_the_sessions_folder():
    assert tempfile.gettempdir() == TEST_TEMP
    folder = tempfile.mkdtemp()
    assert folder.startswith(TEST_TEMP)
    made = subprocess.run(
        [sys.executable, "-c", "import tempfile; print(tempfile.mkdtemp())"], capture_output=True, text=True
    )
    assert made.stdout.strip().startswith(TEST_TEMP)  # the processes tests start inherit it
