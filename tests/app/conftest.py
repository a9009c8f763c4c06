"""AppTest fixtures: the real app script, with a workspace prepared up to a given step."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

os.environ.setdefault("XDG_CONFIG_HOME", tempfile.mkdtemp(prefix="xdg-app-"))

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


@pytest.fixture
def app() -> AppTest:
    """A fresh session, with Streamlit's process-wide caches emptied so tests stay independent."""
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    at = new_app().run()
    no_exceptions(at)
    return at


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
