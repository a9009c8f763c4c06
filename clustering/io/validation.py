"""Check a table before it is clustered, and say exactly what is wrong and where.

Row numbers in messages are spreadsheet rows: the header is row 1, so the first data
row is row 2. Errors stop the run (``UserInputError``); warnings are reported and kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from clustering.errors import UserInputError
from clustering.io.numbers import MISSING_MARKERS, ParsedNumbers, parse_numbers

NUMERIC_SHARE = 0.9  # a text column whose values are at least 90% numbers is numeric
IDENTIFIER_LEVELS, IDENTIFIER_SHARE = 100, 0.05  # text columns beyond both are identifier-like
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
    """A checked table: IDs as text in the index, numeric and categorical feature columns, and
    identifier-like text columns (kept for display and joins, never encoded or tested)."""

    frame: pd.DataFrame
    numeric: list[str]
    categorical: list[str]
    source: str
    findings: list[Finding] = field(default_factory=list)
    identifiers: list[str] = field(default_factory=list)

    @property
    def features(self) -> pd.DataFrame:
        """The columns that describe entities statistically (identifiers left out)."""
        return self.frame.drop(columns=self.identifiers) if self.identifiers else self.frame


def sheet_rows(positions: np.ndarray | list[int], index: pd.Index | None = None) -> tuple[int, ...]:
    """Spreadsheet row numbers of 0-based data positions. Tables read from files carry their
    row labels (header = row 1 unless title rows were skipped, blank rows dropped): with an
    integer ``index`` those labels count; otherwise the header is row 1."""
    if index is not None and pd.api.types.is_integer_dtype(index) and len(positions):
        return tuple(int(label) + 2 for label in index[np.asarray(positions)])
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
    return _trimmed_text(values)


def distinct_texts(values: pd.Series) -> int:
    """How many distinct present values a column holds, read as text, by sorting them and
    counting where neighbours differ: hashing a million text IDs (factorize, nunique) takes
    240 MB for its table, a sort 44 MB, for a little more time; no Python string is made per value."""
    present = pc.drop_null(pa.array(values.astype("string").array))
    if len(present) < 2:
        return len(present)
    ordered = present.take(pc.sort_indices(present))
    return 1 + pc.sum(pc.not_equal(ordered[1:], ordered[:-1])).as_py()


def all_distinct(ids: pd.Series) -> bool:
    """Whether no present ID repeats (``distinct_texts``' sort, not a hash table)."""
    return distinct_texts(ids) == ids.notna().sum()


def _check_ids(frame: pd.DataFrame, id_column: str, source: str, ids: pd.Series | None) -> list[Finding]:
    """Findings about the ID column: missing, blank or duplicated IDs (``ids``: the column
    normalized, None when it is missing)."""
    if ids is None:
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
    findings = []
    blank = np.flatnonzero(ids.isna().to_numpy())
    if blank.size:
        rows = sheet_rows(blank, frame.index)
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
    if all_distinct(ids):
        return findings  # every ID once: the usual case, and the cheap one
    duplicated = ids.duplicated(keep=False) & ids.notna()
    if duplicated.any():
        groups = ids[duplicated].groupby(ids[duplicated], sort=True).groups
        details = [
            f"'{value}' (rows {', '.join(map(str, sheet_rows(np.flatnonzero(ids.eq(value)), frame.index)))})"
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
                rows=sheet_rows(np.flatnonzero(duplicated.to_numpy()), frame.index),
            )
        )
    return findings


def _classify(column: pd.Series, name: str, source: str) -> tuple[str, pd.Series | None, list[Finding]]:
    """'numeric', 'categorical' or 'ignored' for a column; numeric columns come with their values
    as floats (non-finite values and missing markers empty) and a finding per coercion."""
    if pd.api.types.is_bool_dtype(column):
        return "categorical", None, []
    if pd.api.types.is_datetime64_any_dtype(column):
        note = f"column '{name}' holds dates and is not used as a feature."
        return "ignored", None, [Finding("info", source, note, column=name)]
    if pd.api.types.is_numeric_dtype(column):
        values = column.astype("float64")
        infinite = np.flatnonzero(np.isinf(values.to_numpy()))
        if not infinite.size:
            return "numeric", values, []
        rows = sheet_rows(infinite, column.index)
        note = (
            f"column '{name}': {infinite.size:,} infinite value(s) were read as empty "
            f"(rows {_examples(list(rows))}); they are imputed like other missing values."
        )
        values = values.where(~np.isinf(values), np.nan)
        return "numeric", values, [Finding("warning", source, note, column=name, rows=rows)]
    text = column.astype("string").str.strip()
    present = text[text.notna() & (text != "")]
    if present.empty:
        return "numeric", pd.Series(np.nan, index=column.index), []
    looks, parsed = _looks_numeric(present)
    if not looks:
        return "categorical", None, []
    if len(parsed.values) < len(present):  # a sample was read: now read every cell
        parsed = parse_numbers(column)
    parsed.values = parsed.values.reindex(column.index)  # empty cells: NaN, as parsed
    written = present[~present.str.lower().isin(MISSING_MARKERS)]
    if len(written) and parsed.values.notna().sum() < NUMERIC_SHARE * len(written):
        return "categorical", None, []
    findings = [Finding("info", source, note, column=name) for note in parsed.notes(name)]
    if parsed.unparsed.empty:
        return "numeric", parsed.values, findings
    positions = column.index.get_indexer(parsed.unparsed.index)
    rows = sheet_rows(positions, column.index)
    values = [f"row {r}: '{v}'" for r, v in zip(rows, parsed.unparsed, strict=True)]
    message = (
        f"column '{name}' is numeric but has text in {len(positions)} row(s): {_examples(values)}. "
        f"Replace the text with numbers or leave those cells empty."
    )
    return "numeric", parsed.values, [*findings, Finding("error", source, message, column=name, rows=rows)]


def _looks_numeric(present: pd.Series, sample: int = 2_000) -> tuple[bool, ParsedNumbers]:
    """Cheap first look on a fixed sample: could this text column be numbers? (Parsing every
    cell of a long text column of names would cost more than the answer is worth.) Returns
    the sample's parse too: for a column of up to ``sample`` values it is the whole column's."""
    head = present.iloc[:: max(1, len(present) // sample)]
    parsed = parse_numbers(head)
    written = (~head.str.lower().isin(MISSING_MARKERS)).sum()
    return bool(written == 0 or parsed.values.notna().sum() >= 0.5 * written), parsed


def _empty_rows(frame: pd.DataFrame, source: str) -> list[Finding]:
    """Rows with no value in any feature column: kept, and said so."""
    if frame.shape[1] == 0:
        return []
    empty = np.flatnonzero(frame.isna().all(axis=1).to_numpy())
    if not empty.size:
        return []
    rows = sheet_rows(empty, frame.index)
    message = (
        f"{empty.size:,} row(s) have no usable value in any feature column (rows {_examples(list(rows))}). "
        f"They are kept: every value is imputed (median, or the most frequent level) and the row "
        f"joins the segment nearest to that typical profile."
    )
    return [Finding("warning", source, message, rows=rows)]


def check_table(frame: pd.DataFrame, id_column: str, source: str | None = None) -> ValidatedTable:
    """Check a raw table and return it typed, with every finding (errors included)."""
    source = source or frame.attrs.get("source", "table")
    if frame.shape[0] == 0:
        message = "is empty: it has a header but no data rows. Pick the sheet that holds the data."
        if frame.shape[1] == 0:
            message = "is empty: no header and no data. Pick the sheet that holds the data."
        return ValidatedTable(frame, [], [], source, [Finding("error", source, message)])
    findings = [Finding("info", source, note) for note in frame.attrs.get("notes", [])]
    ids = normalize_ids(frame[id_column]) if id_column in frame.columns else None
    findings += _check_ids(frame, id_column, source, ids)
    numeric: dict[str, pd.Series] = {}
    categorical, identifiers = [], []
    for name in frame.columns:
        if name == id_column:
            continue
        kind, values, found = _classify(frame[name], name, source)
        findings += found
        if kind == "numeric":
            numeric[name] = values
        elif kind == "categorical" and _identifier_like(frame[name]):
            identifiers.append(name)
            findings.append(_identifier_note(frame[name], name, source))
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
        typed = _typed_frame(frame, ids, numeric, [*categorical, *identifiers])
        findings += _empty_rows(typed.drop(columns=identifiers), source)
    return ValidatedTable(typed, list(numeric), categorical, source, findings, identifiers)


def _unchanged(column: pd.Series, values: pd.Series) -> bool:
    """Whether a numeric column's checked values are its parsed floats, not a converted copy."""
    return column.dtype == np.float64 and np.shares_memory(column.to_numpy(), values.to_numpy())


def _trimmed_text(column: pd.Series) -> pd.Series:
    """Text without surrounding spaces, a blank cell missing; the column itself when it is
    already that (the trimmed copy is only made, and kept, when a cell changes)."""
    text = column.astype("string")
    trimmed = text.str.strip()
    trimmed = trimmed.mask(trimmed == "")
    return text if trimmed.equals(text) else trimmed


def _identifier_like(column: pd.Series) -> bool:
    """A text column with more than IDENTIFIER_LEVELS distinct values and more than
    IDENTIFIER_SHARE of them per row (codes, names, addresses): one-hot encoding or a
    chi-square test of it says nothing and costs much."""
    distinct = distinct_texts(column)
    return distinct > IDENTIFIER_LEVELS and distinct > IDENTIFIER_SHARE * column.notna().sum()


def _identifier_note(column: pd.Series, name: str, source: str) -> Finding:
    distinct = distinct_texts(column)
    message = (
        f"column '{name}' has {distinct:,} distinct values, like a code or a name: it is kept to describe "
        f"entities, but not encoded for clustering or tested across segments (name it in "
        f"preprocess.include to cluster on it anyway)."
    )
    return Finding("info", source, message, column=name)


SHARED_COLUMNS = 100


def _typed_frame(
    frame: pd.DataFrame, ids: pd.Series, numeric: dict[str, pd.Series], categorical: list[str]
) -> pd.DataFrame:
    """The checked table: numbers as floats, text trimmed (blank is missing), indexed by ID.
    Float columns that needed no change are the parsed ones themselves, in the parsed block
    (a 100 MB upload is held once, not twice); the converted ones are one new block, so the
    table stays a few blocks, as fast to slice as before (a table of over SHARED_COLUMNS
    columns is copied into one)."""
    same = [name for name, values in numeric.items() if _unchanged(frame[name], values)]
    converted = {name: v.to_numpy(dtype=np.float64) for name, v in numeric.items() if name not in same}
    parts = [frame[same]]
    if converted:
        parts.append(pd.DataFrame(converted, index=frame.index))
    if categorical:
        texts = {name: _trimmed_text(frame[name]) for name in categorical}
        parts.append(pd.DataFrame(texts, index=frame.index, copy=False))
    typed = pd.concat(parts, axis=1)[[*numeric, *categorical]]
    if len(typed.columns) > SHARED_COLUMNS:  # a wide sheet may come column by column: one block
        typed = typed.copy()
    typed.index = pd.Index(ids, name=ids.name)
    typed.attrs = {k: v for k, v in frame.attrs.items() if k != "notes"}
    return typed


def validate_table(frame: pd.DataFrame, id_column: str, source: str | None = None) -> ValidatedTable:
    """Like ``check_table`` but raise one UserInputError listing every error found."""
    table = check_table(frame, id_column, source)
    errors = [f.text() for f in table.findings if f.level == "error"]
    if errors:
        raise UserInputError("\n".join(errors))
    return table


def align_id_case(tables: dict[str, ValidatedTable]) -> list[Finding]:
    """Match IDs that differ only in letter case ('S0001' and 's0001') across two datasets: the
    second dataset's IDs take the first's spelling, and a finding says how many. Only when the
    case-folded IDs are unique in both tables, so no two entities are ever merged into one."""
    if len(tables) != 2:
        return []
    (first, a), (second, b) = tables.items()
    ids_a = a.frame.index.to_numpy(dtype=object)
    ids_b = b.frame.index.to_numpy(dtype=object)
    known = set(ids_a)
    if all(i in known for i in ids_b):  # the common case: nothing to match
        return []
    folded_a = pd.Index([i.casefold() for i in ids_a], dtype=object)
    folded_b = pd.Index([i.casefold() for i in ids_b], dtype=object)
    if folded_a.has_duplicates or folded_b.has_duplicates:
        return []
    spelling = pd.Series(ids_a, index=folded_a)
    folded_known = set(folded_a)
    matched = np.array([i not in known and f in folded_known for i, f in zip(ids_b, folded_b, strict=True)])
    if not matched.any():
        return []
    renamed = pd.Index(
        np.where(matched, spelling.reindex(folded_b).to_numpy(), b.frame.index), name=b.frame.index.name
    )
    examples = [
        f"'{old}' → '{new}'"
        for old, new in zip(b.frame.index[matched][:3], renamed[matched][:3], strict=True)
    ]
    b.frame.index = renamed.astype("string")
    message = (
        f"{int(matched.sum()):,} ID(s) of {second} match IDs of {first} only when letter case is ignored "
        f"({', '.join(examples)}); they were matched and take {first}'s spelling."
    )
    return [Finding("warning", f"{first} vs {second}", message)]


def check_shared_ids(first: str, a: pd.Index, second: str, b: pd.Index, id_column: str) -> None:
    """Merging two datasets needs entities in both: none shared is an input error that says so."""
    if a.intersection(b).empty:
        raise UserInputError(
            f"{first} and {second} share no {id_column}: nothing can be merged. Examples: {first} has "
            f"{', '.join(map(str, a[:3]))}; {second} has {', '.join(map(str, b[:3]))}. Check that both "
            f"use the same IDs (the same column, the same codes), or set merge.enabled to false."
        )


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


def column_summary(frame: pd.DataFrame, unique: tuple[str, ...] = ()) -> pd.DataFrame:
    """One row per column: type, missing %, distinct values and an example, for a data preview.
    The ``unique`` columns (a checked table's IDs) are known to hold every value once: their
    distinct count is not counted again; text is counted by sorting, not hashing."""
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
        distinct = (
            len(present)
            if name in unique
            else distinct_texts(present)
            if kind == "text"
            else present.nunique()
        )
        rows.append(
            {
                "column": str(name),
                "type": kind,
                "missing %": round(100 * column.isna().mean(), 2) if len(column) else 0.0,
                "distinct": int(distinct),
                "example": str(present.iloc[0]) if len(present) else "",
            }
        )
    return pd.DataFrame(rows)
