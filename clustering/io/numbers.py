"""Read numbers the way spreadsheet users write them, and say what was assumed.

A text column is read as numbers when almost all its cells are numbers once the usual
spreadsheet decorations are understood:

- percentages, ``12.5%`` → 0.125 (a share, as Excel stores a formatted percentage);
- currency symbols and codes, ``$1,234.50``, ``€ 12``, ``1 234 EUR``;
- thousands separators: ``,`` ``.`` ``'``, spaces and non-breaking spaces;
- a decimal comma, ``1.234,5`` or ``0,75``; which of ``,`` and ``.`` is the decimal
  separator is decided per column, from the values that settle it (both present, or a
  comma followed by other than three digits);
- accounting negatives, ``(1,234)`` → -1234, and a trailing minus, ``1234-``;
- missing-value markers: ``n/a``, ``NA``, ``-``, ``null``, ``#N/A``, ``#DIV/0!``… become empty.

Non-finite results (``inf``) are not numbers a segmentation can use: they become empty too,
and are counted. ``parse_numbers`` returns the values and a count per decoration, so that
validation can report every coercion.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

MISSING_MARKERS = frozenset(
    {
        "",
        "-",
        "--",
        "—",
        "–",
        ".",
        "?",
        "na",
        "n/a",
        "n.a.",
        "nan",
        "none",
        "null",
        "nil",
        "missing",
        "#n/a",
        "#na",
        "#div/0!",
        "#value!",
        "#ref!",
        "#num!",
        "#name?",
        "#null!",
    }
)
CURRENCY = re.compile(
    r"^(?:[$€£¥₹]|usd|eur|gbp|chf|jpy|cad|aud)\s*|\s*(?:[$€£¥₹]|usd|eur|gbp|chf|jpy|cad|aud)$"
)
GROUPING = re.compile(r"[\s\u00a0\u202f']")
DECIMAL_COMMA_HINT = re.compile(
    r"^[-+]?\d*\.\d{3}(?:\.\d{3})*,\d*$|^[-+]?\d+,(?:\d{1,2}|\d{4,})$|^[-+]?,\d+$"
)
US_GROUPS = re.compile(r"^[-+]?\d{1,3}(?:,\d{3})+(?:\.\d*)?$")
EU_GROUPS = re.compile(r"^[-+]?\d{1,3}(?:\.\d{3})+(?:,\d*)?$")


@dataclass
class ParsedNumbers:
    """Values read from a text column (NaN where empty or not a number), and what was done."""

    values: pd.Series
    unparsed: pd.Series
    counts: dict[str, int] = field(default_factory=dict)

    def notes(self, column: str) -> list[str]:
        """One sentence per coercion, for the findings."""
        words = {
            "percent": "values written as percentages were read as fractions (12.5% → 0.125)",
            "currency": "values with a currency symbol or code were read as plain numbers",
            "grouping": "values with thousands separators were read as plain numbers",
            "decimal_comma": "values with a decimal comma were read as decimals (1.234,5 → 1234.5)",
            "negative": "values written as accounting negatives, (1,234) or 1234-, were read as negative",
            "missing_marker": "cell(s) holding a missing-value marker (n/a, -, #N/A…) were read as empty",
            "non_finite": "infinite value(s) were read as empty",
        }
        return [f"column '{column}': {n:,} {words[kind]}." for kind, n in self.counts.items() if n]


def _decimal_comma(text: pd.Series) -> bool:
    """Whether the column writes decimals with a comma, judged from the values that settle it."""
    with_comma = text[text.str.contains(",", regex=False)]
    if with_comma.empty:
        return False
    hints = with_comma.str.match(DECIMAL_COMMA_HINT)
    us = with_comma.str.match(US_GROUPS)
    return bool(hints.sum() > 0 and hints.sum() >= us.sum())


def parse_numbers(column: pd.Series) -> ParsedNumbers:
    """Numbers from a text (or mixed) column; see the module docstring for what is understood."""
    text = column.astype("string").str.strip()
    values = pd.to_numeric(text, errors="coerce").astype("float64")
    counts = {kind: 0 for kind in ("percent", "currency", "grouping", "decimal_comma", "negative")}
    counts["missing_marker"] = 0
    pending = values.isna() & text.notna()
    lowered = text.str.lower()
    marker = pending & lowered.isin(MISSING_MARKERS) & (text != "")
    counts["missing_marker"] = int(marker.sum())
    pending &= ~marker & (text != "")
    if pending.any():
        cleaned = _undecorated(text[pending])
        comma = _decimal_comma(cleaned)
        if comma:  # '1.234' parsed as 1.234 above is 1234 in a decimal-comma column
            pending |= values.notna() & text.str.match(r"^[-+]?\d{1,3}(?:\.\d{3})+$")
            cleaned = _undecorated(text[pending])
        parsed, found = _parse_decorated(text[pending], cleaned, comma)
        values[pending] = parsed
        counts.update(found)
    infinite = np.isinf(values.to_numpy())
    counts["non_finite"] = int(infinite.sum())
    if infinite.any():
        values[infinite] = np.nan
    unparsed = pending & values.isna()
    return ParsedNumbers(values, text[unparsed], counts)


def _undecorated(text: pd.Series) -> pd.Series:
    """Cells without percent signs, brackets, signs at the end, currency and grouping spaces."""
    cleaned = text.str.lower().str.rstrip("%").str.strip()
    cleaned = cleaned.str.replace(r"^\((.*)\)$", r"\1", regex=True).str.replace(r"-$", "", regex=True)
    cleaned = cleaned.str.replace(CURRENCY, "", regex=True).str.strip()
    cleaned = cleaned.str.replace(r"^([-+])\s*[$€£¥₹]\s*", r"\1", regex=True)
    return cleaned.str.replace(GROUPING, "", regex=True)


def _parse_decorated(text: pd.Series, cleaned: pd.Series, comma: bool) -> tuple[pd.Series, dict[str, int]]:
    """Parse the cells plain ``to_numeric`` refused; return values and counts per decoration.
    ``cleaned``: the cells ``_undecorated``; ``comma``: the column writes decimals with a comma."""
    counts: dict[str, int] = {}
    lowered = text.str.lower().str.strip()
    percent = lowered.str.endswith("%")
    bare = lowered.str.rstrip("%").str.strip()
    accounting = bare.str.match(r"^\(.*\)$") | bare.str.match(r"^[^-].*\d-$")
    bare = bare.str.replace(r"^\((.*)\)$", r"\1", regex=True).str.replace(r"-$", "", regex=True)
    without_currency = bare.str.replace(CURRENCY, "", regex=True).str.strip()
    currency = (without_currency != bare) | bare.str.match(r"^[-+]\s*[$€£¥₹]")
    grouped = without_currency.str.contains(GROUPING)
    if comma:
        decimal_comma = cleaned.str.contains(",", regex=False)
        eu_groups = cleaned.str.match(EU_GROUPS) | cleaned.str.contains(r"\.\d{3}(?:\.|,|$)")
        grouped |= eu_groups
        cleaned = cleaned.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    else:
        decimal_comma = pd.Series(False, index=text.index)
        eu_only = cleaned.str.match(r"^[-+]?\d{1,3}(?:\.\d{3}){2,}$")
        us_groups = cleaned.str.contains(",", regex=False)
        grouped |= us_groups | eu_only
        cleaned = cleaned.str.replace(",", "", regex=False)
        cleaned = cleaned.where(~eu_only, cleaned.str.replace(".", "", regex=False))
    values = pd.to_numeric(cleaned, errors="coerce").astype("float64")
    values = values.where(~accounting, -values.abs())
    values = values.where(~percent, values / 100)
    ok = values.notna()
    counts["percent"] = int((percent & ok).sum())
    counts["currency"] = int((currency & ok).sum())
    counts["grouping"] = int((grouped & ok & ~decimal_comma).sum())
    counts["decimal_comma"] = int((decimal_comma & ok).sum())
    counts["negative"] = int((accounting & ok).sum())
    return values, counts
