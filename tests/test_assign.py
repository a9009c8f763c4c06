"""distance_to_segment has one definition (to the centre of the entity's final segment, in
the space the segments were assigned in), the same number in the run, in ``assign`` and in
the DFU framework's files; ``assign`` gives the merge's coverage and reassigned columns too."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from clustering.assign import fit_segmentation
from clustering.demo import dfu_demo, store_demo
from clustering.io.outputs import ASSIGNMENTS, write_all
from clustering.pipeline import run
from tests.profiles import quick_preset


def test_the_run_measures_every_store_from_its_own_segment_centre(demo_result):
    assignments = demo_result.assignments.set_index("store_id")
    space = pd.DataFrame(demo_result.merge.space, index=demo_result.merge.assignments.index)
    for segment, members in assignments.groupby("final_cluster"):
        points = space.loc[members.index]
        centre = points.mean()  # over the columns each store has: NaN skipped
        expected = np.sqrt(((points - centre).fillna(0.0) ** 2).sum(axis=1))
        np.testing.assert_allclose(members["distance_to_segment"], expected, atol=1e-6, err_msg=segment)
    kept = assignments[~assignments["reassigned"]]
    assert (kept["distance_to_segment"] > 0).all()  # not 0 for the stores the merge left in place


def test_assign_gives_the_run_its_own_distances_coverage_and_reassigned_flags(demo_result, demo_sheets):
    segmentation = fit_segmentation(demo_result)
    assigned, _ = segmentation.assign({k: v for k, v in demo_sheets.items() if k != "truth"})
    got = assigned.set_index("store_id").sort_index()
    ran = demo_result.assignments.set_index("store_id").sort_index()
    for column in ("final_cluster", "coverage", "reassigned"):
        assert got[column].astype(str).tolist() == ran[column].astype(str).tolist(), column
    np.testing.assert_allclose(got["distance_to_segment"], ran["distance_to_segment"], atol=1e-5)


@pytest.fixture(scope="module")
def dfu_run():
    config = quick_preset("dfu")
    config.stability.enabled = False
    return run(config, dfu_demo(800, 36, seed=3))


def test_the_dfu_files_and_assign_carry_the_runs_distance(dfu_run, tmp_path):
    write_all(dfu_run, tmp_path)
    written = pd.read_csv(tmp_path / ASSIGNMENTS, dtype={"dfu_id": str}).set_index("dfu_id").sort_index()
    ran = dfu_run.assignments.set_index("dfu_id").sort_index()
    assert "distance_to_segment" in written.columns
    np.testing.assert_allclose(written["distance_to_segment"], ran["distance_to_segment"], atol=1e-6)
    assert (ran["distance_to_segment"] > 0).all()

    sheets = {name: frame for name, frame in dfu_demo(800, 36, seed=3).items() if name != "truth"}
    assigned, _ = fit_segmentation(dfu_run).assign(sheets)
    got = assigned.set_index("dfu_id").loc[ran.index]
    np.testing.assert_allclose(got["distance_to_segment"], ran["distance_to_segment"], atol=1e-5)


def renumbered_new_stores(seed: int) -> dict:
    """Another demo file: new stores, numbered S000001... like the training ones."""
    return {k: v for k, v in store_demo(300, seed).items() if k != "truth"}


def test_overrides_follow_the_same_entity_not_a_new_store_with_the_same_id(demo_result, demo_sheets):
    trained = {k: v for k, v in demo_sheets.items() if k != "truth"}
    ids = demo_result.assignments["store_id"].head(3).tolist()
    finals = demo_result.assignments.set_index("store_id")["final_cluster"]
    other = sorted(set(finals) - set(finals[ids]))[0]
    config = demo_result.config.model_copy(update={"overrides": dict.fromkeys(ids, other)}, deep=True)
    segmentation = fit_segmentation(replace(demo_result, config=config))

    same, findings = segmentation.assign(trained)
    same = same.set_index("store_id")
    assert (same.loc[ids, "final_cluster"] == other).all() and same.loc[ids, "override"].all()
    assert set(same["entity_status"]) == {"trained"}
    assert not [f for f in findings if f.source == "assign"]

    newcomers = renumbered_new_stores(seed=99)
    assert set(ids) <= set(newcomers["internal"]["store_id"])  # the same IDs, other stores
    assigned, findings = segmentation.assign(newcomers)
    assigned = assigned.set_index("store_id")
    assert not assigned.loc[ids, "override"].any()
    assert (assigned.loc[ids, "entity_status"] == "changed").all()
    warning = next(f.message for f in findings if f.source == "assign")
    assert "have an ID of the training run but different data" in warning
    assert "The run's override of 3 of them was not applied" in warning

    as_same, _ = segmentation.assign(newcomers, same_entities=True)
    assert (as_same.set_index("store_id").loc[ids, "final_cluster"] == other).all()
