import time

import numpy as np
import openpyxl
import pandas as pd
import pytest
import yaml

from clustering.config import config_from_dict
from clustering.errors import UserInputError
from clustering.io.export import EXCEL_ROWS, result_sheets, write_result, write_workbook

SHEETS = [
    "summary",  # the headline frozen on top, the segments table below
    "assignments",
    "segments",
    "labels",
    "profiles",
    "distributions",
    "feature_tests",
    "rules",
    "stability",
    "k_selection",
    "k_consensus",
    "k_scenarios",
    "metrics",
    "quality",
    "merge_log",
    "preprocessing",
    "findings",
    "config",
]


@pytest.fixture(scope="module")
def workbook_path(tmp_path_factory, demo_result):
    return write_result(demo_result, tmp_path_factory.mktemp("out") / "result.xlsx")


def test_workbook_has_every_sheet_with_frozen_header(workbook_path):
    book = openpyxl.load_workbook(workbook_path, read_only=False)
    assert book.sheetnames == SHEETS
    for name in SHEETS:
        assert book[name].freeze_panes == "A2", name
    widths = book["assignments"].column_dimensions
    assert 8 <= widths["A"].width <= 60


def test_workbook_content_round_trips(workbook_path, demo_result):
    assignments = pd.read_excel(workbook_path, sheet_name="assignments", engine="calamine")
    assert assignments["store_id"].tolist() == demo_result.assignments["store_id"].tolist()
    assert assignments["final_cluster"].tolist() == demo_result.assignments["final_cluster"].tolist()
    k_selection = pd.read_excel(workbook_path, sheet_name="k_selection", engine="calamine")
    assert set(k_selection["dataset"]) == {"internal", "external"}


def test_config_sheet_reproduces_the_run(workbook_path, demo_result):
    lines = pd.read_excel(workbook_path, sheet_name="config", engine="calamine")["config"].fillna("")
    config = config_from_dict(yaml.safe_load("\n".join(lines)))
    assert config == demo_result.config


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_csv_and_parquet_hold_the_assignments(tmp_path, demo_result, fmt):
    path = write_result(demo_result, tmp_path / f"out.{fmt}", fmt)
    frame = pd.read_csv(path) if fmt == "csv" else pd.read_parquet(path)
    assert frame["final_cluster"].tolist() == demo_result.assignments["final_cluster"].tolist()


def test_same_result_same_bytes(tmp_path, demo_result):
    first = write_result(demo_result, tmp_path / "a.xlsx").read_bytes()
    time.sleep(1.1)  # the writer stamps the clock, to the second, unless the dates are fixed
    assert first == write_result(demo_result, tmp_path / "b.xlsx").read_bytes()


def test_header_format_filters_and_awkward_columns(tmp_path):
    frame = pd.DataFrame(
        {
            "text": pd.array(["a", None, "=1+1"], dtype="string"),
            "count": pd.array([1, None, 3], dtype="Int64"),
            "flag": pd.array([True, None, False], dtype="boolean"),
            "ratio": [1.5, np.nan, np.inf],
            "level": pd.Categorical(["u", "v", None]),
            0: ["int", "column", "name"],
        }
    )
    path = tmp_path / "awkward.xlsx"
    write_workbook({"awkward": frame, "empty": frame.head(0)}, path)
    sheet = openpyxl.load_workbook(path)["awkward"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:F4"
    assert sheet["A1"].font.b and sheet["A1"].fill.fgColor.rgb.endswith("E8EEF7")
    rows = [[cell.value for cell in row] for row in sheet.iter_rows(min_row=1)]
    assert rows[0] == ["text", "count", "flag", "ratio", "level", "0"]
    assert rows[1] == ["a", 1, True, 1.5, "u", "int"]
    assert rows[2] == [None, None, None, None, "v", "column"]
    assert rows[3] == ["=1+1", 3, False, "inf", None, "name"]  # text stays text, never a formula
    assert sheet["A4"].data_type == "s"
    empty = pd.read_excel(path, sheet_name="empty", engine="calamine")
    assert list(empty.columns) == ["text", "count", "flag", "ratio", "level", "0"] and empty.empty


def test_a_table_too_long_for_excel_is_refused_before_writing(tmp_path):
    path = tmp_path / "long.xlsx"
    with pytest.raises(UserInputError, match=r"table 'sales' has 1,048,576 rows.*Nothing was written"):
        write_workbook({"sales": pd.DataFrame({"units": np.zeros(EXCEL_ROWS, dtype=np.int8)})}, path)
    assert not path.exists()


def test_unknown_format_and_missing_folder(tmp_path, demo_result):
    with pytest.raises(UserInputError, match="format 'json' is not supported"):
        write_result(demo_result, tmp_path / "out.json")
    with pytest.raises(UserInputError, match="does not exist"):
        write_result(demo_result, tmp_path / "missing" / "out.xlsx")


def test_result_sheets_match_the_documented_order(demo_result):
    assert list(result_sheets(demo_result)) == SHEETS


# CSV injection (OWASP): a text cell that a spreadsheet would run as a formula.
FORMULAS = [
    '=HYPERLINK("http://evil.example","click")',
    "+1+1",
    "-2+3",
    "@SUM(A1)",
    "\tx",
    "\r=x",
    "=cmd|' /C calc'!A0",
]


def test_a_csv_never_holds_a_live_formula_and_numbers_stay_numbers(tmp_path):
    from clustering.io.export import read_csv, write_csv

    frame = pd.DataFrame(
        {
            "store_id": [*FORMULAS, "S1"],
            "sales": [-5.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, -7.25],
            "mixed": pd.Series([-1, "=1", 2, "a", None, "-x", 3.5, "b"], dtype=object),
            "=header": range(8),
        }
    )
    path = tmp_path / "out.csv"
    write_csv(frame, path)
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)  # as a spreadsheet sees the cells
    for column in raw.columns:
        for cell in raw[column]:
            assert not cell.startswith(("=", "+", "@", "\t", "\r")) and not cell.startswith("-x"), (
                column,
                cell,
            )
    assert raw["store_id"].tolist()[:2] == ["'" + FORMULAS[0], "'+1+1"] and "'=header" in raw.columns
    assert raw["sales"].tolist()[0] == "-5.0" and raw["mixed"].tolist()[0] == "-1"  # numbers as numbers
    back = read_csv(path)
    assert back["store_id"].tolist() == frame["store_id"].tolist() and "=header" in back.columns


def test_the_cli_csv_output_neutralizes_formula_ids(tmp_path, demo_sheets):
    from clustering.cli import main
    from tests.profiles import quick_config_file

    sheets = {name: demo_sheets[name].copy() for name in ("internal", "external")}
    for frame in sheets.values():
        frame.loc[0, "store_id"] = FORMULAS[0]
    source, out = tmp_path / "stores.xlsx", tmp_path / "assignments.csv"
    write_workbook(sheets, source)
    args = ["run", "--config", str(quick_config_file(tmp_path)), "--input", str(source), "--output", str(out)]
    assert main([*args, "--format", "csv", "--no-track"]) == 0
    ids = pd.read_csv(out, dtype=str)["store_id"]
    assert "'" + FORMULAS[0] in set(ids) and not ids.str.startswith("=").any()


def test_every_csv_is_written_by_the_one_writer():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    writers = [
        path.relative_to(root).as_posix()
        for folder in ("clustering", "ui", "pages")
        for path in (root / folder).rglob("*.py")
        if re.search(r"\.to_csv\(", path.read_text(encoding="utf-8"))
    ]
    assert writers == ["clustering/io/export.py"], writers
