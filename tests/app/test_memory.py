"""The server's memory: a byte budget and a time to live on shared results, computed once."""

from __future__ import annotations

import threading
import time

import numpy as np
import pandas as pd

from ui.memory import (
    BudgetCache,
    allocate_arrow_with_malloc,
    budget_bytes,
    estimate_bytes,
    share_uploaded_bytes,
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def frame(megabytes: int) -> pd.DataFrame:
    return pd.DataFrame({"x": np.zeros(megabytes * 1024 * 1024 // 8)})


def test_sizes_come_from_frames_and_arrays_inside_results():
    inner = {"a": frame(2), "b": [np.zeros(1024 * 1024 // 8), "text"]}
    assert 3 * 1024 * 1024 <= estimate_bytes(inner) < 3.1 * 1024 * 1024


def test_the_least_recently_used_leave_first_when_the_budget_is_full():
    cache = BudgetCache(5 * 1024 * 1024, 60)
    for key in ("a", "b"):
        cache.get_or_compute(key, lambda: frame(2))
    cache.get_or_compute("a", lambda: None)  # a is used again: b is now the oldest
    cache.get_or_compute("c", lambda: frame(2))
    assert len(cache) == 2 and cache.held_bytes <= 5 * 1024 * 1024
    recomputed = []
    cache.get_or_compute("a", lambda: recomputed.append("a"))
    cache.get_or_compute("b", lambda: recomputed.append("b") or frame(1))
    assert recomputed == ["b"]


def test_a_value_larger_than_the_budget_is_returned_but_not_kept():
    cache = BudgetCache(1024 * 1024, 60)
    big = cache.get_or_compute("big", lambda: frame(2))
    assert len(big) and len(cache) == 0


def test_entries_expire_after_their_time_to_live():
    clock = Clock()
    cache = BudgetCache(10 * 1024 * 1024, 30, clock)
    cache.get_or_compute("a", lambda: frame(1))
    clock.now = 29
    assert len(cache) == 1
    clock.now = 31
    assert len(cache) == 0


def test_two_sessions_asking_at_once_compute_once():
    cache = BudgetCache(10 * 1024 * 1024, 60)
    calls = []

    def slow():
        calls.append(1)
        time.sleep(0.2)
        return frame(1)

    threads = [threading.Thread(target=cache.get_or_compute, args=("k", slow)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1


def test_the_budget_is_read_from_the_environment():
    assert budget_bytes({"CLUSTERING_CACHE_MB": "64"}) == 64 * 1024 * 1024
    assert budget_bytes({}) == 1024 * 1024 * 1024
    assert budget_bytes({"CLUSTERING_CACHE_MB": "lots"}) == 1024 * 1024 * 1024


def test_a_value_a_session_holds_outlives_its_time_but_an_unheld_one_leaves():
    clock = Clock()
    cache = BudgetCache(10 * 1024 * 1024, 60, clock)
    held = cache.box("held", lambda: frame(1))  # a session keeps this box in its workspace
    cache.box("dropped", lambda: frame(1))
    clock.now = 30
    cache.box("held", lambda: None)  # used again: its minute starts over
    clock.now = 61
    cache.expire()
    assert len(cache) == 1 and cache.held_bytes <= 1.1 * 1024 * 1024  # only 'held' is still kept
    clock.now = 200
    cache.expire()
    assert len(cache) == 0  # past its time: the cache no longer keeps it ...
    computed = []
    assert cache.box("held", lambda: computed.append(1)) is held  # ... but the session still has it
    cache.box("dropped", lambda: computed.append(2))
    assert computed == [2]


def test_a_widgets_copy_of_an_upload_shares_its_bytes_and_reads_on_its_own():
    import copy

    from streamlit.proto.Common_pb2 import FileURLs
    from streamlit.runtime.uploaded_file_manager import UploadedFile, UploadedFileRec

    data = b"store_id,sales\nS1,10\n" * 1000
    original = UploadedFile(UploadedFileRec("f1", "stores.csv", "text/csv", data), FileURLs())
    share_uploaded_bytes()
    copied = copy.deepcopy([original])[0]  # what Streamlit hands a page on every run
    assert copied is not original and copied.getvalue() is data  # no second copy of the bytes
    assert (copied.file_id, copied.name, copied.type, copied.size) == (
        "f1",
        "stores.csv",
        "text/csv",
        len(data),
    )
    assert copied.read(8) == b"store_id" and original.read(3) == b"sto"  # each reads from its own place


def test_the_servers_arrow_allocates_with_malloc():
    import pyarrow as pa

    allocate_arrow_with_malloc()
    assert pa.default_memory_pool().backend_name == "system"


ARENAS_PROBE = """
import ctypes, ctypes.util, threading, time
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.malloc.restype = ctypes.c_void_p
held, ready, done = [], threading.Barrier(9), threading.Event()
def allocate():
    ready.wait()  # eight threads allocating at once, as sessions' script threads do
    held.append([libc.malloc(1000) for _ in range(1000)])
    done.wait()
threads = [threading.Thread(target=allocate) for _ in range(8)]
for thread in threads:
    thread.start()
ready.wait()
time.sleep(0.5)
libc.malloc_stats()  # one 'Arena n:' line per arena, on stderr
done.set()
"""


def test_the_servers_environment_keeps_malloc_to_two_arenas_however_many_threads_allocate(monkeypatch):
    import os
    import subprocess
    import sys

    from ui.serving import MALLOC_ARENAS, server_environment

    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)

    def arenas(environ: dict[str, str]) -> int:
        run = subprocess.run(
            [sys.executable, "-c", ARENAS_PROBE], env=environ, capture_output=True, text=True
        )
        return sum(line.startswith("Arena ") for line in run.stderr.splitlines())

    assert arenas(dict(os.environ)) > int(MALLOC_ARENAS)  # glibc's default: an arena per thread
    assert server_environment()["MALLOC_ARENA_MAX"] == MALLOC_ARENAS
    assert arenas(server_environment()) == int(MALLOC_ARENAS)
    assert server_environment({"MALLOC_ARENA_MAX": "4"})["MALLOC_ARENA_MAX"] == "4"  # the host's choice stays


def test_make_run_starts_streamlit_with_two_malloc_arenas(monkeypatch):
    from ui import serving

    started = {}
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    monkeypatch.setattr(serving.os, "execve", lambda path, args, env: started.update(args=args, env=env))
    assert serving.main(["--port", "8599"]) == 0
    assert started["args"][1:4] == ["-m", "streamlit", "run"] and started["env"]["MALLOC_ARENA_MAX"] == "2"
