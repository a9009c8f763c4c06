"""The Data page's reading of picked tables: workbook sheets side by side, the same frames as
one after the other, and a failure in one sheet is the reader's own message."""

from __future__ import annotations

import pandas as pd
import pytest

from clustering.demo import store_demo
from clustering.errors import UserInputError
from clustering.io.export import workbook_bytes
from ui.loading import read_choice, read_choices


@pytest.fixture(scope="module")
def workbook() -> bytes:
    sheets = store_demo(300, seed=3)
    return workbook_bytes({name: sheets[name] for name in ("internal", "external")})


def test_sheets_read_side_by_side_equal_sheets_read_in_turn(workbook):
    choices = {role: (workbook, "stores.xlsx", role) for role in ("internal", "external")}
    together = read_choices(choices)
    assert list(together) == ["internal", "external"]
    for role, choice in choices.items():
        pd.testing.assert_frame_equal(together[role], read_choice(choice))
        assert together[role].attrs["source"] == f"stores.xlsx, sheet '{role}'"


def test_a_missing_sheet_stops_the_read_with_its_name(workbook):
    choices = {
        "internal": (workbook, "stores.xlsx", "internal"),
        "external": (workbook, "stores.xlsx", "market"),
    }
    with pytest.raises(UserInputError, match="market"):
        read_choices(choices)
