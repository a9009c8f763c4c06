"""Why one entity sits in its segment: the run's own distances, the runner-up, the features
that pull it there in real units; the same from the session, a tracked model and a workbook."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clustering.assign import fit_segmentation
from clustering.cli import main
from clustering.demo import store_demo
from clustering.errors import UserInputError
from clustering.explain.why import distances_to_every_centre
from clustering.io.export import write_result, write_workbook
from clustering.pipeline import check_sheets, run
from clustering.pipeline.combine import assignment_space
from clustering.pipeline.describe import why_entity, why_in_workbook
from tests.profiles import quick_preset


@pytest.fixture(scope="module")
def sheets() -> dict[str, pd.DataFrame]:
    return store_demo(600, seed=3)


@pytest.fixture(scope="module")
def result(sheets):
    return run(quick_preset("store"), sheets)


@pytest.fixture(scope="module")
def placed(result, sheets):
    space = assignment_space(result.merge, result.prepared)
    final = result.assignments.set_index("store_id")["final_cluster"]
    checked, _ = check_sheets(result.config, sheets)
    return space, final, checked


def test_the_distances_are_the_runs_own_and_the_runner_up_the_nearest_other_centre(result, placed):
    space, final, checked = placed
    assignments = result.assignments.set_index("store_id")
    centres = space.groupby(final.reindex(space.index).astype(str)).mean()
    for store in final.index[::60]:
        why = why_entity(store, space, final, checked, result.config)
        assert why.segment == final[store]
        assert why.distance == pytest.approx(assignments.loc[store, "distance_to_segment"], abs=1e-6)
        assert why.near_boundary == bool(assignments.loc[store, "near_boundary"])
        others = distances_to_every_centre(space.loc[store], centres).drop(index=why.segment)
        assert why.runner_up == others.idxmin() and why.runner_up_distance == pytest.approx(others.min())


def test_the_reasons_pull_toward_its_segment_in_real_units(result, placed):
    space, final, checked = placed
    why = why_entity(final.index[0], space, final, checked, result.config)
    reasons = why.readable("store")
    assert list(reasons.columns) == [
        "feature",
        "this store",
        f"typical of {why.segment}",
        f"typical of {why.runner_up}",
        "share of the pull",
        "pulls toward",
    ]
    assert reasons["share of the pull"].iloc[0] > 0 and reasons["pulls toward"].iloc[0] == why.segment
    assert (
        reasons["share of the pull"].is_monotonic_decreasing
        and reasons["share of the pull"].sum() <= 1 + 1e-9
    )
    shares = pd.concat(
        [
            r[r["feature"].str.endswith("share")]
            for r in (
                why_entity(i, space, final, checked, result.config).readable("store")
                for i in final.index[:20]
            )
        ]
    )
    written = shares["this store"][shares["this store"] != ""]  # a store without the value: blank
    assert not written.empty and written.str.endswith("%").all()  # a share reads as a percentage
    names = result.names.set_index("segment")["label"].to_dict()
    sentence = why.sentence(names, "Store")
    assert sentence.startswith(f"Store {final.index[0]} is in {names[why.segment]} ({why.segment})")
    assert "farther away" in sentence


def test_a_tracked_model_and_a_workbook_explain_as_the_session_does(result, placed, sheets, tmp_path):
    space, final, checked = placed
    store = final.index[123]
    session = why_entity(store, space, final, checked, result.config)
    model = fit_segmentation(result).why(sheets, store)
    path = write_result(result, tmp_path / "result.xlsx")
    workbook, _, names = why_in_workbook(str(path), sheets, f"  {store} ")
    for other in (model, workbook):
        assert (other.segment, other.runner_up) == (session.segment, session.runner_up)
        assert other.distance == pytest.approx(session.distance) and np.allclose(
            other.reasons["pull"], session.reasons["pull"]
        )
    assert names[session.segment] == result.names.set_index("segment").loc[session.segment, "label"]


def test_an_unknown_id_names_ids_like_it(result, placed):
    space, final, checked = placed
    with pytest.raises(UserInputError, match=r"No store with ID 'S00001' in this run\. IDs like it: S000010"):
        why_entity("S00001", space, final, checked, result.config)


def test_the_cli_explains_from_a_workbook_and_refuses_a_missing_one(result, sheets, tmp_path, capsys):
    data = tmp_path / "stores.xlsx"
    write_workbook(sheets, data)
    path = write_result(result, tmp_path / "result.xlsx")
    store = str(result.assignments["store_id"].iloc[5])
    assert main(["why", "--workbook", str(path), "--input", str(data), "--id", store]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Store {store} is in ") and "share of the pull" in out and "%" in out
    assert main(["why", "--workbook", str(tmp_path / "none.xlsx"), "--input", str(data), "--id", store]) == 2
    assert "none.xlsx: no such file" in capsys.readouterr().err
