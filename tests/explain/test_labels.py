import numpy as np
import pandas as pd

from clustering.config import LabelsConfig
from clustering.explain.labels import (
    PreviousRun,
    align_segments,
    automatic_labels,
    segment_names,
    unique_labels,
    volume_tiers,
)
from clustering.explain.profiling import segment_profiles
from clustering.pipeline import run
from tests.profiles import quick_preset


def test_volume_tiers_use_entity_percentiles_not_centroids():
    # 90 small entities in A, 5 medium in B, 5 large in C: the entity-level 67th percentile
    # falls inside A's range, so B is already "High" although it is the middle centroid.
    volume = pd.Series(np.concatenate([np.linspace(1, 10, 90), [50] * 5, [100] * 5]))
    final = pd.Series(["A"] * 90 + ["B"] * 5 + ["C"] * 5)
    tiers = volume_tiers(final, volume, (0.33, 0.67))
    assert tiers.to_dict() == {"A": "Medium", "B": "High", "C": "High"}
    low = volume_tiers(final, -volume, (0.33, 0.67))
    assert low["C"] == "Low"


def test_shared_labels_get_the_feature_that_sets_them_apart_then_numbers():
    profiles = pd.DataFrame(
        {
            "segment": ["A", "A", "B", "B", "C", "C"],
            "feature": ["income", "age", "income", "age", "income", "age"],
            "z_score": [1.5, 0.0, -1.5, 0.1, 0.0, 0.0],
        }
    )
    labels = pd.Series({"A": "urban", "B": "urban", "C": "rural"})
    result = unique_labels(labels, pd.Series({"A": 10, "B": 20, "C": 5}), profiles)
    assert result.to_dict() == {"A": "urban · high income", "B": "urban · low income", "C": "rural"}
    numbered = unique_labels(pd.Series({"A": "x", "B": "x", "C": "x"}), pd.Series({"A": 1, "B": 3, "C": 2}))
    assert numbered.to_dict() == {"A": "x #3", "B": "x", "C": "x #2"}


def test_store_labels_name_volume_mix_and_market(demo_result, demo_sheets):
    names = demo_result.names.set_index("segment")["label"]
    assert names.is_unique
    joined = demo_result.assignments.merge(demo_result.names, left_on="final_cluster", right_on="segment")
    assert (joined["segment_name"] == joined["label"]).all()
    truth = demo_result.assignments.merge(demo_sheets["truth"], on="store_id").set_index("true_internal")
    assert truth.loc["hypermarket", "segment_name"].str.startswith("High volume").mean() > 0.9
    assert truth.loc["urban_convenience", "segment_name"].str.startswith("Low volume").mean() > 0.9
    specialty = truth.loc["specialty_flagship", "segment_name"]
    assert specialty.str.contains("apparel-led|electronics-led").mean() > 0.9
    assert names.str.contains(r"(?:apparel|electronics|grocery|fresh|beverages|household)-led").all()
    assert names.str.contains("urban|suburban|rural").all()


def test_dfu_labels_follow_the_vocabulary_and_documented_precedence():
    from clustering.config import LabelingConfig

    rows = []
    cases = [
        ("A", 50.0, 0.9, 0.1, 2.0, 1.0),  # intermittent wins over everything; low volume
        ("B", 0.0, 0.6, 0.1, 2.0, 50.0),  # seasonal; high volume
        ("C", 0.0, 0.1, -0.05, 2.0, 10.0),  # declining
        ("D", 0.0, 0.1, 0.03, 0.1, 10.0),  # growing
        ("E", 0.0, 0.1, 0.0, 0.9, 10.0),  # volatile
        ("F", 0.0, 0.1, 0.0, 0.1, 50.0),  # steady, high volume
        ("G", 0.0, 0.1, 0.0, 0.4, 1.0),  # cv between the thresholds, nearer steady
    ]
    for segment, zero, season, slope, cv, _ in cases:
        for feature, value in [
            ("zero_demand_pct", zero),
            ("seasonality_strength", season),
            ("trend_slope_norm", slope),
            ("cv_demand", cv),
        ]:
            rows.append({"segment": segment, "feature": feature, "median": value, "z_score": 0.0})
    final = pd.Series([c[0] for c in cases for _ in range(10)])
    volume = pd.Series([c[5] for c in cases for _ in range(10)], index=final.index)
    labels = automatic_labels(
        final,
        pd.DataFrame({"mean_demand": volume}),
        pd.DataFrame(rows),
        LabelsConfig(pattern="dfu", market_column=None),
        LabelingConfig(),
    )
    assert labels.to_dict() == {
        "A": "intermittent_low_volume",
        "B": "seasonal_high_volume",
        "C": "medium_volume_declining",
        "D": "medium_volume_growing",
        "E": "medium_volume_volatile",
        "F": "high_volume_steady",
        "G": "low_volume_steady",
    }


def test_shared_dfu_labels_get_a_distinguishing_word_not_a_number():
    rows = [
        {
            "segment": s,
            "feature": f,
            "median": v,
            "z_score": (0.8 if s == "A" else -0.4) if f == "cv_demand" else 0.0,
        }
        for s in "AB"
        for f, v in [
            ("zero_demand_pct", 0.0),
            ("seasonality_strength", 0.0),
            ("trend_slope_norm", 0.0),
            ("cv_demand", 0.1),
        ]
    ]
    final = pd.Series(["A"] * 5 + ["B"] * 9)
    labels = automatic_labels(
        final,
        pd.DataFrame({"mean_demand": 1.0}, index=final.index),
        pd.DataFrame(rows),
        LabelsConfig(pattern="dfu"),
    )
    # the larger keeps the label; the smaller gets the word that sets it apart, never a number
    assert labels.to_dict() == {"A": "high_volume_steady_high_cv_demand", "B": "high_volume_steady"}


def test_alignment_matches_permuted_labels():
    rng = np.random.default_rng(0)
    previous = pd.Series(rng.choice(["A", "B", "C"], 300), index=[f"S{i}" for i in range(300)])
    renamed = previous.map({"A": "X", "B": "Y", "C": "Z"})
    noisy = renamed.copy()
    noisy.iloc[:10] = "Z"
    matched = align_segments(previous, noisy).set_index("segment")
    assert matched["previous"].to_dict() == {"X": "A", "Y": "B", "Z": "C"}
    assert matched.loc["X", "overlap"] == 1.0 and matched.loc["Z", "overlap"] < 1.0


def test_overrides_without_a_previous_run_apply_to_this_run():
    final = pd.Series(["A", "B"])
    names = segment_names(final, pd.Series({"A": "auto A", "B": "auto B"}), {"B": "My stores"})
    table = names.set_index("segment")
    assert table.loc["B", "label"] == "My stores" and table.loc["B", "source"] == "analyst"
    assert table.loc["A", "label"] == "auto A" and table.loc["A", "source"] == "rule"


def test_a_renamed_segment_keeps_its_name_on_the_same_stores_after_a_rerun(demo_sheets):
    config = quick_preset("store")
    config.stability.enabled = False
    first = run(config, demo_sheets)
    target = first.names["segment"].iloc[3]
    old = first.assignments.set_index("store_id")["final_cluster"]
    previous = PreviousRun(old, {target: "Heart of the network"})
    config.random_state = 987
    second = run(config, demo_sheets, previous)
    new = second.assignments.set_index("store_id")
    named = new.index[new["segment_name"] == "Heart of the network"]
    original = old.index[old == target]
    assert len(named) > 0
    assert len(named.intersection(original)) / len(original) >= 0.95
    row = second.names.set_index("label").loc["Heart of the network"]
    assert row["source"] == "analyst" and row["previous_segment"] == target and row["overlap"] >= 0.95


def test_profiles_feed_labels_for_one_dataset(demo_sheets):
    config = quick_preset("store")
    config.datasets = {"internal": config.datasets["internal"]}
    config.labels.market_column = None
    config.stability.enabled = False
    result = run(config, demo_sheets)
    assert result.names["label"].str.contains("volume").all()
    assert not result.names["label"].str.contains("urban").any()


def test_missing_volume_column_is_reported_and_the_tier_left_out(demo_sheets):
    config = quick_preset("store")
    config.labels.volume_column = "turnover"
    config.stability.enabled = False
    result = run(config, demo_sheets)
    assert not result.names["label"].str.contains("volume").any()
    notes = [f.message for f in result.findings if f.source == "labels"]
    assert notes and notes[0].startswith("labels.volume_column 'turnover' is not a column of the data")


def test_labels_disabled_uses_segment_ids(demo_sheets):
    config = quick_preset("store")
    config.labels.enabled = False
    config.stability.enabled = False
    result = run(config, demo_sheets)
    assert (result.names["label"] == result.names["segment"]).all()
    assert segment_profiles  # the profiles are still computed
    assert not result.profiles.empty


def generic_table(seed: int = 0, rows: int = 600) -> pd.DataFrame:
    """A table no preset knows: three groups of shops told apart by sales, hours and size."""
    rng = np.random.default_rng(seed)
    group = np.repeat([0, 1, 2], rows // 3)
    return pd.DataFrame(
        {
            "shop": [f"X{i:04d}" for i in range(rows)],
            "tsales": np.array([900.0, 300.0, 310.0])[group] * rng.lognormal(0, 0.1, rows),
            "open_hours": np.array([70.0, 40.0, 90.0])[group] + rng.normal(0, 3, rows),
            "sqm": np.array([2000.0, 400.0, 420.0])[group] * rng.lognormal(0, 0.1, rows),
            "region": np.where(group == 0, "north", rng.choice(["north", "south"], rows)),
        }
    )


def generic_config(**labels):
    from clustering.config import config_from_dict

    return config_from_dict(
        {
            "id_column": "shop",
            "datasets": {"shops": {"cluster": {"k": 3}}},
            "stability": {"enabled": False},
            "columns": {"tsales": {"label": "annual sales", "unit": "$"}},
            "labels": labels,
        }
    )


def test_a_table_no_preset_knows_gets_names_in_words_not_codes():
    result = run(generic_config(), {"shops": generic_table()})
    names = result.names.set_index("segment")["label"]
    assert names.is_unique and not names.str.fullmatch(r"S\d+").any()
    big = result.assignments.set_index("shop").loc["X0000", "segment_name"]
    words = big.lower().split(" · ")
    assert "high annual sales" in words and "high sqm" in words  # the dictionary's label, else the name
    assert big[:1].isupper()
    long_hours = result.assignments.set_index("shop").loc["X0599", "segment_name"]
    assert "high open hours" in long_hours.lower()
    assert all(part[:1].islower() for name in names for part in name.split(" · ")[1:])


def test_codes_only_when_asked_and_the_dictionary_round_trips_through_yaml():
    from clustering.config import config_from_yaml

    coded = run(generic_config(pattern="codes"), {"shops": generic_table()})
    assert coded.names["label"].str.fullmatch(r"S\d+").all()
    again = config_from_yaml(generic_config(pattern="features").to_yaml())
    assert again.columns["tsales"].label == "annual sales" and again.columns["tsales"].unit == "$"
    assert again.labels.pattern == "features"


def test_the_workbook_profiles_carry_the_dictionarys_label_and_unit_and_the_weights():
    from clustering.io.export import result_sheets

    config = generic_config()
    config.datasets["shops"].preprocess.weights = {"tsales": 2.0}
    profiles = result_sheets(run(config, {"shops": generic_table()}))["profiles"]
    sales = profiles[profiles["feature"] == "tsales"].iloc[0]
    assert sales["label"] == "annual sales" and sales["unit"] == "$" and sales["weight"] == 2.0
    assert profiles.loc[profiles["feature"] == "sqm", "weight"].iloc[0] == 1.0
    assert profiles.loc[profiles["feature"] == "open_hours", "label"].iloc[0] == "open hours"


def test_dfu_segments_no_feature_tells_apart_get_letters_not_numbers():
    from clustering.explain.labels import distinct_dfu_labels

    labels = pd.Series(["steady", "steady", "steady"], index=["A", "B", "C"], dtype="string")
    profiles = pd.DataFrame(
        [{"segment": s, "feature": "cv_demand", "median": 0.1, "z_score": 0.0} for s in "ABC"]
    )
    sizes = pd.Series({"A": 10, "B": 30, "C": 20})
    named = distinct_dfu_labels(labels, sizes, profiles)
    assert named.to_dict() == {"A": "steady_c", "B": "steady", "C": "steady_b"}  # by size
