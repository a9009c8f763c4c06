"""Threads and processes: limits on the BLAS and OpenMP pools of the numeric libraries, and
independent stages run side by side, in threads (``in_parallel``) or, when they are large
and mostly Python, in worker processes (``in_processes``).

``threadpoolctl.threadpool_limits`` scans the process's loaded libraries on every call;
the engine limits threads around every small fit, hundreds of times per run,
so it reuses one controller while no module has been imported since it was built.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from functools import cache
from typing import TypeVar

from threadpoolctl import ThreadpoolController

T = TypeVar("T")
_stage = threading.local()  # ``inside`` is set in the threads of a parallel region
PROCESS_CELLS = 1_000_000  # stages of tables with more cells (rows x columns) run in processes
IDLE_WORKER_SECONDS = 300  # an idle worker process ends after this, and its memory is returned
_pools: list[Executor] = []  # the pool of worker processes, once one was started


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

    # OpenBLAS's limit is process-wide: set here first, the workers' limits find it at one
    # thread and put it back at one, and only this one restores it; else their interleaved
    # restores could leave the process at one thread for good.
    with thread_limit(1), ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {name: pool.submit(_one_stage, task) for name, task in tasks.items()}
        return {name: future.result() for name, future in futures.items()}


def worth_processes(cells: int) -> bool:
    """Whether stages over tables of ``cells`` cells gain from worker processes: below
    ``PROCESS_CELLS`` a stage takes well under a second, less than sending it to a worker."""
    return cells >= PROCESS_CELLS and (os.cpu_count() or 1) > 1


def in_processes(tasks: dict[str, Callable[[], T]]) -> dict[str, T]:
    """Run independent stages side by side: the first in this process, the others in worker
    processes, each stage on one BLAS/OpenMP thread, results in the order of ``tasks`` (the
    same as one after the other: every stage is seeded on its own).

    Threads share one interpreter lock, and the engine's stages are mostly Python between
    small numpy calls: two datasets' k sweeps side by side in threads took as long as one
    after the other, and about two thirds of that in two processes (docs/benchmarks.md). The
    workers are kept for the next run (their start, imports included, takes seconds: ``start_workers``
    overlaps it with reading the input) and end after ``IDLE_WORKER_SECONDS`` without work.
    Tasks sent to a worker and their results must pickle: functions of a module and data."""
    names = list(tasks)
    workers = min(len(tasks) - 1, _spare_cores())
    if workers < 1 or getattr(_stage, "inside", False):
        return in_parallel(tasks)
    executor = _workers(workers)
    futures = {name: executor.submit(_one_stage, tasks[name]) for name in names[1:]}
    done = {names[0]: _one_stage(tasks[names[0]])}
    done |= {name: future.result() for name, future in futures.items()}
    return {name: done[name] for name in names}


def start_workers(module: str) -> None:
    """Start the worker processes of ``in_processes`` now, without waiting, each importing
    ``module`` (the stages it will run): their start and imports then overlap with whatever
    this process does next."""
    workers = _spare_cores()
    if workers >= 1:
        executor = _workers(workers)
        for _ in range(workers):
            executor.submit(importlib.import_module, module)


def stop_workers() -> None:
    """End the worker processes now, if any were started: a process about to exit calls it
    (an exit without it leaves their semaphores to the system's clean-up, with a warning)."""
    for executor in _pools:
        executor.shutdown(wait=True, kill_workers=True)
    _pools.clear()


def _spare_cores() -> int:
    """Cores beside this process's own: the most worker processes worth having."""
    return (os.cpu_count() or 1) - 1


def _workers(count: int) -> Executor:
    """The reusable pool of ``count`` worker processes (started anew after it went idle).
    Loky is imported here: reading a file uses this module, and needs no process pool."""
    from joblib.externals.loky import get_reusable_executor

    executor = get_reusable_executor(max_workers=count, timeout=IDLE_WORKER_SECONDS)
    _pools[:] = [executor]
    return executor


def _one_stage(task: Callable[[], T]) -> T:
    """Run ``task`` as a stage of a parallel region: one BLAS/OpenMP thread, nothing nested."""
    _stage.inside = True
    try:
        with thread_limit(1):  # OpenMP's limit belongs to the thread that sets it
            return task()
    finally:
        _stage.inside = False
