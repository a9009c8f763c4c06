"""Data: upload files (or generate demo data), pick sheets and the ID column, check them."""

import streamlit as st

from clustering.io.sources import SUPPORTED_SUFFIXES
from clustering.io.validation import column_summary
from ui.database_source import database_source
from ui.loading import (
    MODES,
    NONE,
    ROLES,
    config_for,
    default_option,
    guess_id_column,
    read_choices,
    release_uploads,
    upload_options,
    uploader_key,
)
from ui.numbers import table
from ui.state import checked_tables, load_checked, load_demo
from ui.widgets import attempt, page, run_all_button

ws = page("data", "Data", "Upload Excel, CSV or Parquet files, or start from generated demo data.")

source = st.radio("Source", ["Upload files", "Database", "Demo data"], horizontal=True, key="data_source")

if source == "Database":
    database_source(ws)
elif source == "Demo data":
    kind = st.selectbox("Demo", ["store", "dfu"], format_func=lambda k: MODES[k], key="demo_kind")
    size = st.number_input(
        "Stores" if kind == "store" else "DFUs", 100, 200_000, 2000 if kind == "store" else 5000, step=500
    )
    seed = st.number_input("Seed", 0, 10_000, 7)
    if st.button("Generate demo data", type="primary"):
        attempt(lambda: load_demo(ws, kind, int(size), int(seed)), spinner="Generating…")
else:
    mode = st.selectbox("What do you segment?", list(MODES), format_func=MODES.get, key="upload_mode")
    files = st.file_uploader(
        "Files",
        type=[suffix.lstrip(".") for suffix in SUPPORTED_SUFFIXES],
        accept_multiple_files=True,
        key=uploader_key(ws.token, ws.generation),
        help="Two datasets can be two files or two sheets of one workbook.",
    )
    options = attempt(lambda: upload_options(files or [])) or {}
    if files and options:
        labels = list(options)
        choices = {}
        columns = st.columns(len(ROLES[mode]))
        for i, (role, required) in enumerate(ROLES[mode].items()):
            pool = labels if required else [NONE, *labels]
            default = default_option(pool, role, i if required else 0)  # optional roles default to (none)
            picked = columns[i].selectbox(f"{role} table", pool, index=default, key=f"role_{mode}_{role}")
            if picked != NONE:
                choices[role] = options[picked]
        with st.spinner("Reading the picked tables…"):
            frames = attempt(lambda: read_choices(choices))
        if frames:
            main_roles = [r for r in frames if ROLES[mode][r]]
            shared = [
                c for c in frames[main_roles[0]].columns if all(c in frames[r].columns for r in main_roles)
            ]
            preferred = {"store": "store_id", "dfu": "dfu_id"}.get(mode, "id")
            id_column = st.selectbox(
                "ID column",
                shared or list(frames[main_roles[0]].columns),
                index=guess_id_column(shared, preferred) if shared else 0,
                key=f"id_{mode}",
            )
            if st.button("Load and check", type="primary"):
                with st.status("Reading and checking…", expanded=True) as status:

                    def load() -> bool:
                        config = config_for(mode, str(id_column), frames)
                        sources = {role: frame.attrs.get("source", role) for role, frame in frames.items()}
                        kind = "store" if mode == "store" else mode
                        load_checked(ws, frames, sources, kind, config, report=status.write)
                        return True

                    done = attempt(load)
                    status.update(
                        label="Loaded and checked" if done else "Not loaded: see the message",
                        state="complete" if done else "error",
                        expanded=not done,  # a problem stays in sight
                    )
                if done:  # the files are read: the server keeps the tables, not the bytes too
                    release_uploads(files)
                    st.rerun()
    elif not files:
        st.info("Drop one workbook with sheets `internal` and `external`, or one file per dataset.")

if not ws.sheets:
    st.stop()

st.divider()
st.subheader("Loaded data")
st.caption("; ".join(ws.sources.values()))
result = attempt(lambda: checked_tables(ws), spinner="Checking…")
if result is None:
    st.stop()
tables, findings = result
for finding in findings:
    (st.warning if finding.level == "warning" else st.info)(finding.text())
if not findings:
    st.success("No problems found: every ID is present once and every feature column is readable.")
for name, checked in tables.items():
    with st.expander(
        f"{name}: {len(checked.frame):,} rows, {len(checked.numeric)} numeric and {len(checked.categorical)} text columns",
        expanded=True,
    ):
        table(column_summary(checked.frame.reset_index(), unique=(checked.frame.index.name,)))
        table(checked.frame.head(20), hide_index=False)
left, right = st.columns(2)
with left:
    run_all_button(ws, "data_run_all")
right.page_link(
    "pages/prepare.py", label="Or step by step: prepare the data", icon=":material/arrow_forward:"
)
