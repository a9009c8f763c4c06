"""DFU demand segmentation end to end on 5,000 demo DFUs with planted patterns."""

import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from clustering.cli import main
from clustering.config import load_config
from clustering.demo import DFU_PATTERNS, dfu_demo
from clustering.io.inputs import load_tables
from clustering.pipeline import run
from tests.profiles import quick_config_file, quick_preset

PATTERN_WORDS = {
    "steady_high": "steady",
    "seasonal": "seasonal",
    "intermittent_low": "intermittent",
    "growing": "growing",
    "declining": "declining",
    "volatile": "volatile",
}


@pytest.fixture(scope="module")
def dfu_sheets():
    return dfu_demo(5000, 36, seed=7)


@pytest.fixture(scope="module")
def dfu_result(dfu_sheets):
    return run(load_config("dfu"), dfu_sheets)


def test_demo_sheets(dfu_sheets):
    assert set(dfu_sheets) == {"sales_monthly", "dim_dfu", "dim_item", "truth"}
    assert list(dfu_sheets["sales_monthly"].columns) == ["dfu_id", "month", "units"]
    assert set(dfu_sheets["truth"]["true_pattern"]) == set(DFU_PATTERNS)
    per_dfu = dfu_sheets["sales_monthly"].groupby("dfu_id").size()
    assert (per_dfu < 36).mean() > 0.3  # missing months
    assert (per_dfu < 20).sum() > 50  # short histories
    assert "cluster_assignment" in dfu_sheets["dim_dfu"].columns
    assert set(dfu_sheets["dim_dfu"]["item_id"]) <= set(dfu_sheets["dim_item"]["item_id"])


def test_same_seed_same_data():
    first, second = dfu_demo(50, 24, seed=3), dfu_demo(50, 24, seed=3)
    for name in first:
        pd.testing.assert_frame_equal(first[name], second[name])


def test_segments_recover_the_planted_patterns(dfu_result, dfu_sheets):
    joined = dfu_result.assignments.merge(dfu_sheets["truth"], on="dfu_id")
    assert adjusted_rand_score(joined["true_pattern"], joined["final_cluster"]) >= 0.8


def test_majority_label_of_each_pattern_names_it(dfu_result, dfu_sheets):
    joined = dfu_result.assignments.merge(dfu_sheets["truth"], on="dfu_id")
    majority = joined.groupby("true_pattern")["segment_name"].agg(lambda names: names.mode().iloc[0])
    for pattern, word in PATTERN_WORDS.items():
        assert word in majority[pattern], (pattern, majority[pattern])
    assert majority["steady_high"] == "high_volume_steady"
    assert majority["intermittent_low"] == "intermittent_low_volume"
    assert majority["seasonal"].startswith("seasonal_") and majority["growing"].endswith("_volume_growing")


def test_short_histories_are_reported_and_left_out(dfu_result, dfu_sheets):
    ids = set(dfu_result.assignments["dfu_id"])
    assert len(ids) < len(dfu_sheets["truth"])
    notes = [f.message for f in dfu_result.findings if f.source == "sales_monthly"]
    assert notes and "fewer than 12 months of history" in notes[0]


def test_attributes_describe_segments_without_driving_them(dfu_result):
    features = set(dfu_result.prepared["dfu"].preprocessor.feature_names_out_)
    assert not features & {"category", "brand", "service_level_group"}
    assert {"category", "service_level_group"} <= set(dfu_result.explanation.feature_tests["feature"])


def test_cli_demo_dfu_and_run(tmp_path, capsys):
    workbook = tmp_path / "dfu.xlsx"
    assert (
        main(["demo", "dfu", "--dfus", "600", "--months", "36", "--seed", "2", "--output", str(workbook)])
        == 0
    )
    out = tmp_path / "result.xlsx"
    quick = str(quick_config_file(tmp_path, "dfu"))  # tracking: tests/tracking
    assert main(["run", "--config", quick, "--input", str(workbook), "--output", str(out), "--no-track"]) == 0
    sheets = pd.ExcelFile(out, engine="calamine").sheet_names
    assert {"assignments", "segments", "profiles", "feature_tests", "rules", "stability"} <= set(sheets)
    assignments = pd.read_excel(out, sheet_name="assignments", engine="calamine")
    assert assignments["segment_name"].notna().all()


def test_demo_too_large_for_excel_is_refused_before_writing(tmp_path, capsys):
    workbook = tmp_path / "big.xlsx"
    code = main(["demo", "dfu", "--dfus", "45000", "--months", "36", "--output", str(workbook)])
    assert code == 2
    assert not workbook.exists()
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "table 'sales_monthly'" in line and "1,048,575 rows" in line and "give a folder" in line


def test_demo_to_a_folder_and_a_run_from_its_parquet_files(tmp_path, capsys):
    folder = tmp_path / "dfu"
    assert main(["demo", "dfu", "--dfus", "600", "--seed", "2", "--output", str(folder)]) == 0
    assert {p.name for p in folder.iterdir()} == {
        "sales_monthly.parquet",
        "dim_dfu.parquet",
        "dim_item.parquet",
        "truth.parquet",
    }
    sheets = load_tables(load_config("dfu"), folder / "sales_monthly.parquet")
    assert set(sheets) == {"sales_monthly", "dim_dfu", "dim_item"}  # the attribute files beside it
    result = run(quick_preset("dfu"), sheets)
    assert "category" in set(result.explanation.feature_tests["feature"])


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_dfu_preset_runs_from_a_single_file_of_monthly_sales(tmp_path, capsys, dfu_sheets, suffix):
    sales = tmp_path / f"monthly{suffix}"
    frame = dfu_sheets["sales_monthly"].head(40_000)
    frame.to_csv(sales, index=False) if suffix == ".csv" else frame.to_parquet(sales, index=False)
    out = tmp_path / "result.xlsx"
    quick = str(quick_config_file(tmp_path, "dfu"))
    assert main(["run", "--config", quick, "--input", str(sales), "--output", str(out), "--no-track"]) == 0
    findings = pd.read_excel(out, sheet_name="findings", engine="calamine")
    assert findings["message"].str.contains("No 'dim_dfu' or 'dim_item' table was given").any()
    assignments = pd.read_excel(out, sheet_name="assignments", engine="calamine")
    assert assignments["dfu_id"].nunique() == len(assignments) > 0


def test_a_workbook_without_item_attributes_joins_the_dfu_ones(dfu_sheets):
    sheets = {k: v for k, v in dfu_sheets.items() if k != "dim_item"}
    result = run(quick_preset("dfu"), sheets)
    tests = set(result.explanation.feature_tests["feature"])
    assert "region" in tests and "category" not in tests
    assert any("No 'dim_item' table was given" in f.message for f in result.findings)


def test_an_uploaded_sales_file_is_not_joined_to_files_that_happen_to_be_beside_the_app(
    tmp_path, monkeypatch, dfu_sheets
):
    monkeypatch.chdir(tmp_path)
    dfu_sheets["dim_dfu"].to_csv(tmp_path / "dim_dfu.csv", index=False)  # a stray file in the folder
    upload = dfu_sheets["sales_monthly"].head(500).to_csv(index=False).encode()
    sheets = load_tables(load_config("dfu"), "sales_monthly.csv", content=upload)
    assert set(sheets) == {"sales_monthly"}
    on_disk = tmp_path / "sales_monthly.csv"
    on_disk.write_bytes(upload)
    assert set(load_tables(load_config("dfu"), on_disk)) == {"sales_monthly", "dim_dfu"}
