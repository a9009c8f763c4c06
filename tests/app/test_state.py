"""The session's stages (ui/state.py): an analyst's segment names follow their stores when the
segments are recomputed, whichever page asks first for the names."""

from __future__ import annotations

import pytest

from tests.profiles import quick_preset
from ui.state import Workspace, explained, run_all, run_result


@pytest.mark.parametrize("first", [explained, run_result], ids=["Profiles", "Results"])
def test_analyst_names_follow_their_stores_after_a_recluster(demo_sheets, first):
    ws = Workspace()
    ws.load(demo_sheets, {}, "store", quick_preset("store"))
    before = run_all(ws).assignments.set_index("store_id")["final_cluster"]
    flagship = before.value_counts().index[0]
    ws.config.labels.overrides = {flagship: "Flagships"}
    assert "Flagships" in set(explained(ws).names["label"])
    ws.config.datasets["external"].cluster.k = 3  # the segments change: new codes
    first(ws)  # the page that asks first, without the Merge page run in between
    names = explained(ws).names.set_index("segment")["label"]
    after = run_result(ws).assignments.set_index("store_id")["final_cluster"]
    carried = names[names == "Flagships"].index
    assert len(carried) == 1, names
    members = before[before == flagship].index
    assert (after[members] == carried[0]).mean() > 0.5  # the name went where most of its stores went
