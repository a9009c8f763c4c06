"""In DFU mode every page speaks of DFUs: no page says 'store'."""

from __future__ import annotations

import re

from tests.app.conftest import new_app, no_exceptions

PAGES = [
    "pages/home.py",
    "pages/results.py",
    "pages/data.py",
    "pages/prepare.py",
    "pages/cluster.py",
    "pages/profiles.py",
    "pages/export.py",
    "pages/runs.py",
]
STORE = re.compile(r"\bstores?\b", re.IGNORECASE)
# Home's pitch and its two demo buttons describe both modes, whatever is loaded
BOTH_MODES = {
    "Segment stores and demand units, explain the segments, export them.",
    "Start with demo stores",
}


def page_words(at) -> list[str]:
    """Every text a reader sees on the page: titles, text, captions, messages, labels."""
    texts = []
    for kind in (
        "title",
        "header",
        "subheader",
        "markdown",
        "caption",
        "info",
        "warning",
        "success",
        "error",
    ):
        texts += [str(element.value) for element in getattr(at, kind)]
    for kind in ("button", "checkbox", "toggle", "radio", "selectbox", "multiselect", "number_input",
                 "slider", "text_input", "download_button", "metric", "expander", "page_link"):  # fmt: skip
        texts += [str(getattr(element, "label", "")) for element in at.get(kind)]
        texts += [str(getattr(element.proto, "help", "")) for element in at.get(kind)]
    return texts


def test_no_page_says_store_in_dfu_mode(stage_cache, monkeypatch, store):
    from clustering import tracking
    from ui import memory
    from ui.state import run_result, track

    monkeypatch.setattr(memory, "_shared_cache", lambda: stage_cache)
    monkeypatch.setenv("CLUSTERING_DEMO", "dfu")  # the server starts on the demo DFUs, segmented
    at = new_app().run()
    no_exceptions(at)
    ws = at.session_state["ws"]
    while len(tracking.list_runs(store)) < 2:  # two DFU runs, so the Runs page compares them
        ws.tracked.clear()
        track(ws, run_result(ws))
    said = {}
    for page in PAGES:
        at.switch_page(page).run()
        no_exceptions(at)
        if page == "pages/runs.py":  # the comparison of two DFU runs is on the page
            assert "DFUs that moved" in [m.label for m in at.metric]
        found = [
            text
            for text in page_words(at)
            if STORE.search(re.sub(r"`[^`]*`", "", text))  # code (a command, a URL) is not prose
            and text not in BOTH_MODES
            and not text.startswith("1. **Load** store performance")
        ]
        if found:
            said[page] = found
    assert not said, said
