"""Distributions per feature and segment, in real units: every entity counted, outliers in the
end bins and named, a log axis for skewed columns, and the percentiles in the workbook and
the report."""

from __future__ import annotations

import numpy as np
import openpyxl
import pandas as pd
import pytest

from clustering.demo import store_demo
from clustering.explain.distributions import (
    distributions_sheet,
    histogram,
    reads_better_on_a_log_axis,
    segment_quantiles,
)
from clustering.io.export import result_sheets, write_workbook
from clustering.io.report import report_of_sheets
from clustering.pipeline import run
from tests.profiles import quick_preset


@pytest.fixture(scope="module")
def stores() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(4)
    index = pd.Index([f"S{i:05d}" for i in range(3000)], name="store_id")
    features = pd.DataFrame(
        {
            "revenue": rng.lognormal(15, 0.6, 3000),
            "share_fresh": rng.uniform(0.1, 0.4, 3000),
            "format": rng.choice(["Hyper", "Super"], 3000),
        },
        index=index,
    )
    features.loc["S00007", "revenue"] = 7e8  # the one store that flattened every box
    features.loc["S00008", "share_fresh"] = np.nan
    segments = pd.Series(rng.choice(["I1", "I2", "I3"], 3000), index=index)
    return features, segments


@pytest.fixture(scope="module")
def result():
    return run(quick_preset("store"), store_demo(600, 7))


def test_percentiles_per_segment_are_pandas_own_and_all_entities_close_the_table(stores):
    features, segments = stores
    table = segment_quantiles(segments, features).set_index(["feature", "segment"])
    assert set(table.index.get_level_values("feature")) == {"revenue", "share_fresh"}  # text is not spread
    expected = features.groupby(segments)["revenue"].quantile(0.25)
    assert np.allclose(table.loc["revenue"].loc[["I1", "I2", "I3"], "p25"], expected)
    assert table.loc[("share_fresh", "all"), "entities"] == 2999  # the missing value is not counted
    assert table.loc[("revenue", "all"), "max"] == 7e8


def test_every_entity_is_counted_once_and_the_outlier_is_named_not_drawn_to_scale(stores):
    features, segments = stores
    drawn = histogram(features["revenue"], segments, log=False)
    assert drawn.counts.sum(axis=1).to_dict() == segments.value_counts().to_dict()
    assert np.allclose(drawn.shares.sum(axis=1), 1.0)
    assert drawn.above >= 1 and drawn.edges[-1] < 1e8 and drawn.highest == 7e8
    note = drawn.outliers_note("stores")
    assert "above" in note and "up to 7e+08" in note and "counted in the last bar" in note


def test_a_skewed_positive_column_is_drawn_on_a_log_axis_with_geometric_bins(stores):
    features, segments = stores
    assert reads_better_on_a_log_axis(features["revenue"])
    assert not reads_better_on_a_log_axis(features["share_fresh"])
    drawn = histogram(features["revenue"], segments)
    assert drawn.log and np.allclose(np.diff(np.log(drawn.edges)), np.log(drawn.edges[1] / drawn.edges[0]))
    assert not histogram(features["revenue"] - 1e7, segments, log=True).log  # negative values: no log axis
    shares = histogram(features["share_fresh"], segments)
    assert shares.missing == 1 and "without a value are not drawn" in shares.outliers_note("stores")


def test_a_column_of_one_value_still_has_bins():
    drawn = histogram(pd.Series([5.0] * 10, name="x"), pd.Series(["a"] * 5 + ["b"] * 5))
    assert drawn.edges[0] < 5 < drawn.edges[-1] and drawn.counts.sum().sum() == 10


def test_the_workbook_has_percentiles_per_segment_formatted_as_their_feature(result, tmp_path):
    sheets = result_sheets(result)
    sheet = sheets["distributions"]
    names = result.names.set_index("segment")["label"]
    assert list(sheet["code"]) == [*names.index, "all"]
    assert list(sheet["segment"]) == [*names, "all stores"]
    path = tmp_path / "result.xlsx"
    write_workbook(sheets, path)
    book = openpyxl.load_workbook(path)["distributions"]
    header = [c.value for c in book[1]]
    share = header.index("share_fresh median") + 1
    revenue = header.index("revenue p75") + 1
    assert book.cell(2, share).number_format.endswith("%")  # a percentile of a share is a share
    assert book.cell(2, revenue).number_format == "#,##0"
    revenue_of_all = store_demo(600, 7)["internal"]["revenue"]
    assert sheet.iloc[-1]["revenue median"] == pytest.approx(revenue_of_all.median())


def test_the_report_gives_each_segments_middle_half_in_real_units(result):
    report = report_of_sheets(result_sheets(result))
    lines = [line for s in report.segments for line in s.profile if "standard deviations" in line]
    assert lines and all("the middle half of its stores from" in line for line in lines)
    quantiles = distributions_sheet(result.explanation.distributions, result.names, "stores")
    assert not quantiles.empty


def test_a_group_beyond_the_fence_is_drawn_not_counted_as_outliers():
    rng = np.random.default_rng(1)
    volumes = np.concatenate([rng.lognormal(5.5, 0.5, 850), rng.uniform(0.4, 6, 150)])  # 15% intermittent
    segments = pd.Series(np.repeat(["steady", "intermittent"], [850, 150]))
    drawn = histogram(pd.Series(volumes, name="mean_demand"), segments, log=True)
    assert drawn.below <= 10 and drawn.edges[0] < 1.5  # at most 1% in the first bar, the group drawn
    assert drawn.counts.loc["intermittent"].astype(bool).sum() > 3  # spread over bars, not one
