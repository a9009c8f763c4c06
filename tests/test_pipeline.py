"""End-to-end engine tests on 2,000 demo stores with planted truth."""

import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from clustering.config import config_from_dict, load_config, resolve_size
from clustering.demo import store_demo
from clustering.errors import UserInputError
from clustering.io.export import result_sheets
from clustering.model.metrics import silhouette_many
from clustering.model.threads import in_processes
from clustering.pipeline import run
from tests.profiles import quick, quick_preset


def with_truth(result, demo_sheets):
    return result.assignments.merge(demo_sheets["truth"], on="store_id")


@pytest.mark.parametrize(("dataset", "truth"), [("internal", "true_internal"), ("external", "true_external")])
def test_segments_recover_the_planted_archetypes(demo_result, demo_sheets, dataset, truth):
    joined = with_truth(demo_result, demo_sheets).dropna(subset=[f"{dataset}_cluster"])
    assert adjusted_rand_score(joined[truth], joined[f"{dataset}_cluster"]) >= 0.9


def test_every_input_store_appears_exactly_once(demo_result, demo_sheets):
    ids = demo_result.assignments["store_id"]
    expected = set(demo_sheets["internal"]["store_id"]) | set(demo_sheets["external"]["store_id"])
    assert ids.is_unique
    assert set(ids) == expected
    assert demo_result.assignments["final_cluster"].notna().all()


def test_no_final_segment_below_the_minimum(demo_result):
    minimum = resolve_size(demo_result.config.merge.min_segment_size, len(demo_result.assignments))
    assert demo_result.assignments["final_cluster"].value_counts().min() >= minimum
    assert demo_result.merge is not None and not demo_result.merge_log.empty


def test_assignment_columns(demo_result):
    columns = list(demo_result.assignments.columns)
    assert columns[:5] == [
        "store_id",
        "internal_cluster",
        "external_cluster",
        "merged_cluster",
        "final_cluster",
    ]


def test_two_runs_give_identical_output(quick_demo_result, demo_sheets):
    again = run(quick_preset("store"), demo_sheets)
    for name, sheet in result_sheets(quick_demo_result).items():
        pd.testing.assert_frame_equal(sheet, result_sheets(again)[name], obj=name)


def test_stages_side_by_side_give_the_same_output_as_one_after_the_other(
    quick_demo_result, demo_sheets, monkeypatch
):
    monkeypatch.setattr("clustering.model.threads.os.cpu_count", lambda: 1)  # in_parallel runs in turn
    in_turn = run(quick_preset("store"), demo_sheets)
    for name, sheet in result_sheets(quick_demo_result).items():
        pd.testing.assert_frame_equal(sheet, result_sheets(in_turn)[name], obj=name)


def test_stages_in_worker_processes_give_the_same_output(quick_demo_result, demo_sheets, monkeypatch):
    monkeypatch.setattr("clustering.model.threads.os.cpu_count", lambda: 2)
    monkeypatch.setattr("clustering.model.threads.PROCESS_CELLS", 1)  # these 2,000 stores count as large
    regions = []

    def recorded(tasks):
        regions.append(list(tasks))
        return in_processes(tasks)

    monkeypatch.setattr(sys.modules["clustering.pipeline.run"], "in_processes", recorded)
    in_workers = run(quick_preset("store"), demo_sheets)
    assert regions == [
        ["internal", "external"],
        ["merged", "stability"],
    ]  # the datasets, then the branches after them
    for name, sheet in result_sheets(quick_demo_result).items():
        pd.testing.assert_frame_equal(sheet, result_sheets(in_workers)[name], obj=name)


def test_another_seed_still_finds_the_archetypes(demo_sheets):
    config = load_config("store")
    config.random_state = 2024
    result = run(config, demo_sheets)
    joined = with_truth(result, demo_sheets).dropna(subset=["internal_cluster"])
    assert adjusted_rand_score(joined["true_internal"], joined["internal_cluster"]) >= 0.9


def test_ten_thousand_stores_find_the_five_planted_internal_segments():
    """One start per k let k = 5 land in a poor optimum here, and the sweep chose k = 3."""
    sheets = store_demo(10_000, seed=1)
    config = load_config("store")
    config.stability.resamples = 2
    result = run(config, {name: sheets[name] for name in ("internal", "external")})
    joined = with_truth(result, sheets).dropna(subset=["internal_cluster"])
    assert result.clustered["internal"].k == 5
    assert adjusted_rand_score(joined["true_internal"], joined["internal_cluster"]) >= 0.9


@pytest.mark.parametrize("name", ["internal", "external"])
def test_single_dataset_run(demo_sheets, name):
    config = quick(config_from_dict({"datasets": {name: {}}}))
    result = run(config, {name: demo_sheets[name]})
    assert result.merge is None
    assert list(result.assignments.columns) == [
        "store_id",
        f"{name}_cluster",
        "final_cluster",
        "segment_name",
        "distance_to_segment",
        "near_boundary",
        "override",
    ]
    assert not result.assignments["override"].any()
    assert len(result.assignments) == len(demo_sheets[name])
    sheets = result_sheets(result)
    assert set(sheets) >= {"assignments", "profiles", "k_selection", "metrics", "merge_log", "config"}
    assert sheets["merge_log"].empty
    assert {"jaccard_mean", "stable"} <= set(sheets["segments"].columns)


def test_an_identifier_like_column_is_described_but_not_clustered_or_tested(demo_sheets):
    internal = demo_sheets["internal"].assign(address=lambda t: "Street " + t["store_id"].astype(str))
    config = config_from_dict({"datasets": {"internal": {"cluster": {"k": 4}}}})
    result = run(config, {"internal": internal})
    assert "address" not in set(result.explanation.feature_tests["feature"])
    assert not result.profiles["feature"].astype(str).str.startswith("address").any()
    assert not any("address" in c for c in result.prepared["internal"].matrix.columns)
    assert any(f.column == "address" and "distinct values" in f.message for f in result.findings)
    config = config_from_dict(
        {
            "datasets": {
                "internal": {
                    "cluster": {"k": 4},
                    "preprocess": {"categorical": "onehot", "include": ["address", "revenue"]},
                }
            }
        }
    )
    named = run(config, {"internal": internal}).prepared["internal"].matrix.columns
    assert any(c.startswith("address") for c in named)


def test_any_table_of_entities_with_its_own_id_column(demo_sheets):
    table = demo_sheets["internal"].rename(columns={"store_id": "dc_code"})
    config = config_from_dict({"id_column": "dc_code", "datasets": {"sites": {"cluster": {"k": 3}}}})
    result = run(config, {"sites": table})
    assert result.assignments["final_cluster"].str.startswith("S").all()
    assert result.assignments["final_cluster"].nunique() == 3
    selection = result.clustered["sites"].selection
    assert selection.scores["k"].tolist() == [3] and selection.chosen_k == 3
    assert selection.rule == "fixed k = 3 (set in the config)"


def test_fixed_k_too_large_is_a_user_error(demo_sheets):
    config = config_from_dict({"datasets": {"internal": {"cluster": {"k": 5000}}}})
    with pytest.raises(
        UserInputError, match=r"k = 5000 needs at least 10000 rows, but the data has \d+\. Lower k"
    ):
        run(config, {"internal": demo_sheets["internal"]})


def test_validation_errors_stop_the_run_with_every_message(demo_sheets):
    broken = demo_sheets["internal"].copy()
    broken.loc[3, "store_id"] = broken.loc[2, "store_id"]
    broken.attrs["source"] = "demo.xlsx, sheet 'internal'"
    other = demo_sheets["external"].drop(columns=["store_id"])
    other.attrs["source"] = "demo.xlsx, sheet 'external'"
    with pytest.raises(UserInputError) as error:
        run(load_config("store"), {"internal": broken, "external": other})
    assert "sheet 'internal': ID column 'store_id' has 1 duplicated ID(s)" in str(error.value)
    assert "sheet 'external': ID column 'store_id' is missing" in str(error.value)


def test_missing_table_for_a_configured_dataset(demo_sheets):
    with pytest.raises(UserInputError, match="No table was given for dataset"):
        run(load_config("store"), {"internal": demo_sheets["internal"]})


def test_profiles_describe_each_final_segment(demo_result):
    profiles = demo_result.profiles
    sizes = demo_result.assignments["final_cluster"].value_counts()
    per_segment = profiles.drop_duplicates("segment").set_index("segment")
    assert per_segment["size"].to_dict() == sizes.to_dict()
    assert per_segment["share"].sum() == pytest.approx(1.0, abs=1e-6)
    features = set(profiles["feature"])
    assert {"revenue", "median_income", "format = hypermarket", "urbanicity = rural"} <= features
    assert {"mean", "median", "std", "z_score", "effect_size"} <= set(profiles.columns)


def test_isolation_forest_outliers_keep_every_store(demo_sheets):
    config = quick_preset("store")
    config.datasets["internal"].preprocess.outliers = "isolation_forest"
    result = run(config, demo_sheets)
    assert result.prepared["internal"].outliers.sum() > 0
    assert result.assignments["internal_cluster"].notna().sum() == len(demo_sheets["internal"])
    assert any("outlier row(s) were left out of the fit" in n for n in result.clustered["internal"].notes)


@pytest.mark.parametrize("outliers", ["none", "isolation_forest"])
def test_each_dataset_silhouette_is_that_of_its_final_segments(demo_sheets, outliers):
    """Taken from the sweep when the final fit found the sweep's partition of the same rows,
    computed again otherwise: either way, the silhouette of the segments reported."""
    config = quick_preset("store")
    config.datasets = {"internal": config.datasets["internal"]}
    config.datasets["internal"].preprocess.outliers = outliers
    result = run(config, {"internal": demo_sheets["internal"]})
    prepared, clustered = result.prepared["internal"], result.clustered["internal"]
    codes = clustered.labels.reindex(prepared.matrix.index).to_numpy()
    (expected,) = silhouette_many(prepared.matrix.to_numpy(), [codes], random_state=config.random_state)
    metrics = clustered.metrics.set_index("metric")["after"]
    reported = metrics[[m for m in metrics.index if m.startswith("silhouette")]].iloc[0]
    assert reported == pytest.approx(expected, abs=1e-6)  # float32 sums, blocked differently


def test_on_a_continuum_the_run_says_what_weak_structure_means_for_the_decision():
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(rng.uniform(size=(900, 3)), columns=["sales", "margin", "area"])
    frame.insert(0, "store_id", [f"C{i:04d}" for i in range(len(frame))])
    config = config_from_dict({"datasets": {"stores": {}}, "stability": {"resamples": 5}})
    result = run(config, {"stores": frame})
    clustered = result.clustered["stores"]
    assert not clustered.clusterability.clear and 3 <= clustered.k <= 8  # auto: k for usefulness
    assert (result.stability["jaccard_mean"] >= 0.75).all()
    decision = next(f.message for f in result.findings if f.source == "decision")
    share = result.assignments["near_boundary"].mean()
    assert 0 < share < 1 and f"{share:.0%} of the entities sit near a boundary" in decision
    assert f"the stable rule recommends k = {clustered.k}" in decision
    assert "boundaries between them are arbitrary" in decision
    assert not result.names["label"].str.fullmatch(r"S\d+").any()  # named in words


def test_clear_structure_needs_no_decision_note(demo_result):
    assert not [f for f in demo_result.findings if f.source == "decision"]


def test_loading_checks_a_large_table_on_a_sample_and_confirms_a_refusal_on_every_row(monkeypatch):
    from clustering.io.validation import validate_table
    from clustering.pipeline import prepare as stage

    config = load_config("store")
    sheets = store_demo(600, 3)
    table = validate_table(sheets["internal"], "store_id")
    dataset = config.datasets["internal"]
    small = stage.check_preparation("internal", table, dataset, 0)
    rows = len(table.frame)
    assert small is not None and len(small.matrix) == rows  # small: prepared, and kept
    monkeypatch.setattr(stage, "PREPARE_CHECK_ROWS", 200)
    fitted = []
    real = stage.prepare_dataset

    def prepare(name, part, config, seed):
        fitted.append(len(part.frame))
        if len(part.frame) < rows:  # as if the sample missed what makes the table usable
            raise UserInputError("nothing left to cluster")
        return real(name, part, config, seed)

    monkeypatch.setattr(stage, "prepare_dataset", prepare)
    assert stage.check_preparation("internal", table, dataset, 0) is None  # large: nothing kept
    assert fitted == [200, rows]  # the sample's refusal was tried on every row, which passed
    fitted.clear()
    monkeypatch.setattr(stage, "prepare_dataset", lambda *a: fitted.append(len(a[1].frame)) or real(*a))
    assert stage.check_preparation("internal", table, dataset, 0) is None and fitted == [200]
