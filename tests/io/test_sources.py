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


# -- formats analysts really have --------------------------------------------------------------


def xls_bytes(sheet: str, rows: list[list[object]]) -> bytes:
    import xlwt

    book = xlwt.Workbook()
    page = book.add_sheet(sheet)
    for i, row in enumerate(rows):
        for j, value in enumerate(row):
            page.write(i, j, value)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_excel_97_2003_xls_is_read():
    data = xls_bytes("internal", [["store_id", "revenue"], ["S1", 1.5], ["S2", 2.5]])
    assert list_sheets(data, filename="old.xls") == ["internal"]
    frame = read_table(data, "internal", filename="old.xls")
    assert frame["revenue"].tolist() == [1.5, 2.5]


def test_a_sheet_is_found_whatever_its_letter_case_and_the_note_says_so():
    data = xls_bytes("Internal", [["store_id", "revenue"], ["S1", 1.5]])
    frame = read_table(data, "internal", filename="old.xls")
    assert frame.attrs["source"] == "old.xls, sheet 'Internal'"
    assert "sheet 'internal' was not found; sheet 'Internal' was used" in frame.attrs["notes"][0]


def test_two_sheets_matching_only_when_case_and_spaces_are_ignored_are_not_guessed():
    assert sources.match_sheet("internal", ["Internal ", " INTERNAL", "external"]) is None
    assert sources.match_sheet("internal", ["Internal ", "external"]) == "Internal "


def test_csv_utf8_with_a_byte_order_mark_keeps_the_id_column_name():
    data = "store_id,revenue\nS1,1.5\nS2,2\n".encode("utf-8-sig")
    frame = read_table(data, filename="excel.csv")
    assert list(frame.columns) == ["store_id", "revenue"]
    assert "UTF-8 with a byte-order mark" in frame.attrs["notes"][0]


def test_windows_1252_csv_is_read_and_said():
    data = "store_id,city,revenue\nS1,Köln,1.5\nS2,Zürich,2\n".encode("cp1252")
    frame = read_table(data, filename="windows.csv")
    assert frame["city"].tolist() == ["Köln", "Zürich"]
    assert "Windows-1252" in frame.attrs["notes"][0]


def test_european_csv_semicolons_and_decimal_commas():
    data = b"store_id;revenue;area\nS1;1234,5;10\nS2;99,25;12\n"
    frame = read_table(data, filename="eu.csv")
    assert frame["revenue"].tolist() == [1234.5, 99.25]
    assert "delimiter ';', decimal separator ','" in frame.attrs["notes"][0]


def test_password_protected_workbook_is_named_as_such(workbook):
    from msoffcrypto.format.ooxml import OOXMLFile

    encrypted = io.BytesIO()
    OOXMLFile(io.BytesIO(workbook.read_bytes())).encrypt("secret", encrypted)
    with pytest.raises(
        UserInputError, match=r"locked\.xlsx is password-protected \(encrypted\).*remove the password"
    ):
        read_table(encrypted.getvalue(), "internal", filename="locked.xlsx")


def test_title_rows_above_the_header_are_skipped_and_rows_keep_their_numbers(tmp_path):
    import xlsxwriter

    path = tmp_path / "report.xlsx"
    book = xlsxwriter.Workbook(path)
    page = book.add_worksheet("internal")
    page.write(0, 0, "Store performance, Q3")
    page.write(1, 0, "Source: BI export")
    for j, header in enumerate(["store_id", "revenue", "area"]):
        page.write(3, j, header)
    for i in range(3):
        page.write_row(4 + i, 0, [f"S{i}", 10.0 * i, i])
    book.close()
    frame = read_table(path, "internal")
    assert list(frame.columns) == ["store_id", "revenue", "area"]
    assert frame["store_id"].tolist() == ["S0", "S1", "S2"]
    assert "the header was found in row 4" in frame.attrs["notes"][0]
    from clustering.io.validation import sheet_rows

    assert sheet_rows([0], frame.index) == (5,)  # the first data row is spreadsheet row 5


def test_csv_title_lines_are_skipped():
    data = b"Weekly store report\n\nstore_id,revenue\nS1,1\nS2,2\n"
    frame = read_table(data, filename="report.csv")
    assert list(frame.columns) == ["store_id", "revenue"] and len(frame) == 2
    assert "lines 1-2 are a title above the table, the header is line 3" in frame.attrs["notes"][0]


def test_a_sheet_without_any_header_says_which_row_is_not_one(tmp_path):
    import xlsxwriter

    path = tmp_path / "noheader.xlsx"
    book = xlsxwriter.Workbook(path)
    page = book.add_worksheet("internal")
    page.write(0, 0, "just a note")
    for i in range(4):
        page.write_row(1 + i, 0, [i, 2.0 * i, 3.0 * i])
    book.close()
    frame = read_table(path, "internal")
    assert "row 1 does not look like a header" in frame.attrs["notes"][0]


def test_empty_columns_and_rows_are_dropped_and_counted():
    data = b"store_id,,revenue\nS1,,1\n,,\nS2,,2\n"
    frame = read_table(data, filename="gaps.csv")
    assert list(frame.columns) == ["store_id", "revenue"] and len(frame) == 2
    notes = " ".join(frame.attrs["notes"])
    assert "1 empty column(s) without a header were ignored" in notes


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252"])
def test_a_csv_parse_reports_its_progress_and_reads_the_same_table(encoding):
    frame = pd.DataFrame({"store_id": [f"S{i}" for i in range(100_000)], "city": "Zürich", "sales": 1.5})
    data = frame.to_csv(index=False).encode(encoding)
    seen: list[float] = []
    with_progress = read_table(data, filename="stores.csv", progress=seen.append)
    pd.testing.assert_frame_equal(with_progress, read_table(data, filename="stores.csv"))
    assert len(seen) >= 5 and seen == sorted(seen) and seen[-1] == 1.0
    assert ("Windows-1252" in with_progress.attrs["notes"][0]) == (encoding == "cp1252")


def test_utf8_split_across_the_encoding_checks_slices_is_still_utf8(monkeypatch):
    monkeypatch.setattr(sources, "ENCODING_CHECK_BYTES", 3)  # every 'é' (2 bytes) straddles a cut somewhere
    data = "store_id,city\nS1,Orléans\nS2,Besançon\n".encode()
    assert sources._encoding(data) == "utf-8"
    assert sources._encoding("store_id,city\nS1,Orléans\n".encode("cp1252")) == "cp1252"
