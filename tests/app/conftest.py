"""AppTest fixtures: the real app script, with a workspace prepared up to a given step."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ui import memory

APP = str(Path(__file__).resolve().parents[2] / "app.py")
TIMEOUT = 180


def new_app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=TIMEOUT)


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def no_exceptions(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]


def button(at: AppTest, label: str):
    matches = [b for b in at.button if b.label == label]
    assert matches, f"no button {label!r}; buttons: {[b.label for b in at.button]}"
    return matches[0]


@pytest.fixture(scope="session")
def stage_cache() -> memory.BudgetCache:
    """The stage results every test's sessions share, by content key, as a server's sessions do:
    the demo's stages are computed once for the whole test session, not once per test."""
    return memory.BudgetCache(memory.budget_bytes(), ttl_seconds=3600)


def fresh_session() -> AppTest:
    """A new session, with Streamlit's process-wide caches emptied so tests stay independent."""
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    at = new_app().run()
    no_exceptions(at)
    return at


@pytest.fixture
def app(stage_cache: memory.BudgetCache, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    """A fresh session whose stage results come from the test session's shared cache."""
    monkeypatch.setattr(memory, "_shared_cache", lambda: stage_cache)
    return fresh_session()


@pytest.fixture
def cold_app() -> AppTest:
    """A fresh session with an empty stage cache: for tests that count what is computed."""
    return fresh_session()


def load_demo_stores(at: AppTest, stores: int = 600) -> AppTest:
    """Generate demo stores through the Data page, as an analyst would."""
    at.switch_page("pages/data.py").run()
    at.radio(key="data_source").set_value("Demo data").run()
    at.number_input[0].set_value(stores).run()
    button(at, "Generate demo data").click().run()
    no_exceptions(at)
    return at


def run_to(at: AppTest, step: str) -> AppTest:
    """Drive the pages up to ``step`` (prepared, clustered, merged) on the loaded data."""
    at.switch_page("pages/prepare.py").run()
    for label in [b.label for b in at.button if b.label.startswith("Prepare ")]:
        button(at, label).click().run()
    if step == "prepared":
        return at
    at.switch_page("pages/cluster.py").run()
    for label in [b.label for b in at.button if b.label.startswith("Run clustering")]:
        button(at, label).click().run()
    if step == "clustered":
        return at
    at.switch_page("pages/merge.py").run()
    if any(b.label == "Merge" for b in at.button):
        button(at, "Merge").click().run()
    no_exceptions(at)
    return at


def workspace(at: AppTest):
    """The session's workspace (ui.state.Workspace)."""
    return at.session_state["ws"]
