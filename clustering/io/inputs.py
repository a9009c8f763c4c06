"""Finding a run's input tables: the files beside an input, a workbook's sheets, a folder's
tables, or a database's tables (pushed-down DFU features included).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from clustering.config import (
    DatabaseConfig,
    RunConfig,
)
from clustering.errors import UserInputError
from clustering.io.sources import WORKBOOK_SUFFIXES, list_sheets, match_sheet
from clustering.io.sources import read_table as read_file
from clustering.model.threads import in_parallel

if TYPE_CHECKING:  # the database layer (SQLAlchemy, sqlglot) loads only for a database run
    from sqlalchemy.engine import Engine


def dataset_sources(
    config: RunConfig, input_path: str | Path | None = None, beside: bool = True
) -> dict[str, tuple[str, str | None]]:
    """Every table a run reads, by key: (file, sheet). A plain dataset reads one sheet (default:
    its name); a DFU dataset reads its sales sheet and the sheets its attributes join from.
    A CSV or Parquet file has one table, keyed by the dataset's name (or sales sheet); with
    ``beside``, the other datasets and a DFU dataset's attribute tables are the files of their
    names beside it, and a folder holds one file per table."""
    sources: dict[str, tuple[str, str | None]] = {}
    for name, dataset in config.datasets.items():
        path = dataset.path or (str(input_path) if input_path else None) or config.input
        if not path:
            raise UserInputError(
                f"Dataset '{name}' has no file: pass --input, or set 'input' or 'datasets.{name}.path'."
            )
        table = dataset.features.sales_sheet if dataset.features is not None else dataset.sheet or name
        if beside and Path(path).is_dir():
            path = str(_file_in_folder(Path(path), table))
        elif beside and len(config.datasets) > 1 and _one_table_file(path) and Path(path).stem != table:
            path = str(sibling_table(Path(path), table) or path)  # external.parquet beside internal.parquet
        workbook = Path(path).suffix.lower() in WORKBOOK_SUFFIXES
        if dataset.features is not None and workbook:
            for sheet in [dataset.features.sales_sheet, *[j.sheet for j in dataset.features.attributes]]:
                sources[sheet] = (path, sheet)
        elif workbook:
            sheet = dataset.sheet or name
            sources[sheet] = (path, sheet)
        elif dataset.features is not None:  # a file of monthly sales; attribute tables beside it
            sources[dataset.features.sales_sheet] = (path, None)
            for join in dataset.features.attributes if beside else []:  # an upload has nothing beside it
                sibling = sibling_table(Path(path), join.sheet)
                if sibling is not None:
                    sources[join.sheet] = (str(sibling), None)
        else:
            sources[name] = (path, None)
    return sources


def _one_table_file(path: str) -> bool:
    """A CSV or Parquet file (one table), not a workbook whose sheets are the tables."""
    return Path(path).suffix.lower() not in WORKBOOK_SUFFIXES


def _file_in_folder(folder: Path, table: str) -> Path:
    """The Parquet or CSV file of ``table`` in ``folder`` (as ``demo --output FOLDER`` writes)."""
    found = sibling_table(folder / f"{table}.parquet", table)
    if found is None:
        present = sorted(p.name for p in folder.iterdir() if p.suffix.lower() in (".parquet", ".csv"))
        raise UserInputError(
            f"{folder}: no {table}.parquet or {table}.csv in this folder (it holds "
            f"{', '.join(present) or 'no CSV or Parquet file'}). Add the table, or pass its file."
        )
    return found


def sibling_table(path: Path, table: str) -> Path | None:
    """The file holding ``table`` beside a CSV or Parquet file (``dim_dfu.parquet`` beside
    ``sales_monthly.parquet``): same type first, then Parquet, then CSV; None when absent."""
    for suffix in dict.fromkeys([path.suffix.lower(), ".parquet", ".csv"]):
        candidate = path.with_name(f"{table}{suffix}")
        if candidate.is_file():
            return candidate
    return None


def attribute_sheets(config: RunConfig) -> set[str]:
    """Sheets of DFU attributes: optional (a run without them segments on demand alone)."""
    return {
        join.sheet
        for dataset in config.datasets.values()
        if dataset.features is not None
        for join in dataset.features.attributes
    }


def run_sheets(config: RunConfig, sheets: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The sheets a run reads (those ``dataset_sources`` names, and DFU features computed in a
    database), out of everything loaded; their content is the run's data fingerprint."""
    wanted = set(dataset_sources(config, "input.xlsx")) | {precomputed_key(name) for name in config.datasets}
    return {key: frame for key, frame in sheets.items() if key in wanted}


def load_tables(
    config: RunConfig, input_path: str | Path | None = None, content: bytes | None = None
) -> dict[str, pd.DataFrame]:
    """Read every table the run needs, keyed by sheet (see ``dataset_sources``); ``content``
    holds the bytes of an uploaded ``input_path``. Workbook sheets are read side by side (the
    parser releases the GIL); Parquet and CSV files one after the other (side by side, 1M
    DFUs' tables took longer and 600 MB more)."""
    optional = attribute_sheets(config)
    sales = {d.features.sales_sheet for d in config.datasets.values() if d.features is not None}
    sheet_names: dict[str, list[str]] = {}  # each workbook's sheets, listed once
    reads, workbook_sheets = {}, set()
    for key, (path, sheet) in dataset_sources(config, input_path, beside=content is None).items():
        source = content if content is not None else path
        if key in optional and sheet is not None:
            if path not in sheet_names:
                sheet_names[path] = list_sheets(source, str(path))
            if match_sheet(sheet, sheet_names[path]) is None:
                continue  # no attribute sheet in the workbook: dataset_tables says so in findings
        reads[key] = partial(read_file, source, sheet, filename=str(path), repeated_text=key in sales)
        if sheet is not None:
            workbook_sheets.add(key)
    tables = in_parallel({key: read for key, read in reads.items() if key in workbook_sheets})
    tables |= {key: read() for key, read in reads.items() if key not in workbook_sheets}
    return {key: tables[key] for key in reads}


def precomputed_key(dataset: str) -> str:
    """Key of a dataset's DFU features computed elsewhere (in the database)."""
    return f"{dataset}.features"


def database_sheets(engine: Engine, config: RunConfig) -> dict[str, pd.DataFrame]:
    """Every table the run needs, read from the database (``database.tables`` maps sheet
    names to tables); DFU features are computed in the database when ``pushdown`` is on."""
    from clustering.io.pushdown import pushdown_features

    db = config.database
    sheets: dict[str, pd.DataFrame] = {}
    for name, dataset in config.datasets.items():
        wanted = [dataset.sheet or name]
        if dataset.features is not None:
            wanted = [j.sheet for j in dataset.features.attributes]
            sales = db.tables.get(dataset.features.sales_sheet, dataset.features.sales_sheet)
            if db.pushdown:
                features, dropped = pushdown_features(engine, sales, dataset.features, db.schema_name)
                features = features.set_index(dataset.features.id_column)
                features.attrs["dropped"] = dropped
                sheets[precomputed_key(name)] = features
            else:
                wanted.append(dataset.features.sales_sheet)
        for sheet in wanted:
            sheets[sheet] = _database_sheet(engine, db, sheet)
    return sheets


def _database_sheet(engine: Engine, db: DatabaseConfig, sheet: str) -> pd.DataFrame:
    """One sheet from the database: its SELECT (``queries``), else its table's chosen columns."""
    from clustering.io.dbread import read_table, run_select

    if sheet in db.queries:
        frame = run_select(engine, db.queries[sheet], db.max_rows, db.statement_timeout_seconds)
        if len(frame) == db.max_rows:
            raise UserInputError(
                f"The query for '{sheet}' returned {db.max_rows:,} rows or more: narrow it, or raise database.max_rows."
            )
        return frame
    table = db.tables.get(sheet, sheet)
    wanted = db.columns.get(sheet) or None
    return read_table(engine, table, wanted, schema=db.schema_name, timeout=db.statement_timeout_seconds)
