"""Whole runs on the classes of messy input analysts really have: each ends in a complete run
that keeps every ID exactly once, or in a UserInputError that says where and what to do."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs

from clustering.cli import main
from clustering.config import config_from_dict
from clustering.errors import UserInputError
from clustering.io.export import result_sheets, workbook_bytes
from clustering.io.sources import read_table
from clustering.pipeline import run
from tests.profiles import quick

BARE_OPTIONS = {"labels": {"pattern": "none", "market_column": None}, "stability": {"resamples": 3}}


def one_dataset(**dataset) -> object:
    """One dataset with the quick profile (tests/profiles.py): these tests check what a run keeps."""
    return quick(
        config_from_dict({**BARE_OPTIONS, "datasets": {"internal": dataset}, "merge": {"enabled": False}})
    )


def two_datasets(**options) -> object:
    return quick(config_from_dict({**BARE_OPTIONS, **options}))


def stores(n: int = 300, columns: int = 5, seed: int = 0, ids: list[str] | None = None) -> pd.DataFrame:
    X, _ = make_blobs(n, columns, centers=3, random_state=seed)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(columns)])
    frame.insert(0, "store_id", ids if ids is not None else [f"S{i:04d}" for i in range(n)])
    return frame


def assert_every_id_once(result, *frames: pd.DataFrame) -> None:
    ids = result.assignments[result.config.id_column]
    expected = set().union(*(set(f["store_id"].astype(str)) for f in frames))
    assert ids.is_unique and set(ids) == expected
    assert result.assignments["final_cluster"].notna().all()


# -- non-finite and extreme numbers -----------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "edit"),
    [
        ("inf cells", lambda f: f.assign(f1=f["f1"].where(f.index % 50 != 3, np.inf))),
        ("one 1e300", lambda f: f.assign(f2=f["f2"].where(f.index != 7, 1e300))),
        ("squares overflow", lambda f: f.assign(f3=f["f3"] * 1e200)),
        ("subnormal", lambda f: f.assign(f4=f["f4"] * 1e-310)),
    ],
)
def test_non_finite_and_extreme_numbers_complete_and_keep_every_store(case, edit):
    frame = edit(stores())
    result = run(one_dataset(), {"internal": frame})
    assert_every_id_once(result, frame)
    assert result.assignments["final_cluster"].nunique() == 3, case
    workbook_bytes(result_sheets(result))  # and the results can be written


def test_inf_cells_are_reported_as_findings():
    frame = stores()
    frame.loc[[3, 9], "f1"] = np.inf
    result = run(one_dataset(), {"internal": frame})
    assert any("2 infinite value(s) were read as empty (rows 5, 11)" in f.message for f in result.findings)


def test_a_row_without_any_value_is_kept_assigned_and_counted():
    frame = stores()
    frame.loc[10, [f"f{i}" for i in range(5)]] = np.nan
    result = run(one_dataset(), {"internal": frame})
    assert_every_id_once(result, frame)
    assert any("1 row(s) have no usable value" in f.message and f.rows == (12,) for f in result.findings)


# -- nothing left to cluster -----------------------------------------------------------------


def test_every_feature_constant_says_nothing_varies():
    frame = stores()
    frame.iloc[:, 1:] = 1.0
    with pytest.raises(
        UserInputError, match=r"internal \(dataset 'internal'\): every feature column has a single"
    ):
        run(one_dataset(), {"internal": frame})


def test_every_row_identical_says_nothing_varies():
    frame = stores()
    frame.iloc[:, 1:] = np.tile([1.0, 2.0, 3.0, 4.0, 5.0], (len(frame), 1))
    with pytest.raises(UserInputError, match="every row looks the same"):
        run(one_dataset(), {"internal": frame})


def test_rows_with_two_distinct_values_give_two_segments():
    frame = stores()
    frame.iloc[:, 1:] = (frame.index.to_numpy()[:, None] % 2) * np.ones((1, 5))
    result = run(one_dataset(cluster={"k_min": 2, "k_max": 8}), {"internal": frame})
    assert_every_id_once(result, frame)
    assert result.assignments["final_cluster"].nunique() == 2


def test_two_distinct_rows_with_a_larger_fixed_k_are_explained():
    frame = stores()
    frame.iloc[:, 1:] = (frame.index.to_numpy()[:, None] % 2) * np.ones((1, 5))
    with pytest.raises(UserInputError, match=r"only 2 distinct row\(s\) after preparation, fewer than k = 4"):
        run(one_dataset(cluster={"k": 4}), {"internal": frame})


def test_a_csv_whose_numbers_all_became_text_is_read_as_numbers():
    frame = stores()
    text = frame.copy()
    for column in text.columns[1:]:
        text[column] = [f"{v:,.3f}".replace(",", " ").replace(".", ",") for v in frame[column]]
    data = text.to_csv(index=False, sep=";").encode()
    sheet = read_table(data, filename="text_numbers.csv")
    result = run(one_dataset(), {"internal": sheet})
    assert_every_id_once(result, frame)
    assert any("delimiter ';', decimal separator ','" in f.message for f in result.findings)


def test_a_csv_without_any_number_says_so():
    data = b"store_id,format,city\nS1,a,x\nS2,b,y\nS3,a,z\n"
    with pytest.raises(UserInputError, match=r"words\.csv: has no numeric feature columns"):
        run(one_dataset(), {"internal": read_table(data, filename="words.csv")})


# -- IDs -------------------------------------------------------------------------------------


def test_datasets_sharing_no_id_cannot_be_merged():
    internal = stores(ids=[f"A{i}" for i in range(300)])
    external = stores(ids=[f"B{i}" for i in range(300)], seed=1)
    with pytest.raises(UserInputError, match="internal and external share no store_id"):
        run(two_datasets(), {"internal": internal, "external": external})


def test_ids_differing_only_in_case_are_merged_as_the_same_stores():
    internal = stores()
    external = stores(seed=1, ids=[f"s{i:04d}" for i in range(300)])
    result = run(two_datasets(), {"internal": internal, "external": external})
    assert_every_id_once(result, internal)
    assert (result.assignments["coverage"] == "both").all()
    assert any("only when letter case is ignored" in f.message for f in result.findings)


def test_a_tiny_overlap_still_merges_every_store():
    internal = stores(ids=[f"A{i}" for i in range(300)])
    external = stores(ids=[f"A{i}" for i in range(297, 597)], seed=1)
    result = run(two_datasets(), {"internal": internal, "external": external})
    assert_every_id_once(result, internal, external)


# -- wide data and text numbers ----------------------------------------------------------------


def test_fifteen_hundred_feature_columns():
    frame = stores(columns=1500)
    result = run(one_dataset(), {"internal": frame})
    assert_every_id_once(result, frame)


def test_numbers_written_as_text_the_excel_way_are_clustered():
    frame = stores()
    shown = frame.copy()
    shown["f0"] = [f"{v:.1f}%" for v in frame["f0"]]
    shown["f1"] = [f"${v * 1000:,.2f}" for v in frame["f1"]]
    result = run(one_dataset(), {"internal": shown})
    assert_every_id_once(result, frame)
    assert {"f0", "f1"} <= set(result.prepared["internal"].report.features_in)


# -- config edge values ------------------------------------------------------------------------


def test_a_merge_minimum_of_100_percent_gives_one_segment_and_a_complete_workbook(demo_sheets):
    config = config_from_dict({"merge": {"min_segment_size": "100%"}, "labels": {"volume_column": "revenue"}})
    result = run(config, demo_sheets)
    assert result.assignments["final_cluster"].nunique() == 1
    sheets = result_sheets(result)
    assert sheets["segments"]["top_features"].tolist() == [""]
    assert workbook_bytes(sheets)


# -- HDBSCAN on wide data, and stability that survives a failed refit ---------------------------


@pytest.mark.parametrize("columns", [31, 200])
def test_hdbscan_runs_on_wide_data_through_principal_components(columns):
    frame = stores(n=400, columns=columns)
    config = one_dataset(cluster={"algorithm": "hdbscan"}, preprocess={"correlation_threshold": None})
    result = run(config, {"internal": frame})
    assert result.prepared["internal"].matrix.shape[1] == columns
    assert_every_id_once(result, frame)
    assert result.assignments["final_cluster"].nunique() == 3
    notes = " ".join(result.clustered["internal"].notes)
    assert (
        f"The data has {columns} prepared columns: HDBSCAN ran on its first 30 principal components" in notes
    )


def test_a_refit_that_finds_no_segment_counts_as_zero_and_the_run_completes(monkeypatch):
    from clustering.pipeline import stability

    frame = stores(n=400, columns=4)
    real = stability.fit_density
    calls = []

    def every_other_refit_finds_only_noise(X, config, seed=None):
        calls.append(len(X))
        if len(X) < 400 and len(calls) % 2:
            raise UserInputError("HDBSCAN found no segment: every row is noise")
        return real(X, config, seed)

    monkeypatch.setattr(stability, "fit_density", every_other_refit_finds_only_noise)
    config = one_dataset(cluster={"algorithm": "hdbscan"})
    config.stability.resamples = 6
    result = run(config, {"internal": frame})
    assert_every_id_once(result, frame)
    assert (result.stability["failed_refits"] == 3).all()
    assert (result.stability["jaccard_min"] == 0).all()
    assert result.stability["jaccard_mean"].max() <= 0.5 + 1e-9  # three of six refits count as 0
    assert any("3 of 6 refits on subsamples found no segments" in f.message for f in result.findings)


# -- the command line never shows a traceback --------------------------------------------------


def test_cli_reports_an_unexpected_error_in_one_line_with_the_log(
    monkeypatch, tmp_path, capsys, demo_workbook
):
    log = tmp_path / "errors.log"
    monkeypatch.setenv("CLUSTERING_LOG_FILE", str(log))

    def broken(*args, **kwargs):
        raise RuntimeError("a defect deep inside")

    monkeypatch.setattr("clustering.pipeline.run", broken)
    code = main(["run", "--input", str(demo_workbook), "--output", str(tmp_path / "out.xlsx"), "--no-track"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "RuntimeError: a defect deep inside" in err and str(log) in err
    assert "Traceback" in log.read_text() and "a defect deep inside" in log.read_text()


def test_cli_on_a_password_protected_workbook_prints_one_line(tmp_path, demo_workbook):
    from msoffcrypto.format.ooxml import OOXMLFile

    locked = tmp_path / "locked.xlsx"
    with locked.open("wb") as target:
        OOXMLFile(io.BytesIO(demo_workbook.read_bytes())).encrypt("secret", target)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "clustering",
            "run",
            "--input",
            str(locked),
            "--output",
            str(tmp_path / "o.xlsx"),
            "--no-track",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith("error: locked.xlsx is password-protected (encrypted)")
