"""Each DFU segment's typical demand over the window: a demand index on one scale for every
volume, the median and spread by month, in the run, the output files and the app."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clustering.config import load_config
from clustering.demo import dfu_demo, store_demo
from clustering.explain.demand import demand_curves, demand_index
from clustering.io.outputs import write_all
from clustering.pipeline import run
from clustering.prep.features import demand_grid
from tests.profiles import quick_preset


@pytest.fixture(scope="module")
def demo():
    sheets = dfu_demo(1500, 36, 7)
    grid = demand_grid(sheets["sales_monthly"], load_config("dfu").datasets["dfu"].features)
    truth = sheets["truth"].set_index("dfu_id")["true_pattern"]
    return sheets, grid, truth


def test_the_index_is_each_dfus_month_over_its_own_average_month(demo):
    _, grid, _ = demo
    index = demand_index(grid)
    assert index.shape == (len(grid.ids), grid.months) and list(index.columns)[:2] == ["2024-01", "2024-02"]
    assert np.allclose(index.mean(axis=1).dropna(), 1.0)  # every DFU's average month is 1
    late = np.flatnonzero(grid.first > 0)
    if late.size:  # a DFU that starts later has no index before its first sale
        row = late[0]
        assert index.iloc[row, : grid.first[row]].isna().all()


def test_the_planted_patterns_curves_rise_fall_and_wave(demo):
    _, grid, truth = demo
    curves = demand_curves(grid, truth).set_index(["segment", "month"])
    growing, declining = curves.loc["growing", "median"], curves.loc["declining", "median"]
    assert growing.iloc[-1] > 1.3 * growing.iloc[0] and declining.iloc[-1] < 0.7 * declining.iloc[0]
    assert (curves["p25"] <= curves["median"]).all() and (curves["median"] <= curves["p75"]).all()
    assert curves.loc["growing", "dfus"].max() == int((truth.reindex(grid.ids) == "growing").sum())
    if "seasonal" in truth.unique():
        seasonal = curves.loc["seasonal", "median"]
        assert seasonal.max() - seasonal.min() > growing.diff().abs().max()  # a wave, not a ramp


def test_a_dfu_run_carries_its_curves_into_the_files_and_a_store_run_has_none(demo, tmp_path):
    sheets, _, _ = demo
    result = run(quick_preset("dfu"), sheets)
    demand = result.explanation.demand
    assert set(demand["segment"]) == set(result.assignments["final_cluster"])
    paths = {p.name for p in write_all(result, tmp_path)}
    assert {"cluster_demand.csv", "demand_curves.png"} <= paths
    written = pd.read_csv(tmp_path / "cluster_demand.csv")
    assert list(written.columns) == ["cluster", "month", "dfus", "p25", "median", "p75"]
    assert (tmp_path / "demand_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert run(quick_preset("store"), store_demo(300, 2)).explanation.demand.empty
