"""Placing entities the run did not segment by rule: a like-entity mapping (weighted), then
the nearest centre, the largest or the most cohesive segment, said per entity; and DFUs with
too short a history placed the same way when asked."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
import yaml

from clustering.assign import fit_segmentation
from clustering.config import LikeEntity, PlacementConfig, config_from_dict
from clustering.demo import dfu_demo, store_demo
from clustering.errors import UserInputError
from clustering.pipeline import run
from clustering.placement import Reference, like_mapping
from tests.profiles import quick_preset


@pytest.fixture(scope="module")
def result():
    return run(quick_preset("store"), store_demo(600, seed=3))


@pytest.fixture(scope="module")
def new_stores() -> dict[str, pd.DataFrame]:
    sheets = store_demo(40, seed=11)
    return {n: f.assign(store_id=f["store_id"].str.replace("S", "N")) for n, f in sheets.items()}


def segment_of(result, store: str) -> str:
    return str(result.assignments.set_index("store_id").loc[store, "final_cluster"])


def test_a_like_mapping_places_by_weight_and_a_store_without_data_is_added(result, new_stores):
    final = result.assignments.set_index("store_id")["final_cluster"]
    a, b = final.index[final != final.iloc[0]][0], final.index[0]  # two stores of different segments
    placement = PlacementConfig(
        like={
            "N000001": [LikeEntity(like=str(b))],
            "OPENING": [
                LikeEntity(like=str(a), weight=3),
                LikeEntity(like=str(b)),
                LikeEntity(like="S999999"),
            ],
        }
    )
    assigned, findings = fit_segmentation(result).assign(new_stores, placement=placement)
    placed = assigned.set_index("store_id")
    assert (
        placed.loc["N000001", "final_cluster"] == final[b]
        and placed.loc["N000001", "placed_by"] == f"like {b}"
    )
    opening = placed.loc["OPENING"]
    assert opening["final_cluster"] == final[a] and opening["placed_by"] == f"like {a} (75%), {b} (25%)"
    assert opening["entity_status"] == "new" and np.isnan(opening["distance_to_segment"])
    assert not opening["far_from_segments"]
    assert (placed.drop(index=["N000001", "OPENING"])["placed_by"] == "nearest centre").all()
    assert any("OPENING: S999999" in f.message for f in findings)  # the unknown like-store is named
    assert len(placed) == 41  # the 40 new stores once each, and the one without data


@pytest.mark.parametrize("rule", ["largest", "cohesive"])
def test_a_rule_places_the_new_stores_and_the_runs_own_keep_their_segments(result, new_stores, rule):
    model = fit_segmentation(result)
    assigned, _ = model.assign(new_stores, placement=PlacementConfig(rule=rule))
    reference = Reference.of(result.assignments.set_index("store_id"))
    expected = reference.by_rule(rule)
    assert set(assigned["final_cluster"]) == {expected}
    assert set(assigned["placed_by"]) == {"largest segment" if rule == "largest" else "most cohesive segment"}
    sizes = result.assignments["final_cluster"].value_counts()
    if rule == "largest":
        assert sizes[expected] == sizes.max()
    else:
        spread = result.assignments.groupby("final_cluster")["distance_to_segment"].mean()
        assert spread[expected] == spread.min()
    own, _ = model.assign(store_demo(600, seed=3), placement=PlacementConfig(rule=rule))
    assert (own["final_cluster"].to_numpy() == result.assignments["final_cluster"].to_numpy()).all()


def test_the_placement_in_the_config_rides_with_the_yaml_and_the_model(result, new_stores):
    config = result.config.model_copy(deep=True)
    config.placement = PlacementConfig(like={"N000003": [LikeEntity(like="S000001")]}, rule="largest")
    again = config_from_dict(yaml.safe_load(config.to_yaml()))
    assert again.placement == config.placement
    model = fit_segmentation(result)
    model.config = again  # what a tracked run of this config keeps
    model = pickle.loads(pickle.dumps(model))
    assigned, _ = model.assign(new_stores)  # no placement given: the config's
    placed = assigned.set_index("store_id")
    assert placed.loc["N000003", "placed_by"] == "like S000001"
    assert set(placed.drop(index="N000003")["placed_by"]) == {"largest segment"}


def test_a_mapping_table_is_read_with_weights_and_a_bad_one_is_named():
    table = pd.DataFrame({"store_id": ["N1", "N1", "N2"], "like": ["S1", "S2", "S3"], "weight": [2, 1, None]})
    with pytest.raises(UserInputError, match=r"like.csv: rows 4 need an ID, a like ID and a weight above 0"):
        like_mapping(table, "store_id", "like.csv")
    mapping = like_mapping(table.iloc[:2], "store_id", "like.csv")
    assert mapping == {"N1": [LikeEntity(like="S1", weight=2.0), LikeEntity(like="S2", weight=1.0)]}
    with pytest.raises(UserInputError, match=r"needs columns 'store_id' \(or 'id'\) and 'like'"):
        like_mapping(table.rename(columns={"like": "twin"}), "store_id", "like.csv")


def test_dfus_with_too_short_a_history_are_placed_when_asked():
    sheets = dfu_demo(1500, 36, 7)
    config = quick_preset("dfu")
    left_out = run(config, sheets)
    config.placement = PlacementConfig(short_history=True, rule="cohesive")
    placed = run(config, sheets).assignments
    short = placed[placed["short_history"]]
    assert len(placed) == 1500 and len(short) == 1500 - len(left_out.assignments) > 0
    assert set(short["placed_by"]) == {"most cohesive segment"} and short["segment_name"].notna().all()
    kept = placed[~placed["short_history"]].set_index("dfu_id")["final_cluster"]
    assert (kept == left_out.assignments.set_index("dfu_id")["final_cluster"]).all()
