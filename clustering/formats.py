"""Numbers for people, decided in one place for the pages, the workbook and the report.

A column's *kind* comes from its name and values: a **share** (``share``, ``share_*``,
``share of ...``, ``*_share``, ``precision``, ``fidelity``, values within 0..1) shows as a percentage, a
**count** (whole numbers: sizes, rows, moves) with thousands separators and no decimals, a
**p-value** (``p_value``, ``*_p``) as ``p < 0.001`` below that, any other number with
decimals by its magnitude; identifiers and years (``id``, ``*_id``, ``*_code``, ``year``) stay
as they are. The same kinds give the workbook's Excel number formats and Plotly's axis formats.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

SHARE, COUNT, P_VALUE, NUMBER, TEXT = "share", "count", "p-value", "number", "text"
SHARE_NAME = re.compile(r"^(share|share[ _].+|.+[ _]share|precision|rule_precision|fidelity|overlap)$")
P_VALUE_NAME = re.compile(r"^(p_value|.+_p)$")
IDENTIFIER_NAME = re.compile(r"^(id|.+_id|id_.+|.+_code|code|.+_key|year|fiscal_year)$", re.IGNORECASE)
CURRENCIES = ("$", "€", "£", "¥", "USD", "EUR", "GBP")
EXCEL_FORMATS = {
    SHARE: "0.0%",
    COUNT: "#,##0",
    P_VALUE: '[<0.001]"< 0.001";0.000',
}


def column_kind(name: str, values: pd.Series) -> str:
    """The kind of a column (module docstring)."""
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return TEXT
    if IDENTIFIER_NAME.match(str(name)):
        return TEXT
    present = pd.to_numeric(values, errors="coerce").dropna()
    present = present[np.isfinite(present)]
    if P_VALUE_NAME.match(str(name)):
        return P_VALUE
    if SHARE_NAME.match(str(name)) and (present.empty or present.between(0, 1).all()):
        return SHARE
    if pd.api.types.is_integer_dtype(values) or (not present.empty and (present == present.round()).all()):
        return COUNT
    return NUMBER


def format_name(frame: pd.DataFrame, column: object) -> str:
    """The name a frame's column is formatted by: the column that ``frame.attrs['format_as']``
    names for it when there is one (the 25th percentile of a share is a share), else its own."""
    return frame.attrs.get("format_as", {}).get(column, str(column))


def frame_column_kind(frame: pd.DataFrame, column: object) -> str:
    """The kind of a frame's column (``format_name``)."""
    return column_kind(format_name(frame, column), frame[column])


def decimals_for(values: pd.Series) -> int:
    """Decimals that show a column's typical value with three significant digits, at most 3:
    0 from 100 up, 1 from 10, 2 from 1, else 3."""
    present = pd.to_numeric(values, errors="coerce").abs().dropna()
    typical = float(present.median()) if not present.empty else 0.0
    return 0 if typical >= 100 else 1 if typical >= 10 else 2 if typical >= 1 else 3


def excel_format(name: str, values: pd.Series) -> str | None:
    """The Excel number format of a column (None: text, left as it is)."""
    kind = column_kind(name, values)
    if kind == TEXT:
        return None
    if kind in EXCEL_FORMATS:
        return EXCEL_FORMATS[kind]
    places = decimals_for(values)
    return "#,##0" + ("." + "0" * places if places else "")


def percent(share: float, places: int = 1) -> str:
    """0.0712 -> '7.1%'."""
    return f"{100 * share:.{places}f}%"


def count(value: float) -> str:
    """2000 -> '2,000'."""
    return f"{round(value):,}"


def number(value: float) -> str:
    """A measure with decimals by its magnitude: 12794618.55 -> '12,794,619', 327.6674 ->
    '328', 17.23 -> '17.2', 0.0335 -> '0.0335'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:,.1f}"
    if magnitude >= 1:
        return f"{value:,.2f}"
    return f"{value:.3g}"


def p_cell(p: float) -> str:
    """A p-value in a table's cell: '< 0.001' below that, else three significant digits."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return ""
    return "< 0.001" if p < 0.001 else f"{p:.3g}"


def p_text(p: float) -> str:
    """A p-value as a reader expects it: ``p < 0.001`` below that, else ``p = 0.0123``."""
    return "p < 0.001" if p < 0.001 else f"p = {p:.3g}"


def with_unit(text: str, unit: str | None) -> str:
    """A formatted number with its unit from the data dictionary: a currency before it
    ('$12,795'), any other unit after it ('1,250 m²')."""
    if not unit:
        return text
    if unit in CURRENCIES:
        return f"-{unit}{text[1:]}" if text.startswith("-") else f"{unit}{text}"
    return f"{text} {unit}"


def formatted(value: float, name: str, values: pd.Series, unit: str | None = None) -> str:
    """One value as its column reads (``values``: the column), with its unit: a share as
    '9.0%', a count as '3', a measure by its magnitude, '' when missing."""
    if value is None or pd.isna(value):
        return ""
    kind = column_kind(name, values)
    shown = percent(value, 1) if kind == SHARE else count(value) if kind == COUNT else number(float(value))
    return with_unit(shown, unit)


def plotly_format(name: str, values: pd.Series) -> str:
    """The d3 format of a column's axis and hover: '.1%' for shares, ',d' for counts, ',.2f'
    by magnitude otherwise ('' for text)."""
    kind = column_kind(name, values)
    if kind == SHARE:
        return ".1%"
    if kind == COUNT:
        return ",d"
    if kind in (NUMBER, P_VALUE):
        return f",.{decimals_for(values)}f"
    return ""


def first_upper(text: str) -> str:
    """A phrase that starts a sentence or a label: 'DFUs that moved' stays 'DFUs' (not the
    'Dfus' of str.capitalize)."""
    return text[:1].upper() + text[1:]
