import numpy as np
import pandas as pd
import pytest

from clustering.errors import UserInputError
from clustering.io.validation import (
    all_distinct,
    check_table,
    column_summary,
    compare_ids,
    distinct_texts,
    validate_table,
)


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
    values[4] = "twelve"
    data = pd.DataFrame({"store_id": [f"S{i}" for i in range(20)], "revenue": values})
    data.attrs["source"] = "stores.csv"
    with pytest.raises(UserInputError) as error:
        validate_table(data, "store_id")
    assert "stores.csv: column 'revenue' is numeric but has text in 1 row(s): row 6: 'twelve'" in str(
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


def test_numbers_written_like_excel_users_write_them_are_read_and_reported():
    data = frame(
        margin=["12.5%", "8%", "10 %", "n/a"],
        sales=["$1,234.50", "$990", "$12,000", "$5"],
        cost=["1.234,5", "99,5", "0,75", "12"],
    )
    table = validate_table(data, "store_id")
    assert table.numeric == ["revenue", "margin", "sales", "cost"]
    assert table.frame["margin"].tolist()[:3] == [0.125, 0.08, 0.1]
    assert np.isnan(table.frame["margin"].iloc[3])
    assert table.frame["sales"].tolist() == [1234.5, 990.0, 12000.0, 5.0]
    assert table.frame["cost"].tolist() == [1234.5, 99.5, 0.75, 12.0]
    notes = [f.message for f in table.findings]
    assert "column 'margin': 3 values written as percentages were read as fractions (12.5% → 0.125)." in notes
    assert any(n.startswith("column 'margin': 1 cell(s) holding a missing-value marker") for n in notes)
    assert any(n.startswith("column 'sales': 4 values with a currency symbol") for n in notes)
    assert any(n.startswith("column 'cost': 3 values with a decimal comma") for n in notes)


def test_infinite_values_are_read_as_missing_with_their_rows():
    table = validate_table(frame(area=[1.0, np.inf, -np.inf, 4.0]), "store_id")
    assert table.frame["area"].isna().tolist() == [False, True, True, False]
    (finding,) = [f for f in table.findings if f.column == "area"]
    assert finding.level == "warning" and finding.rows == (3, 4)
    assert "2 infinite value(s) were read as empty (rows 3, 4)" in finding.message


def test_rows_without_any_feature_value_are_kept_and_counted():
    data = frame(area=[1.0, np.nan, 3.0, 4.0])
    data.loc[1, "revenue"] = np.nan
    table = validate_table(data, "store_id")
    assert len(table.frame) == 4
    (finding,) = table.findings
    assert finding.rows == (3,) and "1 row(s) have no usable value in any feature column" in finding.message


def test_ids_differing_only_in_case_are_matched_and_said():
    from clustering.io.validation import align_id_case

    a = validate_table(frame(), "store_id")
    lower = frame()
    lower["store_id"] = lower["store_id"].str.lower()
    b = validate_table(lower, "store_id")
    findings = align_id_case({"internal": a, "external": b})
    assert list(b.frame.index) == ["S1", "S2", "S3", "S4"]
    assert "4 ID(s) of external match IDs of internal only when letter case is ignored" in findings[0].message


def test_ids_that_collide_when_case_is_ignored_are_left_alone():
    from clustering.io.validation import align_id_case

    a = validate_table(frame(), "store_id")
    clash = frame()
    clash["store_id"] = ["s1", "S1", "s3", "s4"]  # 's1' and 'S1' are two stores here
    b = validate_table(clash, "store_id")
    assert align_id_case({"internal": a, "external": b}) == []
    assert list(b.frame.index) == ["s1", "S1", "s3", "s4"]


def test_two_datasets_without_a_shared_id_cannot_be_merged():
    from clustering.io.validation import check_shared_ids

    with pytest.raises(UserInputError, match=r"internal and external share no store_id.*internal has A1, A2"):
        check_shared_ids("internal", pd.Index(["A1", "A2"]), "external", pd.Index(["B1"]), "store_id")


def identifier_frame(rows=400):
    rng = np.random.default_rng(0)
    data = pd.DataFrame(
        {
            "store_id": [f"S{i}" for i in range(rows)],
            "revenue": rng.normal(100, 10, rows),
            "item_code": [f"ITEM-{i:05d}" for i in rng.permutation(rows)],  # near-unique text
            "format": rng.choice(["mall", "street", "outlet"], rows),
        }
    )
    data.attrs["source"] = "stores.xlsx, sheet 'internal'"
    return data


def test_identifier_like_text_columns_are_kept_but_not_features():
    table = validate_table(identifier_frame(), "store_id")
    assert table.identifiers == ["item_code"]
    assert table.categorical == ["format"]
    assert "item_code" in table.frame.columns
    assert "item_code" not in table.features.columns
    (note,) = [f for f in table.findings if f.column == "item_code"]
    assert note.level == "info"
    assert "400 distinct values" in note.message and "preprocess.include" in note.message


def test_a_text_column_with_few_levels_stays_categorical():
    data = identifier_frame(rows=2000)
    data["item_code"] = [f"ITEM-{i % 90}" for i in range(2000)]  # 90 levels: under the limit
    table = validate_table(data, "store_id")
    assert table.identifiers == []
    assert table.categorical == ["item_code", "format"]


def test_the_checked_table_holds_the_parsed_columns_not_copies():
    rows = 5_000
    raw = pd.DataFrame(
        {
            "store_id": [f"S{i}" for i in range(rows)],
            "revenue": np.linspace(1, 2, rows),
            "margin": np.linspace(0, 1, rows),
            "format": pd.array(["hyper", "super"] * (rows // 2), dtype="string"),
            "region": pd.array([" North ", "South"] * (rows // 2), dtype="string"),
        }
    )
    typed = validate_table(raw, "store_id").frame
    for column in ("revenue", "margin"):  # a 100 MB upload is held once, not twice
        assert np.shares_memory(typed[column].to_numpy(), raw[column].to_numpy())
    assert typed["format"].equals(raw["format"].set_axis(typed.index))  # nothing to trim: kept as is
    assert typed["region"].iloc[0] == "North"  # trimmed where a cell needed it
    counts = raw.assign(visits=np.arange(rows), revenue=raw["revenue"].where(raw.index > 0, np.inf))
    converted = validate_table(counts, "store_id").frame
    assert converted["visits"].dtype == np.float64 and converted["visits"].iloc[-1] == rows - 1
    assert np.isnan(converted["revenue"].iloc[0])  # an infinite cell is empty: a converted copy
    assert list(converted.columns) == ["revenue", "margin", "visits", "format", "region"]


def test_the_column_summary_counts_distinct_values_and_trusts_checked_ids():
    checked = validate_table(frame(format=["a", "b", "a", None]), "store_id").frame.reset_index()
    summary = column_summary(checked, unique=("store_id",)).set_index("column")
    assert summary.loc["store_id", "distinct"] == 4 and summary.loc["format", "distinct"] == 2
    assert summary.loc["format", "missing %"] == 25.0 and summary.loc["revenue", "type"] == "number"
    assert column_summary(checked).set_index("column").loc["store_id", "distinct"] == 4  # the same, hashed


@pytest.mark.parametrize(
    "values",
    [
        ["S1", "S2", "S1", None, "S3", "", "s1"],
        [],
        [None, None],
        ["only"],
        ["b", "a", "b", "a"],
        [f"S{i % 997:05d}" for i in range(5_000)],
    ],
)
def test_distinct_texts_counts_as_hashing_does(values):
    column = pd.Series(values, dtype="string")
    assert distinct_texts(column) == column.nunique(dropna=True)
    assert all_distinct(column) == (column.nunique(dropna=True) == column.notna().sum())
