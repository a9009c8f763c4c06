"""Each statistic explained where it appears, on the one stability scale, and a metrics table
as people read it."""

from __future__ import annotations

import pandas as pd
import pytest

from clustering.glossary import meaning, metric_text, readable_metrics, statistic_name
from clustering.model.stability import PATTERN, STABLE


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("silhouette (sample of 1980)", "-1 to 1"),
        ("jaccard_min", f"{STABLE:.2f} or more is a stable segment"),
        ("jaccard_mean", f"{PATTERN:.2f} to {STABLE:.2f} a pattern"),
        ("ARI between the runs", "Adjusted Rand index"),
        ("NMI before vs after", "Normalized mutual information"),
        ("least_distinct_d", "standard deviations"),
        ("effect_size", "standard deviations"),
        ("what sets it apart", "standard deviations"),
        ("p_value", "p < 0.001"),
        ("anova_p", "p < 0.001"),
        ("davies_bouldin", "lower is better"),
        ("calinski_harabasz", "higher is better"),
        ("gap", "even cloud"),
    ],
)
def test_each_statistic_says_what_it_means(name, words):
    assert words in meaning(name)


@pytest.mark.parametrize(
    "name", ["k", "segments", "smallest_segment", "names_preview", "separating_features"]
)
def test_plain_columns_need_no_explanation(name):
    assert meaning(name) is None


def test_a_metrics_table_reads_as_people_read_it():
    metrics = pd.DataFrame(
        {
            "metric": [
                "segments",
                "silhouette (sample of 1960)",
                "calinski_harabasz",
                "ARI before vs after",
                "share that moved",
            ],
            "before": [20.0, 0.270539, 328.100587, None, None],
            "after": [18.0, 0.263759, 1935.284434, 0.980905, 0.0712],
            "scope": ["merged"] * 5,
        }
    )
    shown = readable_metrics(metrics, ["before", "after"], change=True).set_index("metric")
    assert list(shown.columns) == ["scope", "before", "after", "change", "what it means"]
    assert shown.loc["segments", "before"] == "20" and shown.loc["segments", "change"] == "-2"
    assert shown.loc["Calinski-Harabasz index", "after"] == "1,935"
    assert shown.loc["Calinski-Harabasz index", "change"] == "+1,607"
    assert shown.loc["silhouette (sample of 1960)", "after"] == "0.264"
    assert (
        shown.loc["ARI before vs after", "before"] == "" and shown.loc["ARI before vs after", "change"] == ""
    )
    assert shown.loc["share that moved", "after"] == "7.1%"
    assert shown.loc["segments", "what it means"] == ""


def test_metric_names_and_values():
    assert statistic_name("davies_bouldin") == "Davies-Bouldin index"
    assert statistic_name("inertia, worst start") == "inertia, worst start"
    assert metric_text("smallest segment", 275.0) == "275"
    assert metric_text("stores in both runs", 2000) == "2,000"
    assert metric_text("inertia", 4103.87) == "4,104"
    assert metric_text("note", "text") == "text"
