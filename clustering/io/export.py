"""Write results: a workbook of every sheet (rust_xlsxwriter), or the assignments as CSV/Parquet.

Workbooks get a frozen, bold header row, column widths fitted to the content and a
fixed creation date, so the same result always gives the same bytes.
"""

from __future__ import annotations

import io
import re
import zipfile
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np
import pandas as pd
import yaml
from rustpy_xlsxwriter import FastExcel, Format

from clustering.config import RunConfig, config_from_dict
from clustering.errors import UserInputError
from clustering.explain.distributions import distributions_sheet
from clustering.explain.labels import ANALYST, PreviousRun, profiles_in_words
from clustering.explain.profiling import segment_overview
from clustering.explain.summary import summary_sheet
from clustering.formats import excel_format, format_name
from clustering.io.sources import read_table

if TYPE_CHECKING:
    from clustering.results import RunResult

FIXED_DATE = datetime(2000, 1, 1)
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
TIMESTAMP = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
EXCEL_ROWS, EXCEL_COLUMNS = 1_048_576, 16_384  # an Excel sheet's limits, header row included
WIDTH_SAMPLE_ROWS = 1000
MAX_WIDTH = 60
BANNER_HEIGHT = 45.0  # points: three wrapped lines of a headline above a sheet's header


def _width(frame: pd.DataFrame, column: object) -> int:
    values = frame[column].head(WIDTH_SAMPLE_ROWS).astype("string").fillna("")
    longest = max([len(str(column)), *values.str.len().tolist()])
    return min(MAX_WIDTH, longest + 2)


def _excel_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns as plain values the writer understands: text, categories and nullable
    booleans as Python objects (missing: None), column names as text."""
    out = frame.copy()
    out.columns = [str(c) for c in out.columns]
    for column in out.columns:
        dtype = out[column].dtype
        if isinstance(dtype, pd.StringDtype | pd.CategoricalDtype | pd.BooleanDtype) or dtype is np.dtype(
            object
        ):
            out[column] = out[column].astype(object).where(out[column].notna(), None)
    return out


def check_fits_excel(sheets: dict[str, pd.DataFrame], target: str | Path | BinaryIO) -> None:
    """Refuse, before anything is written, tables larger than an Excel sheet can hold."""
    name = Path(target).name if isinstance(target, str | Path) else "the workbook"
    for sheet, frame in sheets.items():
        if len(frame) >= EXCEL_ROWS or len(frame.columns) > EXCEL_COLUMNS:
            raise UserInputError(
                f"{name}: table '{sheet}' has {len(frame):,} rows and {len(frame.columns):,} columns; an Excel "
                f"sheet holds {EXCEL_ROWS - 1:,} rows below its header and {EXCEL_COLUMNS:,} columns. Nothing "
                f"was written: write Parquet or CSV instead."
            )


def write_tables(sheets: dict[str, pd.DataFrame], folder: str | Path) -> list[Path]:
    """One Parquet file per table (``<folder>/<name>.parquet``), for tables of any size; a run
    reads them back with ``--input <folder>/<sales table>.parquet``."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UserInputError(f"{folder} is a file: give a folder for one Parquet file per table.")
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, frame in sheets.items():
        path = folder / f"{name}.parquet"
        frame.to_parquet(path, index=False)
        paths.append(path)
    return paths


def write_workbook(sheets: dict[str, pd.DataFrame], target: str | Path | BinaryIO) -> None:
    """Write each frame to its own sheet: header bold, shaded and frozen, filters on, widths
    fitted. Written by rust_xlsxwriter (several times faster than xlsxwriter
    through pandas: ``benchmarks/cli.py --writers``), with the document dates fixed so that the same sheets
    always give the same bytes."""
    check_fits_excel(sheets, target)
    header = Format().set_bold().set_background_color("#E8EEF7").set_border_bottom("thin")
    buffer = io.BytesIO()
    book = FastExcel(buffer, output_format="xlsx").format(inf_value="inf").freeze(row=1)
    for name, frame in sheets.items():
        safe = _excel_safe(frame)
        banner = list(frame.attrs.get("banner", []))
        book.sheet(
            name[:31],
            safe,
            header_format=header,
            column_widths=[float(_width(safe, c)) for c in safe.columns],
            column_formats=_number_formats(frame),
            autofilter=len(safe.columns) > 0,
            header_row=len(banner),
            merge_ranges=_banner_rows(banner, len(safe.columns)),
            row_heights={row: BANNER_HEIGHT for row in range(len(banner))},
        )
    book.save()
    data = _with_fixed_dates(buffer.getvalue())
    if isinstance(target, str | Path):
        Path(target).write_bytes(data)
    else:
        target.write(data)


def _number_formats(frame: pd.DataFrame) -> dict[str, Format]:
    """Each numeric column's Excel number format (clustering.formats): shares as percentages,
    counts as whole numbers with thousands separators, p-values as < 0.001, measures with
    decimals by magnitude."""
    formats = {}
    for column in frame.columns:
        number_format = excel_format(format_name(frame, column), frame[column])
        if number_format is not None:
            formats[str(column)] = Format().set_num_format(number_format)
    return formats


def _banner_rows(lines: list[str], columns: int) -> list[tuple]:
    """Lines of text above a sheet's header (the summary's headline and reading guide), each
    across the table's width, wrapped."""
    last = max(columns, 6) - 1
    return [(row, 0, row, last, line, _banner_format(bold=row == 0)) for row, line in enumerate(lines)]


def _banner_format(bold: bool) -> Format:
    """A new Format each time: a Format's setters change it in place, so one shared object
    would make every line bold."""
    wrapped = Format().set_text_wrap().set_align("top")
    return wrapped.set_bold() if bold else wrapped


def _with_fixed_dates(workbook: bytes) -> bytes:
    """The workbook with FIXED_DATE as its created and modified dates (the writer stamps the
    clock there, and nowhere else)."""
    stamp = FIXED_DATE.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    source = zipfile.ZipFile(io.BytesIO(workbook))
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as fixed:
        for entry in source.infolist():
            body = source.read(entry)
            if entry.filename == "docProps/core.xml":
                body = TIMESTAMP.sub(stamp, body)
            fixed.writestr(zipfile.ZipInfo(entry.filename, date_time=ZIP_EPOCH), body, zipfile.ZIP_DEFLATED)
    return output.getvalue()


def workbook_bytes(sheets: dict[str, pd.DataFrame]) -> bytes:
    """The workbook as bytes, for a download button."""
    buffer = io.BytesIO()
    write_workbook(sheets, buffer)
    return buffer.getvalue()


def config_sheet(yaml_text: str) -> pd.DataFrame:
    """The run's YAML, one line per row, so it can be read (and copied) in Excel."""
    return pd.DataFrame({"config": yaml_text.splitlines()})


def result_sheets(result: RunResult) -> dict[str, pd.DataFrame]:
    """Every sheet of the results workbook, in order."""
    findings = pd.DataFrame(
        [(f.level, f.source, f.message) for f in result.findings], columns=["level", "source", "message"]
    )
    single = len(result.clustered) == 1
    sheets = {
        "summary": summary_sheet(result),
        "assignments": result.assignments,
        "segments": segment_overview(result.explanation, result.stability if single else None),
        "labels": result.names,
        "profiles": profiles_in_words(result.profiles, result.config.columns, result.config.weights()),
        "distributions": distributions_sheet(
            result.explanation.distributions, result.names, result.config.entities()[1]
        ),
        "feature_tests": result.explanation.feature_tests,
        "rules": result.explanation.surrogate.rules,
        "stability": result.stability,
        "k_selection": result.k_selection,
        "k_consensus": result.k_consensus,
        "k_scenarios": result.k_scenarios,
        "metrics": result.metrics,
        "quality": result.quality,
        "merge_log": result.merge_log,
        "preprocessing": result.preprocessing,
    }
    reduction = result.reduction
    if not reduction.empty:
        sheets["reduction"] = reduction
    sheets["findings"] = findings
    sheets["config"] = config_sheet(result.config.to_yaml())
    return sheets


def _output(path: str | Path, fmt: str | None) -> tuple[Path, str]:
    """The output path and its format (from ``fmt`` or the extension), checked."""
    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".") or "xlsx").lower()
    if fmt not in ("xlsx", "csv", "parquet"):
        raise UserInputError(f"Output format '{fmt}' is not supported: use xlsx, csv or parquet.")
    if path.parent and not path.parent.exists():
        raise UserInputError(f"Output folder '{path.parent}' does not exist. Create it or pick another path.")
    return path, fmt


# A spreadsheet reads a cell that begins with one of these as a formula (=HYPERLINK(...),
# =cmd|...); OWASP's rule for CSV files: write such a text cell with a leading apostrophe.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
FORMULA_CELL = re.compile(r"^[=+\-@\t\r]")
NEUTRALIZED_CELL = re.compile(r"^'(?=[=+\-@\t\r])")


def _neutralize_text(series: pd.Series) -> pd.Series:
    """The text cells of ``series`` that would be formulas, with a leading apostrophe; numbers
    (and text that is safe) as they were."""
    is_text = series.map(lambda value: isinstance(value, str)).astype(bool)
    if not is_text.any():
        return series
    text = series[is_text].astype(str)
    risky = text.str.match(FORMULA_CELL)
    if not risky.any():
        return series
    safe = series.astype(object).copy()
    safe.loc[risky[risky].index] = "'" + text[risky]
    return safe


def neutralized(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with no cell or header a spreadsheet would run as a formula."""
    out = frame.copy(deep=False)
    for position in range(frame.shape[1]):
        series = frame.iloc[:, position]
        if not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_datetime64_any_dtype(series)):
            out.isetitem(position, _neutralize_text(series))
    out.columns = [
        f"'{c}" if isinstance(c, str) and c.startswith(FORMULA_START) else c for c in frame.columns
    ]
    return out


def write_csv(frame: pd.DataFrame, target: str | Path | None = None) -> str | None:
    """The one way this project writes CSV (files and downloads): no index, UTF-8, lines ended
    by CRLF as RFC 4180 has it (so a cell holding a line break is quoted), and every text cell
    that a spreadsheet would run as a formula written with a leading apostrophe (``read_csv``
    reads them back as they were). Returns the text when ``target`` is None."""
    return neutralized(frame).to_csv(target, index=False, lineterminator="\r\n")


def read_csv(path: str | Path) -> pd.DataFrame:
    """A CSV this project wrote (``write_csv``), its first column (the ID) as text and the
    apostrophes before formula-like cells taken off again."""
    frame = pd.read_csv(path, dtype={0: str})
    for position in range(frame.shape[1]):
        series = frame.iloc[:, position]
        if not pd.api.types.is_numeric_dtype(series):
            is_text = series.map(lambda value: isinstance(value, str)).astype(bool)
            if is_text.any():
                restored = series.astype(object).copy()
                restored[is_text] = series[is_text].astype(str).str.replace(NEUTRALIZED_CELL, "", regex=True)
                frame.isetitem(position, restored)
    frame.columns = [NEUTRALIZED_CELL.sub("", c) if isinstance(c, str) else c for c in frame.columns]
    return frame


def write_assignments(
    assignments: pd.DataFrame, path: str | Path, fmt: str | None = None, sheet: str = "assignments"
) -> Path:
    """One table (of assignments, unless ``sheet`` says) as xlsx (that sheet), csv or parquet."""
    path, fmt = _output(path, fmt)
    if fmt == "xlsx":
        write_workbook({sheet: assignments}, path)
    elif fmt == "csv":
        write_csv(assignments, path)
    else:
        assignments.to_parquet(path, index=False)
    return path


def write_result(result: RunResult, path: str | Path, fmt: str | None = None) -> Path:
    """Write a run's results: xlsx (every sheet), or csv/parquet (the assignments alone)."""
    path, fmt = _output(path, fmt)
    if fmt == "xlsx":
        write_workbook(result_sheets(result), path)
        return path
    return write_assignments(result.assignments, path, fmt)


def read_run_config(path: str | Path) -> RunConfig:
    """The exact config of the run that wrote a results workbook (its ``config`` sheet)."""
    name = Path(path).name
    sheet = read_table(path, "config")
    if "config" not in sheet.columns:
        raise UserInputError(
            f"{name}, sheet 'config' has no 'config' column: is it a results workbook of this tool?"
        )
    text = "\n".join(sheet["config"].fillna("").astype(str))
    return config_from_dict(yaml.safe_load(text) or {}, f"{name}, sheet 'config'")


def read_previous_run(path: str | Path, id_column: str) -> PreviousRun:
    """The final segments and analyst names of an earlier results workbook."""
    name = Path(path).name
    assignments = read_table(path, "assignments")
    if id_column not in assignments.columns or "final_cluster" not in assignments.columns:
        raise UserInputError(
            f"{name}, sheet 'assignments' needs columns '{id_column}' and 'final_cluster': "
            f"is it a results workbook of this tool?"
        )
    labels = read_table(path, "labels")
    analyst = labels[labels.get("source", pd.Series(dtype=str)) == ANALYST]
    final = assignments.set_index(assignments[id_column].astype(str))["final_cluster"].astype(str)
    return PreviousRun(
        final, dict(zip(analyst["segment"].astype(str), analyst["label"].astype(str), strict=True))
    )
