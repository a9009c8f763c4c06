"""Export: the results workbook, the assignments, the run's config; reproduce a run from YAML."""

from pathlib import Path

import streamlit as st

from clustering.config import config_from_upload
from clustering.formats import first_upper
from clustering.io.export import result_sheets, workbook_bytes, write_csv
from clustering.io.report import report_html, report_of_sheets, report_pptx
from ui.access import acting_user
from ui.assign_new import assign_new_entities
from ui.numbers import table
from ui.state import run_result, tracked_run_id
from ui.widgets import attempt, page, require


def approved_runs(ws):
    """Approved tracked runs (None without MLflow)."""
    from clustering import tracking

    if not tracking.available():
        return None
    runs = attempt(lambda: tracking.list_runs(tracking.tracking_uri(ws.config)))
    return None if runs is None else runs[runs["approved"]]


ws = page("export", "Export", "Download the labeled segments, or reproduce a run from its config.")


def mark_exported() -> None:
    ws.exported = True


st.subheader("Reproduce a run")
uploaded = st.file_uploader(
    "Upload a run's config (YAML) to use it on the loaded data",
    type=["yml", "yaml"],
    key=ws.widget_key("yaml"),
)
if uploaded is not None and st.button("Use this config", key=ws.widget_key("use_yaml")):
    config = attempt(
        lambda: config_from_upload(
            uploaded.getvalue().decode("utf-8", errors="replace"),
            f"uploaded file '{Path(uploaded.name).name}'",
            ws.config,
        )
    )
    if config is not None:
        ws.replace_config(config)
        st.success(
            "The uploaded config is loaded: the pages now use it. Export below runs every step with it."
        )

require(ws, "clustered", "Cluster every dataset first, or press Run all steps on Home, to export results.")
result = attempt(lambda: run_result(ws), spinner="Collecting the results (runs any step the config changed)…")
if result is None:
    st.stop()
stem = ws.config.name.replace(" ", "_") or "segments"

# Every file is built when its button is clicked (a callable), never on page open: the
# workbook of a 100k-store result takes about a second to write.
st.subheader("Download")
st.download_button(
    "Results workbook (.xlsx, every sheet)",
    lambda: workbook_bytes(result_sheets(result)),
    f"{stem}_results.xlsx",
    icon=":material/download:",
    mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    type="primary",
    on_click=mark_exported,
    key="dl_xlsx",
)
report_html_button, report_pptx_button = st.columns(2)
report_html_button.download_button(
    "Report (.html: opens in a browser, prints to PDF)",
    lambda: report_html(report_of_sheets(result_sheets(result))).encode("utf-8"),
    f"{stem}_report.html",
    "text/html",
    icon=":material/description:",
    on_click=mark_exported,
    key="dl_report_html",
)
report_pptx_button.download_button(
    "Report (.pptx: PowerPoint slides)",
    lambda: report_pptx(report_of_sheets(result_sheets(result))),
    f"{stem}_report.pptx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    icon=":material/slideshow:",
    on_click=mark_exported,
    key="dl_report_pptx",
)
left, middle, right = st.columns(3)
left.download_button(
    "Assignments (.csv)",
    lambda: write_csv(result.assignments).encode("utf-8"),
    f"{stem}_assignments.csv",
    "text/csv",
    on_click=mark_exported,
    key="dl_csv",
)
middle.download_button(
    "Assignments (.parquet)",
    lambda: result.assignments.to_parquet(index=False),
    f"{stem}_assignments.parquet",
    "application/octet-stream",
    on_click=mark_exported,
    key="dl_parquet",
)
right.download_button(
    "Run config (.yml)",
    result.config.to_yaml().encode("utf-8"),
    f"{stem}_config.yml",
    "application/x-yaml",
    key="dl_yaml",
)

st.subheader("Preview")
table(result.assignments.head(200))
st.caption(
    f"{len(result.assignments):,} rows in {result.assignments['final_cluster'].nunique()} segments. Workbook sheets: "
    + ", ".join(result_sheets(result))
)

entity, entities = ws.config.entities()
st.subheader(f"Assign new {entities}")
st.caption(
    f"{first_upper(entities)} that start after the run get the segment of "
    "the fitted model: the same preparation, the same model, the same merge. "
    f"{first_upper(entities)} of the run itself get exactly the segments they have."
)
assign_new_entities(ws, result)

st.subheader("Write back to the database")
if not ws.database_url:
    st.caption("Load the data from a database (Data page) to write the segments back to it.")
    st.stop()
# The database layer (SQLAlchemy, sqlglot) loads only for a session that uses a database.
from clustering.io.writeback import Provenance, restore, runs, write_back  # noqa: E402
from ui.database_source import open_database  # noqa: E402

target = ws.config.database.write_back
engine = attempt(lambda: open_database(ws.database_url))
if engine is None:
    st.stop()
st.caption(
    f"Sets `{target.table}.{target.column}` to each {ws.config.id_column}'s segment {target.value} and appends "
    f"the run to `{target.history_table}`, in one transaction: all rows or none."
)
written = result.assignments
provenance = Provenance(tracked_run_id(ws), written_by=acting_user())
approved = approved_runs(ws)
if approved is not None and not approved.empty:
    choice = st.radio(
        "Write",
        ["this session's segments", *approved["run_id"]],
        format_func=lambda r: (
            r
            if not r[0].isalnum() or " " in r
            else f"approved run {r[:8]} ({approved.set_index('run_id').loc[r, 'name']})"
        ),
        horizontal=True,
        key=ws.widget_key("write_which"),
    )
    if choice != "this session's segments":
        from clustering import tracking

        uri = tracking.tracking_uri(ws.config)
        written = attempt(lambda: tracking.load_assignments(uri, choice))
        if written is None:
            st.stop()
        provenance = Provenance(choice, tracking.approver_of(uri, choice), acting_user())
        st.caption("The approved run's labels are written as they are: nothing is refitted.")
left, right = st.columns(2)
if left.button("Dry run: what would change?", key=ws.widget_key("dry_run")):
    report = attempt(
        lambda: write_back(engine, written, target, ws.config.id_column, dry_run=True, provenance=provenance),
        spinner="Comparing…",
    )
    if report is not None:
        st.info("  \n".join([*report.lines(), "Nothing was written."]))
        table(report.changes)
if right.button("Write back", type="primary", key=ws.widget_key("write_back")):
    report = attempt(
        lambda: write_back(engine, written, target, ws.config.id_column, provenance=provenance),
        spinner="Writing…",
    )
    if report is not None:
        st.success("  \n".join(report.lines()))
        mark_exported()
history = attempt(lambda: runs(engine, target))
if history is not None and not history.empty:
    st.markdown("**Earlier write-backs**")
    table(history)
    chosen = st.selectbox(
        "Restore write-back", list(history["write_back_id"]), key=ws.widget_key("restore_run")
    )
    if st.button("Restore this write-back", key=ws.widget_key("restore")):
        report = attempt(
            lambda: restore(engine, target, ws.config.id_column, chosen, written_by=acting_user()),
            spinner="Restoring…",
        )
        if report is not None:
            st.success(f"Restored {chosen}: " + "  \n".join(report.lines()))
