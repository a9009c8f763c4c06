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
    "assignments",
    "segments",
    "labels",
    "profiles",
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
