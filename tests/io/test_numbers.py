import numpy as np
import pandas as pd
import pytest

from clustering.io.numbers import parse_numbers


def values(cells):
    return parse_numbers(pd.Series(cells, dtype="string"))


@pytest.mark.parametrize(
    ("cells", "expected", "kind"),
    [
        (["12.5%", "3%", "100 %"], [0.125, 0.03, 1.0], "percent"),
        (["$1,234.50", "€ 12", "1 234 EUR", "-€12"], [1234.5, 12.0, 1234.0, -12.0], "currency"),
        (["1,234", "12,345", "1,000,000"], [1234.0, 12345.0, 1e6], "grouping"),
        (["1.234,5", "0,75", "12,5"], [1234.5, 0.75, 12.5], "decimal_comma"),
        (["(1,234)", "1234-"], [-1234.0, -1234.0], "negative"),
        (["1'234.5", "12\u00a0345"], [1234.5, 12345.0], "grouping"),
    ],
)
def test_spreadsheet_decorations_are_read_and_counted(cells, expected, kind):
    parsed = values(cells)
    np.testing.assert_allclose(parsed.values.to_numpy(), expected)
    assert parsed.counts[kind] >= 1
    assert parsed.unparsed.empty


def test_a_decimal_comma_column_reads_thousands_dots_too():
    parsed = values(["1.000", "2,5", "12"])  # '1.000' is one thousand where commas are decimals
    assert parsed.values.tolist() == [1000.0, 2.5, 12.0]


def test_a_comma_column_without_decimal_evidence_reads_thousands():
    assert values(["1,000", "2,500"]).values.tolist() == [1000.0, 2500.0]


def test_missing_markers_and_infinities_become_empty_and_are_counted():
    parsed = values(["1", "n/a", "#DIV/0!", "-", "inf", "-Infinity", "2"])
    assert parsed.values.isna().tolist() == [False, True, True, True, True, True, False]
    assert parsed.counts["missing_marker"] == 3 and parsed.counts["non_finite"] == 2
    assert parsed.unparsed.empty


def test_real_text_is_left_unparsed_with_its_position():
    parsed = values(["1", "twelve", "3"])
    assert parsed.unparsed.to_dict() == {1: "twelve"}


def test_notes_say_what_was_coerced_in_words():
    notes = values(["12.5%", "3%"]).notes("margin")
    assert notes == [
        "column 'margin': 2 values written as percentages were read as fractions (12.5% → 0.125)."
    ]
