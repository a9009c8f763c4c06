"""Tracking in a process of its own, beside the run: the CLI starts it before it reads its
input, so MLflow's imports, its map of installed packages and the store's opening (seconds
of Python that holds the GIL) run on the other core while the read and the engine
run; the finished run's record (``log.RunRecord``: texts, numbers, file paths) is then sent
to it, pickled, on its standard input, and it answers with the tracked run's ID as one line
of JSON on its standard output. A failure is an answer too (``error``), never a lost run:
the results are written before the record is sent.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

from clustering.tracking.log import RunRecord, TrackedRun, log_record
from clustering.tracking.store import prepare

PACKAGE_ROOT = Path(__file__).resolve().parents[2]
NICENESS = 10  # the tracking process yields the cores to the engine's


class TrackingFailed(RuntimeError):
    """The tracking process could not log the run; the message says why."""


class TrackingProcess:
    """A started tracking process for the store ``uri``, waiting for its run's record."""

    def __init__(self, uri: str) -> None:
        paths = [str(PACKAGE_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "clustering.tracking.worker", uri],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(paths)},
        )

    def log(self, record: RunRecord, timeout: float = 900) -> TrackedRun:
        """Send the record, wait for the tracked run (``TrackingFailed`` with the reason)."""
        out, err = self.process.communicate(pickle.dumps(record), timeout=timeout)
        answers = [line for line in out.decode(errors="replace").splitlines() if line.startswith("{")]
        if not answers:
            lines = err.decode(errors="replace").strip().splitlines()
            raise TrackingFailed(lines[-1] if lines else f"exit code {self.process.returncode}")
        answer = json.loads(answers[-1])
        if "error" in answer:
            raise TrackingFailed(answer["error"])
        return TrackedRun(answer["run_id"], answer["uri"])

    def cancel(self) -> None:
        """Stop the process when no run is coming (the run failed)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate()


def serve(uri: str) -> int:
    """The process's side: prepare while the caller works, then log the record it sends. At a
    lower priority: the engine's own processes come first, this takes the cores they leave."""
    with contextlib.suppress(OSError):
        os.nice(NICENESS)
    with contextlib.suppress(Exception):  # log_record does it again and says what failed
        prepare(uri)
    try:
        record = pickle.load(sys.stdin.buffer)
    except EOFError:  # the caller stopped without a run to log
        return 0
    try:
        tracked = log_record(record)
        answer = {"run_id": tracked.run_id, "uri": tracked.uri}
    except Exception as error:
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:300]
        answer = {"error": f"{type(error).__name__}: {reason}"}
    print(json.dumps(answer), flush=True)
    return 0


if __name__ == "__main__":
    code = serve(sys.argv[1])
    sys.stdout.flush()
    os._exit(code)  # no teardown of MLflow's thousand modules
