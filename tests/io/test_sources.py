import io

import pandas as pd
import pytest

from clustering.errors import UserInputError
from clustering.io import sources
from clustering.io.export import write_workbook
from clustering.io.sources import list_sheets, read_table


@pytest.fixture
def small_frame():
    return pd.DataFrame({"store_id": ["A", "B", "C"], "revenue": [1.5, 2.0, 3.25], "format": ["x", "y", "x"]})


@pytest.fixture
def workbook(tmp_path, small_frame):
    path = tmp_path / "stores.xlsx"
    write_workbook({"internal": small_frame, "other": small_frame.head(1)}, path)
    return path


def test_reads_the_chosen_sheet(workbook, small_frame):
    frame = read_table(workbook, "internal")
    pd.testing.assert_frame_equal(frame, small_frame, check_dtype=False)
    assert frame.attrs["source"] == "stores.xlsx, sheet 'internal'"
    assert len(read_table(workbook, "other")) == 1


def test_first_sheet_by_default_and_sheet_list(workbook):
    assert list_sheets(workbook) == ["internal", "other"]
    assert len(read_table(workbook)) == 3


def test_reads_uploaded_bytes_with_a_filename(workbook):
    frame = read_table(workbook.read_bytes(), "internal", filename="upload.xlsx")
    assert list(frame["store_id"]) == ["A", "B", "C"]


def test_missing_sheet_lists_the_sheets(workbook):
    with pytest.raises(
        UserInputError, match=r"stores\.xlsx has no sheet 'external'\. Its sheets are: internal, other"
    ):
        read_table(workbook, "external")


def test_not_a_workbook(tmp_path):
    path = tmp_path / "fake.xlsx"
    path.write_text("this is not a zip file")
    with pytest.raises(UserInputError, match=r"fake\.xlsx is not a readable Excel workbook"):
        read_table(path)


def test_unsupported_extension_names_file_and_alternatives(tmp_path):
    path = tmp_path / "stores.json"
    path.write_text("{}")
    with pytest.raises(UserInputError, match=r"stores\.json: files of type '\.json' cannot be read.*\.xlsx"):
        read_table(path)


def test_missing_file(tmp_path):
    with pytest.raises(UserInputError, match="file not found"):
        read_table(tmp_path / "nope.csv")


@pytest.mark.parametrize("separator", [",", ";"])
def test_csv_with_comma_or_semicolon(tmp_path, small_frame, separator):
    path = tmp_path / "stores.csv"
    small_frame.to_csv(path, index=False, sep=separator)
    frame = read_table(path)
    assert list(frame.columns) == ["store_id", "revenue", "format"]
    assert frame["revenue"].tolist() == [1.5, 2.0, 3.25]


def test_empty_csv(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(UserInputError, match=r"empty\.csv is empty"):
        read_table(path)


def test_parquet_round_trip(tmp_path, small_frame):
    path = tmp_path / "stores.parquet"
    small_frame.to_parquet(path)
    pd.testing.assert_frame_equal(read_table(path), small_frame, check_dtype=False)


def test_broken_parquet(tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1 nonsense")
    with pytest.raises(UserInputError, match=r"broken\.parquet is not a readable Parquet file"):
        read_table(path)


def test_openpyxl_is_the_fallback_when_calamine_fails(workbook, monkeypatch, small_frame):
    real = pd.ExcelFile
    engines = []

    def excel_file(buffer, engine):
        engines.append(engine)
        if engine == "calamine":
            raise ValueError("calamine cannot read this")
        return real(buffer, engine=engine)

    monkeypatch.setattr(sources.pd, "ExcelFile", excel_file)
    frame = read_table(io.BytesIO(workbook.read_bytes()), "internal", filename="stores.xlsx")
    assert engines == ["calamine", "openpyxl"]
    assert frame["store_id"].tolist() == small_frame["store_id"].tolist()


def test_headers_are_trimmed(tmp_path):
    path = tmp_path / "spaces.csv"
    path.write_text(" store_id ,revenue \nA,1\nB,2\n")
    assert list(read_table(path).columns) == ["store_id", "revenue"]
