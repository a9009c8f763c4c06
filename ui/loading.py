"""Turn the analyst's uploads into sheets and a run config (the app's side of loading)."""

from __future__ import annotations

import hashlib
from functools import partial

import pandas as pd
import streamlit as st
from streamlit.runtime.scriptrunner import add_script_run_ctx, get_script_run_ctx

from clustering.config import RunConfig, config_from_dict, load_config
from clustering.io.sources import Progress, list_sheets, read_table
from clustering.model.threads import in_parallel
from ui.memory import BOUNDED, shared, trim_heap

MODES = {
    "store": "Stores: internal performance + external market data",
    "table": "One table of entities (stores, customers, sites…)",
    "dfu": "DFUs: monthly sales (+ DFU and item attributes)",
}
ROLES = {
    "store": {"internal": True, "external": True},
    "table": {"entities": True},
    "dfu": {"sales_monthly": True, "dim_dfu": False, "dim_item": False},
}
NONE = "(none)"


@st.cache_data(show_spinner=False, max_entries=16, **BOUNDED)
def _sheets_of(data: bytes, name: str) -> list[str]:
    return list_sheets(data, filename=name)


def _table(data: bytes, name: str, sheet: str | None, progress: Progress | None = None) -> pd.DataFrame:
    """A parsed upload, shared by content (read once, never copied whole)."""
    key = f"table:{hashlib.blake2b(data, digest_size=16).hexdigest()}:{name}:{sheet}"

    def read() -> pd.DataFrame:
        trim_heap()  # the upload's passing buffers (the request's chunks) go back before parsing
        frame = read_table(data, sheet, filename=name, progress=progress)
        trim_heap()  # and the parser's passing chunks, before the check
        return frame

    return shared(key, read).value


def upload_options(files: list) -> dict[str, tuple[bytes, str, str | None]]:
    """Every table in the uploads: label -> (bytes, file name, sheet)."""
    options: dict[str, tuple[bytes, str, str | None]] = {}
    for file in files:
        data = file.getvalue()
        sheets = _sheets_of(data, file.name)
        for sheet in sheets or [None]:
            label = f"{file.name} › {sheet}" if sheet else file.name
            options[label] = (data, file.name, sheet)
    return options


def release_uploads(files: list) -> None:
    """Hand the uploaded files' bytes back once their tables are loaded: Streamlit keeps every
    upload for as long as the session lasts, so a 100 MB CSV would stay held twice, as bytes
    and as its parsed table. The page then shows an empty uploader (``uploader_key``)."""
    context = get_script_run_ctx()
    if context is None:
        return
    for file in files:
        context.uploaded_file_mgr.remove_file(context.session_id, file.file_id)


def uploader_key(token: str, generation: int) -> str:
    """The uploader of this session (a new session's never shows a lost one's file names) and
    of this data: loading new data gives an empty uploader, its files already read."""
    return f"uploads_{token}_{generation}"


def default_option(options: list[str], role: str, fallback: int) -> int:
    """Pick the table whose sheet or file is named like the role, else the ``fallback``-th."""
    for i, label in enumerate(options):
        if label.lower().endswith((f"› {role}", f"{role}.csv", f"{role}.parquet")):
            return i
    return min(fallback, len(options) - 1)


def read_choice(choice: tuple[bytes, str, str | None], progress: Progress | None = None) -> pd.DataFrame:
    data, name, sheet = choice
    frame = _table(data, name, sheet, progress).copy(deep=False)  # its own attrs; the data stays shared
    frame.attrs["source"] = f"{name}, sheet '{sheet}'" if sheet else name
    return frame


def read_choices(choices: dict[str, tuple[bytes, str, str | None]]) -> dict[str, pd.DataFrame]:
    """Every picked table by role. Sheets of a workbook are read side by side, as the engine's
    ``load_tables`` reads them (the parser releases the GIL); each stays cached by its content."""
    context = get_script_run_ctx()

    def read(choice: tuple[bytes, str, str | None]) -> pd.DataFrame:
        add_script_run_ctx(ctx=context)  # the session's cache and messages, in a worker thread
        return read_choice(choice)

    sheets = {role: partial(read, choice) for role, choice in choices.items() if choice[2] is not None}
    frames = in_parallel(sheets)
    frames |= {role: _with_progress_bar(choice) for role, choice in choices.items() if role not in sheets}
    return {role: frames[role] for role in choices}


def _with_progress_bar(choice: tuple[bytes, str, str | None]) -> pd.DataFrame:
    """A CSV or Parquet upload, with a bar that shows how much of it is parsed."""
    data, name, _ = choice
    megabytes = len(data) / 1e6
    bar = st.progress(0.0, text=f"Reading {name} ({megabytes:,.0f} MB)…")
    try:
        return read_choice(
            choice,
            lambda share: bar.progress(share, text=f"Reading {name}: {share:.0%} of {megabytes:,.0f} MB"),
        )
    finally:
        bar.empty()


def guess_id_column(columns: list[str], preferred: str) -> int:
    """The preset's ID column if present, else the first column whose name says ID."""
    if preferred in columns:
        return columns.index(preferred)
    for i, column in enumerate(columns):
        lowered = column.lower()
        if lowered == "id" or lowered.endswith(("_id", " id", "id")) or lowered.startswith("id"):
            return i
    return 0


def _prune(names: list[str] | None, available: set[str]) -> list[str] | None:
    return None if names is None else [n for n in names if n in available]


def config_for(mode: str, id_column: str, sheets: dict[str, pd.DataFrame]) -> RunConfig:
    """The preset of the mode, fitted to the uploaded columns (excludes of absent columns dropped)."""
    if mode == "table":
        return config_from_dict(
            {
                "name": "segmentation",
                "id_column": id_column,
                "datasets": {"entities": {"prefix": "S"}},
                "merge": {"enabled": False},
                "labels": {"pattern": "features", "market_column": None},
            }
        )
    config = load_config(mode)
    config.id_column = id_column
    if mode == "dfu":
        features = config.datasets["dfu"].features
        features.id_column = id_column
        features.attributes = [a for a in features.attributes if a.sheet in sheets]
        joined = {c for a in features.attributes for c in a.columns}
        every_attribute = {
            c for a in load_config("dfu").datasets["dfu"].features.attributes for c in a.columns
        }
        preprocess = config.datasets["dfu"].preprocess
        preprocess.exclude = [c for c in preprocess.exclude if c in joined or c not in every_attribute]
        return config
    for name, dataset in config.datasets.items():
        columns = set(sheets[name].columns)
        dataset.preprocess.include = _prune(dataset.preprocess.include, columns)
        dataset.preprocess.exclude = _prune(dataset.preprocess.exclude, columns) or []
    return config


def database_config(
    mode: str, id_column: str, chosen: dict[str, str], pushdown: bool, columns: dict[str, list[str]]
) -> RunConfig:
    """The mode's preset reading the chosen tables (role -> table) from the database."""
    config = config_for(mode, id_column, {role: pd.DataFrame(columns=columns[role]) for role in chosen})
    config.database.tables = dict(chosen)
    config.database.pushdown = pushdown
    return config
