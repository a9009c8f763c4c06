"""Thread limits, and stages side by side in threads and in processes."""

import os
import sys
import threading
from functools import partial
from types import SimpleNamespace

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from clustering.errors import UserInputError
from clustering.model import threads
from clustering.model.threads import in_parallel, in_processes, thread_limit, worth_processes


def test_in_parallel_keeps_the_order_of_the_tasks_and_runs_them_on_other_threads(monkeypatch):
    monkeypatch.setattr("clustering.model.threads.os.cpu_count", lambda: 2)
    seen = {}

    def task(name):
        def work():
            seen[name] = threading.current_thread().name
            return np.random.default_rng(len(name)).normal(size=3).sum()

        return work

    names = ["internal", "external", "explain"]
    results = in_parallel({name: task(name) for name in names})
    assert list(results) == names
    assert threading.main_thread().name not in seen.values()
    assert results == {name: task(name)() for name in names}


def test_a_task_that_fails_raises_in_the_caller():
    def broken():
        raise ValueError("column 'sales' is empty")

    try:
        in_parallel({"ok": lambda: 1, "broken": broken})
    except ValueError as error:
        assert "sales" in str(error)
    else:
        raise AssertionError("the task's error was swallowed")


def test_thread_limit_sees_libraries_loaded_after_its_first_use(monkeypatch):
    monkeypatch.setattr(threads, "sys", SimpleNamespace(modules={}))
    empty = threads._controller()
    monkeypatch.setattr(threads, "sys", sys)
    assert threads._controller() is not empty  # imports happened since: scanned again
    assert threads._controller() is threads._controller()
    assert any(pool.user_api == "openmp" for pool in threads._controller().lib_controllers)


def test_thread_limit_limits_and_restores():
    openmp = [pool for pool in threadpool_info() if pool["user_api"] == "openmp"]
    before = [pool["num_threads"] for pool in openmp]
    with thread_limit(1):
        assert all(pool["num_threads"] == 1 for pool in threadpool_info() if pool["user_api"] == "openmp")
    assert [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "openmp"] == before


def _thread_counts() -> list[int]:
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] in ("openmp", "blas")]


def test_in_parallel_limits_its_stages_and_restores_the_limits_after(monkeypatch):
    monkeypatch.setattr("clustering.model.threads.os.cpu_count", lambda: 2)
    with thread_limit(2):  # a known starting point on any machine
        before = _thread_counts()
        gate = threading.Barrier(2)  # both stages run at once, so their limits would interleave

        def stage():
            gate.wait(timeout=10)
            return max(_thread_counts())

        assert in_parallel({"a": stage, "b": stage}) == {"a": 1, "b": 1}
        assert _thread_counts() == before


def test_a_parallel_region_inside_a_stage_runs_its_tasks_one_after_the_other(monkeypatch):
    monkeypatch.setattr("clustering.model.threads.os.cpu_count", lambda: 2)

    def outer():
        inner_threads = in_parallel({"x": lambda: threading.get_ident(), "y": lambda: threading.get_ident()})
        return threading.get_ident(), set(inner_threads.values())

    results = in_parallel({"a": outer, "b": outer})
    for stage_thread, inner in results.values():
        assert inner == {stage_thread}  # no thread beyond the two stages'
    assert in_parallel({"x": threading.get_ident, "y": threading.get_ident})["x"] != threading.get_ident()


def _pid_and_sum(values: list[float]) -> tuple[int, float]:
    return os.getpid(), float(np.sum(values))


def _refuse(column: str) -> None:
    raise UserInputError(f"Column '{column}' is empty: fill it or exclude it.")


def _nested_pids() -> dict[str, int]:
    return in_processes({"a": os.getpid, "b": os.getpid})


def test_in_processes_runs_the_first_task_here_and_the_others_in_a_worker(monkeypatch):
    monkeypatch.setattr("clustering.model.threads.os.cpu_count", lambda: 2)
    tasks = {name: partial(_pid_and_sum, [len(name), 0.5]) for name in ("internal", "external", "explain")}
    results = in_processes(tasks)
    assert list(results) == list(tasks)
    assert [total for _, total in results.values()] == [8.5, 8.5, 7.5]
    pids = [pid for pid, _ in results.values()]
    assert pids[0] == os.getpid()
    assert pids[1] != os.getpid() and pids[2] != os.getpid()


def test_a_refusal_in_a_worker_reaches_the_caller_as_it_was_raised(monkeypatch):
    monkeypatch.setattr("clustering.model.threads.os.cpu_count", lambda: 2)
    with pytest.raises(UserInputError, match="Column 'revenue' is empty: fill it or exclude it"):
        in_processes({"here": partial(_pid_and_sum, [1.0]), "there": partial(_refuse, "revenue")})


def test_in_processes_inside_a_stage_runs_in_that_stage_and_on_one_core(monkeypatch):
    monkeypatch.setattr("clustering.model.threads.os.cpu_count", lambda: 2)
    (here, there) = in_processes({"here": _nested_pids, "there": _nested_pids}).values()
    assert set(here.values()) == {os.getpid()}  # nested: no worker of its own
    assert len(set(there.values())) == 1 and there["a"] != os.getpid()


def test_one_core_runs_the_stages_here(monkeypatch):
    monkeypatch.setattr("clustering.model.threads.os.cpu_count", lambda: 1)
    results = in_processes({"a": os.getpid, "b": os.getpid})
    assert set(results.values()) == {os.getpid()}
    assert not worth_processes(10 * threads.PROCESS_CELLS)


def test_started_workers_have_imported_the_module_asked_for(monkeypatch):
    monkeypatch.setattr("clustering.model.threads.os.cpu_count", lambda: 2)
    threads.stop_workers()  # a fresh worker: an earlier test's may have imported the module already
    threads.start_workers("clustering.pipeline")
    loaded = in_processes({"here": os.getpid, "there": partial(_loaded, "clustering.pipeline")})["there"]
    assert loaded


def _loaded(module: str) -> bool:
    return module in sys.modules


def test_only_large_tables_are_worth_processes(monkeypatch):
    monkeypatch.setattr("clustering.model.threads.os.cpu_count", lambda: 2)
    assert worth_processes(threads.PROCESS_CELLS)
    assert not worth_processes(threads.PROCESS_CELLS - 1)


def test_stopped_workers_end_and_the_next_region_starts_new_ones(monkeypatch):
    monkeypatch.setattr("clustering.model.threads.os.cpu_count", lambda: 2)
    first = in_processes({"here": os.getpid, "there": os.getpid})["there"]
    threads.stop_workers()
    assert threads._pools == []
    with pytest.raises(ProcessLookupError):  # the worker process has ended
        os.kill(first, 0)
    second = in_processes({"here": os.getpid, "there": os.getpid})["there"]
    assert second not in (first, os.getpid())
    threads.stop_workers()
