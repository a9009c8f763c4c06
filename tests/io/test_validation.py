import numpy as np
import pandas as pd
import pytest

from clustering.errors import UserInputError
from clustering.io.validation import check_table, compare_ids, validate_table


def frame(**columns):
    data = {"store_id": ["S1", "S2", "S3", "S4"], "revenue": [1.0, 2.0, 3.0, 4.0]}
    data.update(columns)
    result = pd.DataFrame(data)
    result.attrs["source"] = "stores.xlsx, sheet 'internal'"
    return result


def test_valid_table_is_typed_and_indexed_by_id():
    table = validate_table(frame(format=["a", "b", "a", None]), "store_id")
    assert table.numeric == ["revenue"]
    assert table.categorical == ["format"]
    assert list(table.frame.index) == ["S1", "S2", "S3", "S4"]
    assert table.frame["revenue"].tolist() == [1.0, 2.0, 3.0, 4.0]
    assert table.findings == []


def test_missing_id_column_lists_columns_and_suggests_a_near_match():
    data = frame().rename(columns={"store_id": "Store ID"})
    with pytest.raises(UserInputError) as error:
        validate_table(data, "store_id")
    message = str(error.value)
    assert "stores.xlsx, sheet 'internal': ID column 'store_id' is missing" in message
    assert "The columns are: Store ID, revenue" in message
    assert "A column named 'Store ID' exists" in message


def test_blank_ids_name_the_spreadsheet_rows():
    data = frame()
    data.loc[1, "store_id"] = None
    data.loc[3, "store_id"] = "  "
    with pytest.raises(UserInputError, match=r"'store_id' is blank in 2 row\(s\): rows 3, 5\."):
        validate_table(data, "store_id")


def test_duplicate_ids_name_the_id_and_rows():
    data = frame()
    data.loc[2, "store_id"] = "S1"
    with pytest.raises(UserInputError, match=r"1 duplicated ID\(s\): 'S1' \(rows 2, 4\)"):
        validate_table(data, "store_id")


def test_text_in_numeric_column_names_column_rows_and_values():
    values = [str(v) for v in range(1, 21)]
    values[4] = "n/a"
    data = pd.DataFrame({"store_id": [f"S{i}" for i in range(20)], "revenue": values})
    data.attrs["source"] = "stores.csv"
    with pytest.raises(UserInputError) as error:
        validate_table(data, "store_id")
    assert "stores.csv: column 'revenue' is numeric but has text in 1 row(s): row 6: 'n/a'" in str(
        error.value
    )


def test_numbers_stored_as_text_are_converted():
    data = frame(area=["10", "20", "30", ""])
    table = validate_table(data, "store_id")
    assert table.frame["area"].tolist()[:3] == [10.0, 20.0, 30.0]
    assert np.isnan(table.frame["area"].iloc[3])


def test_no_numeric_features():
    data = pd.DataFrame({"store_id": ["A", "B"], "format": ["x", "y"]})
    data.attrs["source"] = "stores.csv"
    with pytest.raises(UserInputError, match=r"stores\.csv: has no numeric feature columns.*format"):
        validate_table(data, "store_id")


@pytest.mark.parametrize("data", [pd.DataFrame(columns=["store_id", "revenue"]), pd.DataFrame()])
def test_empty_sheet(data):
    data.attrs["source"] = "book.xlsx, sheet 'internal'"
    with pytest.raises(UserInputError, match=r"sheet 'internal': is empty"):
        validate_table(data, "store_id")


def test_every_error_is_reported_at_once():
    data = pd.DataFrame(
        {"store_id": ["S1", None, *[f"S{i}" for i in range(2, 20)]], "area": ["1"] * 19 + ["x"]}
    )
    with pytest.raises(UserInputError) as error:
        validate_table(data, "store_id", "book.csv")
    lines = str(error.value).splitlines()
    assert len(lines) == 2
    assert "blank in 1 row(s): rows 3" in lines[0]
    assert "column 'area' is numeric but has text in 1 row(s): row 21: 'x'" in lines[1]


def test_float_ids_from_excel_become_integer_text():
    data = pd.DataFrame({"store_id": [1001.0, 1002.0, np.nan], "revenue": [1.0, 2.0, 3.0]})
    table = check_table(data, "store_id")
    assert any("rows 4" in f.message for f in table.findings)
    clean = validate_table(data.dropna(), "store_id")
    assert list(clean.frame.index) == ["1001", "1002"]


def test_ids_in_one_dataset_only_are_counted_not_dropped():
    internal = validate_table(frame(), "store_id", "internal")
    other = frame()
    other.loc[0, "store_id"] = "S9"
    external = validate_table(other, "store_id", "external")
    findings = compare_ids({"internal": internal, "external": external})
    texts = [f.message for f in findings]
    assert any(t.startswith("1 of 4 stores are in internal but not in external (e.g. S1)") for t in texts)
    assert any(t.startswith("1 of 4 stores are in external but not in internal (e.g. S9)") for t in texts)
    assert all(f.level == "warning" for f in findings)
