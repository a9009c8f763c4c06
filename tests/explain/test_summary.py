"""The answer a merchant reads first: the headline, the summary sheet and numbers for people."""

from __future__ import annotations

import re

import openpyxl
import pandas as pd
import pytest

from clustering.demo import dfu_demo, store_demo
from clustering.explain.labels import column_words
from clustering.explain.profiling import TOP_FEATURES
from clustering.explain.summary import headline, summary_table, what_sets_apart
from clustering.formats import COUNT, NUMBER, P_VALUE, SHARE, TEXT, column_kind, count, number, percent
from clustering.io.export import result_sheets, write_workbook
from clustering.model.stability import stability_word
from clustering.pipeline import run
from tests.profiles import quick_preset


@pytest.fixture(scope="module")
def store_result():
    return run(quick_preset("store"), store_demo(600, 7))


def test_the_headline_says_how_many_of_what_how_natural_how_stable_and_what_separates(store_result):
    text = headline(store_result)
    segments = store_result.assignments["final_cluster"].nunique()
    assert text.startswith(f"{segments} segments of 600 stores")
    internal, external = (c.k for c in store_result.clustered.values())
    assert f"({internal} internal × {external} external segments)" in text
    assert "natural groups" in text or "continuum" in text
    assert "resampled" in text or "provisional" in text
    top = column_words(store_result.explanation.feature_tests["feature"].iloc[0], store_result.config.columns)
    assert f"What most separates them: {top}" in text  # in the data dictionary's words


def test_a_dfu_run_speaks_of_dfus():
    result = run(quick_preset("dfu"), dfu_demo(300, 24, seed=3))
    text = headline(result)
    assert "DFUs" in text and "store" not in text
    assert "DFUs" in summary_table(result).columns


def test_the_segments_table_puts_names_before_codes_and_sums_to_every_store(store_result):
    table = summary_table(store_result)
    assert list(table.columns) == ["segment", "code", "stores", "share of stores", "stability"]
    assert table["stores"].sum() == 600 and abs(table["share of stores"].sum() - 1) < 1e-9
    names = store_result.names.set_index("segment")["label"]
    assert (table["segment"] == table["code"].map(names)).all()
    assert set(table["stability"]) <= {"stable", "a pattern", "unstable"}


def test_the_workbook_opens_on_the_summary_with_formats_for_people(store_result, tmp_path):
    path = tmp_path / "result.xlsx"
    write_workbook(result_sheets(store_result), path)
    book = openpyxl.load_workbook(path)
    assert book.sheetnames[0] == "summary"
    summary = book["summary"]
    assert summary["A1"].value == headline(store_result)
    assert summary["A1"].font.b and not summary["A2"].font.b  # the headline stands out, alone
    header = [cell.value for cell in summary[4]]
    assert header[:5] == ["segment", "code", "stores", "share of stores", "stability"]
    assert summary.cell(5, 4).number_format == "0.0%"  # a share reads as a percentage
    assert summary.cell(5, 3).number_format == "#,##0"  # a count as a whole number
    segments = book["segments"]
    columns = {cell.value: cell.column for cell in segments[1]}
    assert segments.cell(2, columns["share"]).number_format == "0.0%"
    assert segments.cell(2, columns["size"]).number_format == "#,##0"
    tests = book["feature_tests"]
    columns = {cell.value: cell.column for cell in tests[1]}
    assert tests.cell(2, columns["anova_p"]).number_format == '[<0.001]"< 0.001";0.000'


def test_column_kinds_and_values_for_people():
    assert column_kind("share", pd.Series([0.0335, 0.5])) == SHARE
    assert column_kind("share of stores", pd.Series([0.2])) == SHARE
    assert column_kind("share_fresh", pd.Series([12.0, 40.0])) != SHARE  # not within 0..1: a percent already
    assert column_kind("size", pd.Series([273.0, 12.0])) == COUNT
    assert column_kind("anova_p", pd.Series([3e-26])) == P_VALUE
    assert column_kind("net_sales", pd.Series([12794618.553305656])) == NUMBER
    assert column_kind("label", pd.Series(["a"])) == TEXT
    assert percent(0.0335) == "3.4%" and count(2000.0) == "2,000"
    assert number(12794618.553305656) == "12,794,619" and number(327.6674) == "328"
    assert number(17.23) == "17.2" and number(0.0335) == "0.0335"


@pytest.mark.parametrize(
    ("jaccard", "word"), [(0.9, "stable"), (0.75, "stable"), (0.7, "a pattern"), (0.32, "unstable")]
)
def test_one_stability_scale(jaccard, word):
    assert stability_word(jaccard) == word


def test_the_grid_crosses_the_two_levels_with_names_and_holds_every_store(store_result):
    from clustering.explain.summary import level_names, segment_grid

    grid = segment_grid(store_result)
    internal, external = (c.k for c in store_result.clustered.values())
    assert grid.shape == (internal, external)
    assert grid.to_numpy().sum() == len(store_result.assignments)  # every store in one cell
    names = level_names(store_result)
    assert list(grid.index) == [f"{names['internal'][f'I{i}']} (I{i})" for i in range(1, internal + 1)]
    assert all(label.endswith(")") and " (E" in label for label in grid.columns)
    finals = store_result.assignments["final_cluster"].value_counts()
    first = grid.index[0].rsplit(" (", 1)[1].rstrip(")")
    for column in grid.columns:
        code = f"{first}-{column.rsplit(' (', 1)[1].rstrip(')')}"
        assert grid.loc[grid.index[0], column] == finals.get(code, 0)


def test_one_dataset_has_no_grid():
    from clustering.config import config_from_dict
    from clustering.explain.summary import segment_grid

    config = config_from_dict(
        {"datasets": {"internal": {"cluster": {"k": 3}}}, "stability": {"enabled": False}}
    )
    result = run(config, {"internal": store_demo(200, 3)["internal"]})
    assert segment_grid(result).empty


def test_what_sets_a_segment_apart_is_said_in_the_data_dictionarys_words(store_result):
    apart = what_sets_apart(store_result)
    assert set(apart.index) == set(store_result.assignments["final_cluster"])
    columns = store_result.config.columns
    for text in apart:
        parts = text.split(", ")
        assert 1 <= len(parts) <= TOP_FEATURES and all(
            re.search(r"\([+−]\d+\.\d SD\)$", part) for part in parts
        )
        assert "_" not in text  # names in words, not snake_case
    said = " ".join(apart)
    assert any(info.label in said for info in columns.values() if info.label)
