"""Thread limits and stages side by side."""

import sys
import threading
from types import SimpleNamespace

import numpy as np
from threadpoolctl import threadpool_info

from clustering.model import threads
from clustering.model.threads import in_parallel, thread_limit


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
