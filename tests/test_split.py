"""Splitting one segment further: its members clustered again on their own, the rest
untouched, codes extended, recorded in the config so the run, its YAML and its model
reproduce it."""

from __future__ import annotations

import pickle

import pandas as pd
import pytest
import yaml

from clustering.assign import fit_segmentation
from clustering.cli import main
from clustering.config import SegmentSplit, config_from_dict
from clustering.demo import store_demo
from clustering.errors import UserInputError
from clustering.io.export import write_workbook
from clustering.pipeline import run
from clustering.pipeline.combine import assignment_space
from clustering.pipeline.split import split_segments
from tests.profiles import quick_preset


@pytest.fixture(scope="module")
def sheets() -> dict[str, pd.DataFrame]:
    return store_demo(800, seed=3)


@pytest.fixture(scope="module")
def plain(sheets):
    return run(quick_preset("store"), sheets)


@pytest.fixture(scope="module")
def largest(plain) -> str:
    return str(plain.assignments["final_cluster"].value_counts().index[0])


@pytest.fixture(scope="module")
def split(sheets, largest):
    config = quick_preset("store")
    config.splits = {largest: SegmentSplit(k=2)}
    return run(config, sheets)


def test_the_split_segments_members_get_extended_codes_and_the_rest_is_untouched(plain, split, largest):
    before = plain.assignments.set_index("store_id")["final_cluster"]
    after = split.assignments.set_index("store_id")["final_cluster"]
    members = before.index[before == largest]
    assert set(after[members]) == {f"{largest}.1", f"{largest}.2"}  # k = 2, as asked
    assert (after.drop(members) == before.drop(members)).all()
    assert len(after) == len(before)  # no store dropped or duplicated
    names = split.names.set_index("segment")["label"]
    assert names[f"{largest}.1"] != names[f"{largest}.2"]  # each sub-segment named, apart
    said = [f.message for f in split.findings if f.source == "splits"]
    assert said and said[0].startswith(f"{largest} split into 2: ") and "Within it:" in said[0]
    own = split.stability[split.stability["dataset"] == f"split of {largest}"]
    assert set(own["segment"]) == {f"{largest}.1", f"{largest}.2"}


def test_the_split_reproduces_from_its_yaml_from_the_cli_and_in_its_model(split, sheets, tmp_path, capsys):
    text = split.config.to_yaml()
    again = config_from_dict(yaml.safe_load(text))
    assert again.splits == split.config.splits
    data, config, result = tmp_path / "stores.xlsx", tmp_path / "run.yml", tmp_path / "result.xlsx"
    write_workbook(sheets, data)
    config.write_text(text)
    assert (
        main(["run", "--config", str(config), "--input", str(data), "--output", str(result), "--no-track"])
        == 0
    )
    from_cli = pd.read_excel(result, sheet_name="assignments", engine="calamine").set_index("store_id")
    expected = split.assignments.set_index("store_id")["final_cluster"]
    assert (from_cli["final_cluster"].reindex(expected.index) == expected).all()
    model = pickle.loads(pickle.dumps(fit_segmentation(split)))  # as a tracked run keeps it
    assigned, _ = model.assign(sheets)
    assert (assigned.set_index("store_id")["final_cluster"].reindex(expected.index) == expected).all()


def test_a_split_of_a_segment_the_run_does_not_have_or_too_small_is_refused(sheets, plain):
    config = quick_preset("store")
    config.splits = {"I9-E9": SegmentSplit()}
    with pytest.raises(UserInputError, match=r"splits: segment 'I9-E9' is not a segment of this run"):
        run(config, sheets)
    assignments = plain.assignments.set_index("store_id")
    assignments.loc[assignments.index[:5], "final_cluster"] = "X1"  # a segment of five stores
    space = assignment_space(plain.merge, plain.prepared)
    config.splits = {"X1": SegmentSplit()}
    with pytest.raises(UserInputError, match=r"segment 'X1' has 5 stores: too few to split \(at least 10\)"):
        split_segments(assignments, lambda: space, plain.prepared, config)
