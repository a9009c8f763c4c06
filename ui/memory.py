"""Memory the server gives back: bounded caches, closed sessions released, freed pages returned.

- Stage results shared across sessions live in a ``BudgetCache``: a byte budget
  (``$CLUSTERING_CACHE_MB``, default 1024) and a time to live (30 minutes), least recently
  used first out; the values are shared, never copied.
- Streamlit keeps a closed tab's session for ``server.disconnectedSessionTTL`` seconds so a
  reconnect can resume it, but drops it from its store only when another session arrives;
  ``start_reaper`` checks every ``REAP_SECONDS``, shuts the expired sessions down (their
  session state goes with them), collects garbage and hands freed heap pages back to the
  operating system (glibc's ``malloc_trim``), so an idle server returns to its idle size.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
import logging
import os
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import fields, is_dataclass
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

BUDGET_VARIABLE = "CLUSTERING_CACHE_MB"
DEFAULT_BUDGET_MB = 1024
TTL_SECONDS = 30 * 60
REAP_SECONDS = 15
# st.cache_data settings of the app's smaller caches: a byte budget and a time to live each
BOUNDED = {"ttl": TTL_SECONDS, "max_size": "256MB"}
log = logging.getLogger("clustering.memory")


def estimate_bytes(value: Any, _depth: int = 0) -> int:
    """The memory a value holds, from its frames and arrays (what dominates a stage result)."""
    if _depth > 6:
        return 0
    if isinstance(value, pd.DataFrame | pd.Series | pd.Index):
        usage = value.memory_usage(index=True, deep=False)
        return int(usage.sum() if isinstance(usage, pd.Series) else usage)
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if is_dataclass(value) and not isinstance(value, type):
        return sum(estimate_bytes(getattr(value, f.name), _depth + 1) for f in fields(value))
    if isinstance(value, dict):
        return sum(estimate_bytes(v, _depth + 1) for v in value.values())
    if isinstance(value, list | tuple):
        return sum(estimate_bytes(v, _depth + 1) for v in value)
    return sys.getsizeof(value, 64)


class BudgetCache:
    """Values by key, within a byte budget and a time to live; thread-safe. A value larger than
    the whole budget is computed and returned but not kept."""

    def __init__(self, budget_bytes: int, ttl_seconds: float, clock: Callable[[], float] = time.monotonic):
        self.budget, self.ttl, self.clock = budget_bytes, ttl_seconds, clock
        self._entries: OrderedDict[str, tuple[Any, int, float]] = OrderedDict()
        self._lock = threading.Lock()
        self._computing: dict[str, threading.Lock] = {}

    @property
    def held_bytes(self) -> int:
        with self._lock:
            return sum(size for _, size, _ in self._entries.values())

    def __len__(self) -> int:
        with self._lock:
            self._expire()
            return len(self._entries)

    def get_or_compute(self, key: str, compute: Callable[[], Any]) -> Any:
        """The value of ``key``, computed once even when two sessions ask at the same time."""
        found = self._get(key)
        if found is not None:
            return found[0]
        with self._lock:
            computing = self._computing.setdefault(key, threading.Lock())
        with computing:
            found = self._get(key)
            if found is not None:
                return found[0]
            value = compute()
            self._put(key, value, estimate_bytes(value))
        with self._lock:
            self._computing.pop(key, None)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _get(self, key: str) -> tuple[Any] | None:
        with self._lock:
            self._expire()
            if key not in self._entries:
                return None
            self._entries.move_to_end(key)
            return (self._entries[key][0],)

    def _put(self, key: str, value: Any, size: int) -> None:
        if size > self.budget:
            return
        with self._lock:
            self._entries[key] = (value, size, self.clock() + self.ttl)
            held = sum(s for _, s, _ in self._entries.values())
            while held > self.budget:
                _, (_, evicted, _) = self._entries.popitem(last=False)
                held -= evicted

    def _expire(self) -> None:
        now = self.clock()
        for key in [k for k, (_, _, expires) in self._entries.items() if expires <= now]:
            del self._entries[key]


def budget_bytes(environ: dict[str, str] | os._Environ = os.environ) -> int:
    """The stage cache's budget: $CLUSTERING_CACHE_MB megabytes (default 1024)."""
    try:
        megabytes = float(environ.get(BUDGET_VARIABLE, DEFAULT_BUDGET_MB))
    except ValueError:
        megabytes = DEFAULT_BUDGET_MB
    return int(max(megabytes, 0) * 1024 * 1024)


@st.cache_resource(show_spinner=False)
def _shared_cache() -> BudgetCache:
    """One per server process (``st.cache_resource.clear()`` starts a new one)."""
    return BudgetCache(budget_bytes(), TTL_SECONDS)


def shared(key: str, compute: Callable[[], Any]) -> Any:
    """A result shared by every session, by content key, within the budget: stage results
    (one 100k-store stage is hundreds of MB; ``st.cache_resource`` counts entries only) and
    parsed uploads (``st.cache_data`` would pickle a copy of each). Frames are shared, not
    copied: pandas' copy-on-write keeps each session's changes its own."""
    return _shared_cache().get_or_compute(key, compute)


def trim_heap() -> None:
    """Collect garbage, then return freed heap pages to the operating system (glibc only)."""
    gc.collect()
    name = ctypes.util.find_library("c")
    if name and sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):  # musl and others have no malloc_trim
            ctypes.CDLL(name).malloc_trim(0)


def reap_closed_sessions() -> int:
    """Shut down the sessions Streamlit keeps after their tab closed, once their time to
    resume (``server.disconnectedSessionTTL``) is over; returns how many."""
    from streamlit.runtime import Runtime

    if not Runtime.exists():
        return 0
    storage = getattr(Runtime.instance()._session_mgr, "_session_storage", None)
    cache = getattr(storage, "_cache", None)
    if cache is None or not hasattr(cache, "expire"):
        return 0
    expired = cache.expire()
    for _, info in expired:
        info.session.shutdown()
    return len(expired)


def _reap_forever() -> None:
    while True:
        time.sleep(REAP_SECONDS)
        try:
            if reap_closed_sessions():
                log.info("closed sessions released")
            trim_heap()
        except Exception as error:  # never let the reaper take the server down
            log.warning("reaper: %s", error)


_started = threading.Lock()
_reaper: list[threading.Thread] = []


def start_reaper() -> None:
    """Start the background reaper once per server process."""
    with _started:
        if not _reaper:
            thread = threading.Thread(target=_reap_forever, name="session-reaper", daemon=True)
            thread.start()
            _reaper.append(thread)
