import openpyxl
import pandas as pd
import pytest
import yaml

from clustering.config import config_from_dict
from clustering.errors import UserInputError
from clustering.io.export import result_sheets, write_result

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
    assert first == write_result(demo_result, tmp_path / "b.xlsx").read_bytes()


def test_unknown_format_and_missing_folder(tmp_path, demo_result):
    with pytest.raises(UserInputError, match="format 'json' is not supported"):
        write_result(demo_result, tmp_path / "out.json")
    with pytest.raises(UserInputError, match="does not exist"):
        write_result(demo_result, tmp_path / "missing" / "out.xlsx")


def test_result_sheets_match_the_documented_order(demo_result):
    assert list(result_sheets(demo_result)) == SHEETS
