"""Read tables from Excel workbooks, CSV and Parquet files (paths or uploaded bytes).

Workbooks are read with python-calamine (about 6x faster than openpyxl here) and fall
back to openpyxl when calamine cannot parse a file. Every failure is a UserInputError
that names the file and, for workbooks, the sheet.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import BinaryIO

import pandas as pd

from clustering.errors import UserInputError

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")
SUPPORTED_SUFFIXES = (*WORKBOOK_SUFFIXES, ".csv", ".parquet")

Source = str | Path | bytes | BinaryIO


def _name_and_suffix(source: Source, filename: str | None) -> tuple[str, str]:
    name = filename or (str(source) if isinstance(source, str | Path) else "uploaded file")
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UserInputError(
            f"{Path(name).name}: files of type '{suffix or 'without extension'}' cannot be read. "
            f"Use an Excel workbook (.xlsx, .xlsm), a .csv or a .parquet file."
        )
    return Path(name).name, suffix


def _buffer(source: Source) -> str | Path | io.BytesIO | BinaryIO:
    if isinstance(source, bytes):
        return io.BytesIO(source)
    if isinstance(source, str | Path) and not Path(source).is_file():
        raise UserInputError(f"{source}: file not found. Check the path.")
    return source


def _rewind(buffer: object) -> None:
    if hasattr(buffer, "seek"):
        buffer.seek(0)


def _excel_file(buffer: object, name: str) -> pd.ExcelFile:
    errors = []
    for engine in ("calamine", "openpyxl"):
        _rewind(buffer)
        try:
            return pd.ExcelFile(buffer, engine=engine)
        except Exception as error:  # both engines raise many unrelated types on bad files
            errors.append(error)
    raise UserInputError(
        f"{name} is not a readable Excel workbook ({type(errors[-1]).__name__}). "
        f"Open it in Excel and save it again as .xlsx, or export the sheet as CSV."
    )


def list_sheets(source: Source, filename: str | None = None) -> list[str]:
    """Names of the sheets of a workbook; a CSV or Parquet file has one unnamed table."""
    name, suffix = _name_and_suffix(source, filename)
    if suffix not in WORKBOOK_SUFFIXES:
        return []
    with _excel_file(_buffer(source), name) as workbook:
        return [str(sheet) for sheet in workbook.sheet_names]


def read_table(source: Source, sheet: str | None = None, filename: str | None = None) -> pd.DataFrame:
    """Read one table. ``sheet`` picks a workbook sheet (default: the first)."""
    name, suffix = _name_and_suffix(source, filename)
    buffer = _buffer(source)
    if suffix in WORKBOOK_SUFFIXES:
        frame = _read_sheet(buffer, name, sheet)
    elif suffix == ".csv":
        frame = _read_csv(buffer, name)
    else:
        frame = _read_parquet(buffer, name)
    frame.columns = [str(column).strip() for column in frame.columns]
    frame.attrs["source"] = f"{name}, sheet '{sheet}'" if sheet else name
    return frame


def _read_sheet(buffer: object, name: str, sheet: str | None) -> pd.DataFrame:
    with _excel_file(buffer, name) as workbook:
        sheets = [str(s) for s in workbook.sheet_names]
        if sheet is None:
            sheet = sheets[0]
        if sheet not in sheets:
            raise UserInputError(
                f"{name} has no sheet '{sheet}'. Its sheets are: {', '.join(sheets)}. "
                f"Pick one of those, or rename the sheet in Excel."
            )
        try:
            return pd.read_excel(workbook, sheet_name=sheet)
        except Exception as error:  # calamine may fail on a sheet openpyxl can read
            if workbook.engine == "openpyxl":
                raise UserInputError(f"{name}, sheet '{sheet}' cannot be read: {error}") from None
    _rewind(buffer)
    return pd.read_excel(buffer, sheet_name=sheet, engine="openpyxl")


def _read_csv(buffer: object, name: str) -> pd.DataFrame:
    try:
        if _small(buffer):
            try:
                return pd.read_csv(buffer, sep=None, engine="python")
            except csv.Error:  # the sniffer found no delimiter: one column, or empty
                _rewind(buffer)
        return pd.read_csv(buffer)
    except pd.errors.EmptyDataError:
        raise UserInputError(f"{name} is empty: it has no header row and no data.") from None
    except (UnicodeDecodeError, pd.errors.ParserError) as error:
        raise UserInputError(
            f"{name} is not a readable CSV file ({error}). Save it as UTF-8 CSV from Excel."
        ) from None


def _small(buffer: object) -> bool:
    """Sniff the delimiter (',' or ';') only for small files: sniffing is slow."""
    if isinstance(buffer, str | Path):
        return Path(buffer).stat().st_size < 5_000_000
    return isinstance(buffer, io.BytesIO) and buffer.getbuffer().nbytes < 5_000_000


def _read_parquet(buffer: object, name: str) -> pd.DataFrame:
    try:
        return pd.read_parquet(buffer)
    except Exception as error:  # pyarrow raises ArrowInvalid, OSError and others
        raise UserInputError(
            f"{name} is not a readable Parquet file ({type(error).__name__}). Export it again."
        ) from None
