"""Memory the server gives back: bounded caches, closed sessions released, freed pages returned.

- Stage results and parsed uploads shared across sessions live in a ``BudgetCache``: a
  byte budget (``$CLUSTERING_CACHE_MB``, default 1024), least recently used first out, and a
  value no session holds any more leaves a minute after its last use; values are shared,
  never copied. The app's other caches hold a size budget and a 30-minute time to live.
- Streamlit keeps a closed tab's session for ``server.disconnectedSessionTTL`` seconds so a
  reconnect can resume it, but drops it from its store only when another session arrives;
  ``start_reaper`` checks every ``REAP_SECONDS``, shuts the expired sessions down (their
  session state goes with them), collects garbage and hands freed heap pages back to the
  operating system (glibc's ``malloc_trim``), so an idle server returns to its idle size.
  On a team's server it also drops files uploaded by sessions that have not logged in.
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
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import fields, is_dataclass
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

BUDGET_VARIABLE = "CLUSTERING_CACHE_MB"
DEFAULT_BUDGET_MB = 1024
TTL_SECONDS = 30 * 60  # the smaller caches' time to live
SHARED_IDLE_SECONDS = 60  # a shared result no session holds is dropped this long after its last use
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


class Box:
    """A cached value; a session that uses it holds the box, so the cache can tell (by a weak
    reference) whether anyone still does."""

    __slots__ = ("__weakref__", "value")

    def __init__(self, value: Any) -> None:
        self.value = value


_caches: weakref.WeakSet[BudgetCache] = weakref.WeakSet()


class BudgetCache:
    """Values by key, within a byte budget, each kept for ``ttl_seconds`` after its last use;
    thread-safe. Past that, a value stays reachable only while a session still holds its box
    (it costs nothing then: the session holds it anyway). A value larger than the whole
    budget is computed and returned but not kept."""

    def __init__(self, budget_bytes: int, ttl_seconds: float, clock: Callable[[], float] = time.monotonic):
        self.budget, self.ttl, self.clock = budget_bytes, ttl_seconds, clock
        self._entries: OrderedDict[str, tuple[Box, int, float]] = OrderedDict()
        self._in_use: weakref.WeakValueDictionary[str, Box] = weakref.WeakValueDictionary()
        self._lock = threading.Lock()
        self._computing: dict[str, threading.Lock] = {}
        _caches.add(self)

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
        return self.box(key, compute).value

    def box(self, key: str, compute: Callable[[], Any]) -> Box:
        """The box of ``key``'s value (hold it to keep the value reachable)."""
        found = self._get(key)
        if found is not None:
            return found
        with self._lock:
            computing = self._computing.setdefault(key, threading.Lock())
        with computing:
            found = self._get(key)
            if found is None:
                found = Box(compute())
                self._put(key, found, estimate_bytes(found.value))
        with self._lock:
            self._computing.pop(key, None)
        return found

    def expire(self) -> None:
        """Drop the values whose time is over (the reaper calls this; so does every use)."""
        with self._lock:
            self._expire()

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._in_use.clear()

    def _get(self, key: str) -> Box | None:
        with self._lock:
            self._expire()
            if key in self._entries:
                box, size, _ = self._entries[key]
                self._entries[key] = (box, size, self.clock() + self.ttl)
                self._entries.move_to_end(key)
                return box
            return self._in_use.get(key)

    def _put(self, key: str, box: Box, size: int) -> None:
        with self._lock:
            self._in_use[key] = box
            if size > self.budget:
                return
            self._entries[key] = (box, size, self.clock() + self.ttl)
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
    return BudgetCache(budget_bytes(), SHARED_IDLE_SECONDS)


def shared(key: str, compute: Callable[[], Any]) -> Box:
    """A result shared by every session, by content key, within the budget: stage results
    (one 100k-store stage is hundreds of MB; ``st.cache_resource`` counts entries only) and
    parsed uploads (``st.cache_data`` would pickle a copy of each). Frames are shared, not
    copied: pandas' copy-on-write keeps each session's changes its own. A session keeps the
    box while it uses the value."""
    return _shared_cache().box(key, compute)


def trim_heap() -> None:
    """Collect garbage, then return freed heap pages to the operating system (glibc only) and
    Arrow's pool's unused memory (pandas' text columns live there)."""
    gc.collect()
    arrow = sys.modules.get("pyarrow")
    if arrow is not None:
        arrow.default_memory_pool().release_unused()
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
            from ui.access import forget_anonymous_uploads

            if forget_anonymous_uploads():
                log.info("files uploaded by visitors who had not logged in were dropped")
            for cache in list(_caches):
                cache.expire()
            trim_heap()
        except Exception as error:  # never let the reaper take the server down
            log.warning("reaper: %s", error)


_started = threading.Lock()
_reaper: list[threading.Thread] = []


def allocate_arrow_with_malloc() -> None:
    """Arrow's own allocator (mimalloc) keeps the pages that pandas' text columns free for its
    next allocation: checking a 100 MB upload stacked 1.3x the file of freed pages under its
    peak. The server's Arrow allocates with malloc instead, whose freed pages go back to the
    system (large blocks at once, the rest at ``trim_heap``): that check peaks 0.7x lower."""
    import pyarrow as pa

    if pa.default_memory_pool().backend_name != "system":
        pa.set_memory_pool(pa.system_memory_pool())


def share_uploaded_bytes() -> None:
    """Streamlit hands every widget's value to the page as a deep copy, on every run: for the
    file uploader that copied each uploaded file's bytes, so a 100 MB upload was held twice
    while a page ran (1x more under the parse's peak). The bytes never change: the copy
    shares them, and still reads from its own position."""
    from streamlit.runtime.uploaded_file_manager import UploadedFile, UploadedFileRec

    def copy_sharing_the_bytes(file: UploadedFile, memo: dict) -> UploadedFile:
        record = UploadedFileRec(file.file_id, file.name, file.type, file.getvalue())
        return UploadedFile(record, file._file_urls)

    UploadedFile.__deepcopy__ = copy_sharing_the_bytes


def start_reaper() -> None:
    """Start the background reaper once per server process (and, from then on, allocate
    Arrow's memory with malloc and share uploaded bytes instead of copying them)."""
    with _started:
        if not _reaper:
            allocate_arrow_with_malloc()
            share_uploaded_bytes()
            thread = threading.Thread(target=_reap_forever, name="session-reaper", daemon=True)
            thread.start()
            _reaper.append(thread)
