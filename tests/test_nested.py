"""Nested segmentation (``group_by``): segments within each value of a grouping column, k
chosen per group, names that carry the group, a small group as one segment, and the merge,
stability, workbook, assign and the YAML config working on the nested result."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs

from clustering.assign import fit_segmentation
from clustering.config import config_from_dict, config_from_yaml
from clustering.demo import store_demo
from clustering.errors import UserInputError
from clustering.io.export import result_sheets
from clustering.pipeline import run
from tests.profiles import quick_preset


def formats_table() -> pd.DataFrame:
    """Hypermarkets in three planted groups, supermarkets in two, and eight minis."""
    parts = []
    for group, centres, rows, seed in (("hyper", 3, 300, 0), ("super", 2, 300, 1), ("mini", 1, 8, 2)):
        X, _ = make_blobs(rows, 3, centers=centres, cluster_std=0.6, center_box=(-8, 8), random_state=seed)
        frame = pd.DataFrame(X + (20 if group == "hyper" else 0), columns=["sales", "margin", "space"])
        frame["format"] = group
        parts.append(frame)
    table = pd.concat(parts, ignore_index=True)
    table.insert(0, "store_id", [f"S{i:04d}" for i in range(len(table))])
    return table


def nested_config(**dataset: object):
    return config_from_dict(
        {
            "id_column": "store_id",
            "datasets": {"stores": {"group_by": "format", **dataset}},
            "merge": {"enabled": False},
            "labels": {"pattern": "features"},
            "stability": {"resamples": 5},
        }
    )


@pytest.fixture(scope="module")
def nested_run():
    return run(nested_config(), {"stores": formats_table()})


def test_each_group_gets_its_own_k_and_a_small_group_is_one_segment(nested_run):
    clustered = nested_run.clustered["stores"]
    groups = clustered.group_table.set_index("group")
    assert groups.loc["hyper", "k"] == 3 and groups.loc["super", "k"] == 2
    assert groups.loc["mini", "k"] == 1 and groups.loc["mini", "rule"].startswith("one segment")
    assert any("mini: fewer rows than twice the minimum segment size" in n for n in clustered.notes)
    assert clustered.k == 6 and clustered.labels.nunique() == 6
    table = formats_table().set_index("store_id")
    per_segment = table["format"].groupby(clustered.labels.reindex(table.index)).nunique()
    assert (per_segment == 1).all()  # no segment spans two groups


def test_names_carry_the_group_and_stay_unique(nested_run):
    names = nested_run.names.set_index("segment")["label"]
    assignments = nested_run.assignments.set_index("store_id")
    table = formats_table().set_index("store_id")
    for segment, label in names.items():
        group = table.loc[assignments.index[assignments["final_cluster"] == segment], "format"].iloc[0]
        assert label.startswith(f"{group.capitalize()} · "), label
    assert names.is_unique


def test_stability_k_sweeps_and_scenarios_cover_every_group(nested_run):
    assert set(nested_run.stability["segment"]) == set(nested_run.clustered["stores"].labels)
    assert nested_run.stability["stable"].all()  # well-separated planted groups come back
    sheets = result_sheets(nested_run)
    assert set(sheets["k_selection"]["group"]) == {"hyper", "super"}  # mini had no sweep
    scenarios = sheets["k_scenarios"]
    assert set(scenarios["group"]) == {"hyper", "super"}
    recommended = scenarios[scenarios["recommended"]].set_index("group")["k"]
    assert recommended.to_dict() == {"hyper": 3, "super": 2}
    quality = sheets["quality"]
    assert set(quality["group"]) == {"hyper", "super"} and set(quality["verdict"]) == {
        "clear cluster structure"
    }


def test_the_same_data_and_config_give_the_same_nested_labels(nested_run):
    again = run(nested_config(), {"stores": formats_table()})
    pd.testing.assert_series_equal(
        again.assignments["final_cluster"], nested_run.assignments["final_cluster"]
    )


def test_assign_reproduces_the_nested_run_and_places_a_new_store_in_its_group(nested_run):
    segmentation = fit_segmentation(nested_run)
    assigned, _ = segmentation.assign({"stores": formats_table()})
    ran = nested_run.assignments.set_index("store_id")["final_cluster"]
    assert assigned.set_index("store_id")["final_cluster"].loc[ran.index].tolist() == ran.tolist()

    # a new supermarket that looks like a hypermarket stays a supermarket segment
    hyper_point = formats_table().query("format == 'hyper'")[["sales", "margin", "space"]].mean()
    new = pd.DataFrame([{"store_id": "NEW1", **hyper_point.to_dict(), "format": "super"}])
    placed, _ = segmentation.assign({"stores": new})
    super_segments = set(ran[formats_table().set_index("store_id")["format"] == "super"])
    assert placed["final_cluster"].iloc[0] in super_segments

    with pytest.raises(UserInputError, match="nested within 'format'"):
        segmentation.assign({"stores": new.drop(columns="format")})


def test_the_merge_keeps_stores_within_their_group():
    config = quick_preset("store")
    config.datasets["internal"].group_by = "format"
    config.stability.enabled = False
    sheets = store_demo(1500, 11)
    result = run(config, sheets)
    formats = sheets["internal"].set_index("store_id")["format"].astype("string").fillna("(missing)")
    assignments = result.assignments.set_index("store_id")
    segment_group = result.clustered["internal"].segment_group
    large_groups = {segment_group[s.split("-")[0]] for s in result.merge.large}
    moved = assignments[assignments["reassigned"] & assignments["internal_cluster"].notna()]
    final_group = moved["final_cluster"].str.split("-").str[0].map(segment_group)
    own = formats.reindex(moved.index)
    kept = own.isin(large_groups)  # a store whose group has a large merged segment stays in it
    assert kept.any() and (final_group[kept] == own[kept]).all()
    names = result.names.set_index("segment")["label"]
    assert all(label.split(" · ")[0].lower() in set(formats) for label in names)


def test_group_by_round_trips_through_the_yaml():
    config = nested_config()
    again = config_from_yaml(config.to_yaml())
    assert again.datasets["stores"].group_by == "format"


def test_a_grouping_column_the_table_lacks_or_with_too_many_values_is_a_clear_error():
    table = formats_table()
    with pytest.raises(UserInputError, match=r"group_by names column 'region'.*format"):
        run(nested_config(group_by="region"), {"stores": table})
    table["format"] = [f"F{i}" for i in range(len(table))]
    with pytest.raises(UserInputError, match=r"has 608 distinct values.*at most 50"):
        run(nested_config(), {"stores": table})


def test_nested_segmentation_needs_a_k_based_algorithm():
    with pytest.raises(ValueError, match=r"group_by .* needs a k-based algorithm"):
        nested_config(cluster={"algorithm": "hdbscan"})


def test_a_missing_group_value_is_a_group_of_its_own():
    table = formats_table()
    table.loc[table.index[:40], "format"] = np.nan  # 40 hypermarkets lost their format
    result = run(nested_config(), {"stores": table})
    groups = result.clustered["stores"].group_table["group"].tolist()
    assert groups[-1] == "(missing)" and len(result.assignments) == len(table)


def test_the_framework_files_of_a_nested_run_are_written(nested_run, tmp_path):
    from clustering.io.outputs import write_all

    written = {path.name for path in write_all(nested_run, tmp_path)}
    assert "k_selection.png" in written
    assignments = pd.read_csv(tmp_path / "cluster_assignments.csv")
    assert assignments["cluster"].nunique() == 6
