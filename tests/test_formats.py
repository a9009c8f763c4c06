"""Numbers for people: units from the data dictionary, identifiers left alone, Plotly's axis
formats and p-values in a table's cell."""

from __future__ import annotations

import pandas as pd
import pytest

from clustering.formats import (
    TEXT,
    column_kind,
    excel_format,
    first_upper,
    formatted,
    p_cell,
    plotly_format,
    with_unit,
)


@pytest.mark.parametrize(
    ("text", "unit", "shown"),
    [("12,795", "$", "$12,795"), ("-3.5", "€", "-€3.5"), ("1,250", "m²", "1,250 m²"), ("7", None, "7")],
)
def test_a_unit_goes_where_a_reader_expects_it(text, unit, shown):
    assert with_unit(text, unit) == shown


@pytest.mark.parametrize("name", ["store_id", "id", "item_code", "year", "DFU_ID"])
def test_identifiers_and_years_are_not_counts(name):
    values = pd.Series([1001, 2024, 3005])
    assert column_kind(name, values) == TEXT
    assert excel_format(name, values) is None  # no thousands separator in 1001


def test_plotly_formats_follow_the_column_kind():
    assert plotly_format("share_fresh", pd.Series([0.2, 0.4])) == ".1%"
    assert plotly_format("size", pd.Series([12, 400])) == ",d"
    assert plotly_format("revenue", pd.Series([12794618.55, 9000000.1])) == ",.0f"
    assert plotly_format("avg_basket", pd.Series([3.25, 4.5])) == ",.2f"
    assert plotly_format("format", pd.Series(["hyper"])) == ""


def test_a_p_value_cell_is_never_zero():
    assert p_cell(0.0) == "< 0.001" and p_cell(3e-26) == "< 0.001"
    assert p_cell(0.41234) == "0.412" and p_cell(float("nan")) == ""


def test_a_label_starts_upper_case_without_lowering_the_rest():
    assert first_upper("DFUs that moved") == "DFUs that moved"
    assert first_upper("stores that moved") == "Stores that moved"


def test_one_value_reads_as_its_column_with_its_unit():
    assert formatted(0.0896, "share_fresh", pd.Series([0.1, 0.2])) == "9.0%"
    assert formatted(3.0, "staff_count", pd.Series([3.0, 18.0]), "people") == "3 people"
    assert formatted(101800.0, "median_income", pd.Series([101800.5, 85700.25]), "$") == "$101,800"
    assert formatted(float("nan"), "revenue", pd.Series([1.5])) == ""
