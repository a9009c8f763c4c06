"""Check a table before it is clustered, and say exactly what is wrong and where.

Row numbers in messages are spreadsheet rows: the header is row 1, so the first data
row is row 2. Errors stop the run (``UserInputError``); warnings are reported and kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from clustering.errors import UserInputError

NUMERIC_SHARE = 0.9  # a text column whose values are at least 90% numbers is numeric
MAX_EXAMPLES = 5


@dataclass(frozen=True)
class Finding:
    """One thing validation noticed, in words an analyst can act on."""

    level: Literal["error", "warning", "info"]
    source: str
    message: str
    column: str | None = None
    rows: tuple[int, ...] = ()

    def text(self) -> str:
        return f"{self.source}: {self.message}"


@dataclass
class ValidatedTable:
    """A checked table: IDs as text in the index, numeric and categorical feature columns."""

    frame: pd.DataFrame
    numeric: list[str]
    categorical: list[str]
    source: str
    findings: list[Finding] = field(default_factory=list)


def sheet_rows(positions: np.ndarray | list[int]) -> tuple[int, ...]:
    """Spreadsheet row numbers (header = row 1) of 0-based data positions."""
    return tuple(int(p) + 2 for p in positions)


def _examples(values: list[object]) -> str:
    shown = ", ".join(str(v) for v in values[:MAX_EXAMPLES])
    return shown + (f" and {len(values) - MAX_EXAMPLES} more" if len(values) > MAX_EXAMPLES else "")


def normalize_ids(values: pd.Series) -> pd.Series:
    """IDs as trimmed text; whole-number floats (1001.0 from Excel) become '1001'."""
    if pd.api.types.is_float_dtype(values):
        finite = values.dropna()
        if (finite == np.floor(finite)).all():
            values = values.astype("Int64")
    text = values.astype("string").str.strip()
    return text.mask(text == "")


def _check_ids(frame: pd.DataFrame, id_column: str, source: str) -> list[Finding]:
    if id_column not in frame.columns:
        near = [c for c in frame.columns if c.lower().replace(" ", "_") == id_column.lower()]
        hint = f" A column named '{near[0]}' exists: rename it or set the ID column to it." if near else ""
        columns = _examples(list(frame.columns))
        return [
            Finding(
                "error",
                source,
                f"ID column '{id_column}' is missing. The columns are: {columns}.{hint}",
                column=id_column,
            )
        ]
    ids = normalize_ids(frame[id_column])
    findings = []
    blank = np.flatnonzero(ids.isna().to_numpy())
    if blank.size:
        rows = sheet_rows(blank)
        findings.append(
            Finding(
                "error",
                source,
                f"ID column '{id_column}' is blank in {blank.size} row(s): rows {_examples(list(rows))}. "
                f"Fill in the IDs or delete those rows.",
                column=id_column,
                rows=rows,
            )
        )
    duplicated = ids.duplicated(keep=False) & ids.notna()
    if duplicated.any():
        groups = ids[duplicated].groupby(ids[duplicated], sort=True).groups
        details = [
            f"'{value}' (rows {', '.join(str(p + 2) for p in np.flatnonzero(ids.eq(value)))})"
            for value in list(groups)[:MAX_EXAMPLES]
        ]
        more = f" and {len(groups) - MAX_EXAMPLES} more" if len(groups) > MAX_EXAMPLES else ""
        findings.append(
            Finding(
                "error",
                source,
                f"ID column '{id_column}' has {len(groups)} duplicated ID(s): {'; '.join(details)}{more}. "
                f"Each ID must appear once: remove or merge the duplicates.",
                column=id_column,
                rows=sheet_rows(np.flatnonzero(duplicated.to_numpy())),
            )
        )
    return findings


def _classify(column: pd.Series, name: str, source: str) -> tuple[str, Finding | None]:
    """'numeric', 'categorical' or 'ignored' for a column, with a finding if it is broken."""
    if pd.api.types.is_bool_dtype(column):
        return "categorical", None
    if pd.api.types.is_numeric_dtype(column):
        return "numeric", None
    if pd.api.types.is_datetime64_any_dtype(column):
        note = f"column '{name}' holds dates and is not used as a feature."
        return "ignored", Finding("info", source, note, column=name)
    present = column.dropna()
    present = present[present.astype("string").str.strip() != ""]
    if present.empty:
        return "numeric", None
    as_number = pd.to_numeric(present, errors="coerce")
    share = as_number.notna().mean()
    if share < NUMERIC_SHARE:
        return "categorical", None
    bad = present.index[as_number.isna()]
    if bad.empty:
        return "numeric", None
    positions = column.index.get_indexer(bad)
    rows = sheet_rows(positions)
    values = [f"row {r}: '{v}'" for r, v in zip(rows, present.loc[bad], strict=True)]
    message = (
        f"column '{name}' is numeric but has text in {len(bad)} row(s): {_examples(values)}. "
        f"Replace the text with numbers or leave those cells empty."
    )
    return "numeric", Finding("error", source, message, column=name, rows=rows)


def check_table(frame: pd.DataFrame, id_column: str, source: str | None = None) -> ValidatedTable:
    """Check a raw table and return it typed, with every finding (errors included)."""
    source = source or frame.attrs.get("source", "table")
    if frame.shape[0] == 0:
        message = "is empty: it has a header but no data rows. Pick the sheet that holds the data."
        if frame.shape[1] == 0:
            message = "is empty: no header and no data. Pick the sheet that holds the data."
        return ValidatedTable(frame, [], [], source, [Finding("error", source, message)])
    findings = _check_ids(frame, id_column, source)
    numeric, categorical = [], []
    for name in frame.columns:
        if name == id_column:
            continue
        kind, finding = _classify(frame[name], name, source)
        if finding:
            findings.append(finding)
        if kind == "numeric":
            numeric.append(name)
        elif kind == "categorical":
            categorical.append(name)
    if not numeric and id_column in frame.columns:
        findings.append(
            Finding(
                "error",
                source,
                "has no numeric feature columns to cluster on"
                + (f" (the other columns are text: {_examples(categorical)})" if categorical else "")
                + ". Add numeric columns such as revenue or population.",
            )
        )
    typed = frame
    if not any(f.level == "error" for f in findings):
        typed = _typed_frame(frame, id_column, numeric, categorical)
    return ValidatedTable(typed, numeric, categorical, source, findings)


def _typed_frame(
    frame: pd.DataFrame, id_column: str, numeric: list[str], categorical: list[str]
) -> pd.DataFrame:
    data = {name: pd.to_numeric(frame[name], errors="coerce").astype("float64") for name in numeric}
    for name in categorical:
        text = frame[name].astype("string").str.strip()
        data[name] = text.mask(text == "")
    typed = pd.DataFrame(data, index=frame.index)
    typed.index = pd.Index(normalize_ids(frame[id_column]), name=id_column)
    typed.attrs = dict(frame.attrs)
    return typed


def validate_table(frame: pd.DataFrame, id_column: str, source: str | None = None) -> ValidatedTable:
    """Like ``check_table`` but raise one UserInputError listing every error found."""
    table = check_table(frame, id_column, source)
    errors = [f.text() for f in table.findings if f.level == "error"]
    if errors:
        raise UserInputError("\n".join(errors))
    return table


def compare_ids(tables: dict[str, ValidatedTable], entity: str = "stores") -> list[Finding]:
    """Report entities present in one dataset but not the other, with counts and examples."""
    if len(tables) != 2:
        return []
    (first, a), (second, b) = tables.items()
    findings = []
    for here, there, name_here, name_there in ((a, b, first, second), (b, a, second, first)):
        only = here.frame.index.difference(there.frame.index, sort=False)
        if len(only):
            findings.append(
                Finding(
                    "warning",
                    f"{name_here} vs {name_there}",
                    f"{len(only)} of {len(here.frame)} {entity} are in {name_here} but not in "
                    f"{name_there} (e.g. {_examples(sorted(only.astype(str)))}). They keep their "
                    f"{name_here} segment and are assigned to the nearest merged segment using "
                    f"{name_here} features only (coverage '{name_here} only').",
                )
            )
    return findings


def column_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per column: type, missing %, distinct values and an example, for a data preview."""
    rows = []
    for name in frame.columns:
        column = frame[name]
        present = column.dropna()
        kind = (
            "number"
            if pd.api.types.is_numeric_dtype(column)
            else "date"
            if pd.api.types.is_datetime64_any_dtype(column)
            else "text"
        )
        rows.append(
            {
                "column": str(name),
                "type": kind,
                "missing %": round(100 * column.isna().mean(), 2) if len(column) else 0.0,
                "distinct": int(present.nunique()),
                "example": str(present.iloc[0]) if len(present) else "",
            }
        )
    return pd.DataFrame(rows)
