"""Threads: limits on the BLAS and OpenMP pools of the numeric libraries, and independent
stages run side by side.

``threadpoolctl.threadpool_limits`` scans the process's loaded libraries on every call
(4 ms here); the engine limits threads around every small fit, hundreds of times per run,
so it reuses one controller while no module has been imported since it was built.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from functools import cache
from typing import TypeVar

from threadpoolctl import ThreadpoolController

T = TypeVar("T")


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
    seeded on its own, so the results are the same as one after the other."""
    workers = min(len(tasks), os.cpu_count() or 1)
    if workers < 2:
        return {name: task() for name, task in tasks.items()}

    def single_threaded(task: Callable[[], T]) -> T:
        with thread_limit(1):
            return task()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {name: pool.submit(single_threaded, task) for name, task in tasks.items()}
        return {name: future.result() for name, future in futures.items()}
