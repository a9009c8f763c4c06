"""Threads: limits on the BLAS and OpenMP pools of the numeric libraries, and independent
stages run side by side.

``threadpoolctl.threadpool_limits`` scans the process's loaded libraries on every call
(4 ms here); the engine limits threads around every small fit, hundreds of times per run,
so it reuses one controller while no module has been imported since it was built.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from functools import cache
from typing import TypeVar

from threadpoolctl import ThreadpoolController

T = TypeVar("T")
_stage = threading.local()  # ``inside`` is set in the threads of a parallel region


@cache
def _controller_for(modules: int) -> ThreadpoolController:
    return ThreadpoolController()


def _controller() -> ThreadpoolController:
    """A controller of the thread pools loaded so far: rebuilt when modules were imported
    since (an import can load another BLAS or OpenMP library), else reused."""
    return _controller_for(len(sys.modules))


def thread_limit(threads: int | None) -> AbstractContextManager:
    """Context in which the numeric libraries use at most ``threads`` threads (None: no limit)."""
    if threads is None:
        return nullcontext()
    return _controller().limit(limits=threads)


def in_parallel(tasks: dict[str, Callable[[], T]]) -> dict[str, T]:
    """Run independent stages side by side, one thread each (numpy, scikit-learn and numba
    release the GIL), each limited to one BLAS/OpenMP thread so that the stages share the
    cores instead of fighting over them. Results keep the order of ``tasks``; every stage is
    seeded on its own, so the results are the same as one after the other. Inside a stage
    that already runs in parallel, the tasks run one after the other: the cores are taken."""
    workers = min(len(tasks), os.cpu_count() or 1)
    if workers < 2 or getattr(_stage, "inside", False):
        return {name: task() for name, task in tasks.items()}

    def stage(task: Callable[[], T]) -> T:
        _stage.inside = True
        try:
            with thread_limit(1):  # OpenMP's limit belongs to the thread that sets it
                return task()
        finally:
            _stage.inside = False

    # OpenBLAS's limit is process-wide: set here first, the workers' limits find it at one
    # thread and put it back at one, and only this one restores it; else their interleaved
    # restores could leave the process at one thread for good.
    with thread_limit(1), ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {name: pool.submit(stage, task) for name, task in tasks.items()}
        return {name: future.result() for name, future in futures.items()}
