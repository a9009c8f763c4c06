"""Runs & scenarios: every tracked run, two side by side, and the approved run of each name."""

import streamlit as st

from clustering import tracking
from clustering.errors import hide_passwords
from clustering.explain.compare import compare_assignments
from clustering.formats import first_upper
from clustering.glossary import meaning, readable_metrics
from clustering.io.export import workbook_bytes
from ui import charts
from ui.access import signed_in_analyst
from ui.memory import BOUNDED
from ui.numbers import table
from ui.widgets import attempt, page, segment_colors

ws = page(
    "runs",
    "Runs & scenarios",
    "Every tracked run: compare last quarter's segments with this quarter's, and approve the one to use.",
)
if not tracking.available():
    st.info(
        "Runs are tracked with MLflow, which is not installed here: `pip install -e '.[tracking]'` "
        "(or `make run EXTRAS=tracking`), then run again."
    )
    st.stop()

uri = tracking.tracking_uri(ws.config)
shown = hide_passwords(uri)  # a store's URL may carry its password: never on a page
st.caption(f"Run history (MLflow): `{shown}` · browse it with `mlflow ui --backend-store-uri {shown}`")
runs = attempt(lambda: tracking.list_runs(uri), spinner="Reading the tracking store…")
if runs is None:
    st.stop()
if runs.empty:
    st.info("No tracked runs yet: press **Run all steps** on Home or Data, or run the CLI.")
    st.stop()
table(runs)
titles = runs.set_index("run_id")["run"]


def describe(run_id: str) -> str:
    """A run in a picker: what it is (name, segments, rows, who, when) and its ID's start."""
    return f"{titles[run_id]} · {run_id[:8]}"


st.subheader("Approve a run")
chosen = st.selectbox("Run", list(runs["run_id"]), format_func=describe, key="runs_approve_pick")
if st.button("Approve this run", key="runs_approve"):
    name = attempt(lambda: tracking.approve(uri, chosen, signed_in_analyst()))
    if name is not None:
        st.success(f"Run {chosen[:8]} is now the approved run of '{name}': Export can write it back.")
        st.rerun()

st.subheader("Compare two runs")
if len(runs) < 2:
    st.info("Track a second run (another seed, other options, next quarter's data) to compare.")
    st.stop()
left, right = st.columns(2)
first = left.selectbox("Run A", list(runs["run_id"]), index=1, format_func=describe, key="runs_a")
second = right.selectbox("Run B", list(runs["run_id"]), index=0, format_func=describe, key="runs_b")


@st.cache_data(show_spinner="Comparing…", max_entries=8, **BOUNDED)
def _compare(uri: str, a: str, b: str):
    config = tracking.load_config_of(uri, a)
    return compare_assignments(
        tracking.load_assignments(uri, a),
        tracking.load_assignments(uri, b),
        config.id_column,
        (f"A {a[:8]}", f"B {b[:8]}"),
        (tracking.load_metrics(uri, a), tracking.load_metrics(uri, b)),
        config.entities()[1],
    )


comparison = attempt(lambda: _compare(uri, first, second))
if comparison is None:
    st.stop()
a, b, c = st.columns(3)
noun = str(runs.set_index("run_id").loc[first, "entities"])
a.metric("ARI between the runs", f"{comparison.ari:.3f}", help=meaning("ARI"))
b.metric("NMI between the runs", f"{comparison.nmi:.3f}", help=meaning("NMI"))
c.metric(f"{first_upper(noun)} that moved", f"{len(comparison.moved):,}")
table(readable_metrics(comparison.summary.rename(columns={"measure": "metric"}), ["value"]))
name_a, name_b = comparison.names
st.markdown("**Sizes side by side**")
table(comparison.sizes)
st.markdown("**From A to B**")
flows = comparison.transitions.stack().rename("n").reset_index()
flows.columns = ["before", "after", "n"]
colors = segment_colors([*flows["before"], *flows["after"]])
st.plotly_chart(charts.sankey_flows(flows.astype({"before": str, "after": str}), colors, (name_a, name_b)))
st.markdown("**Metrics**")
table(readable_metrics(comparison.metrics, list(comparison.names)))
st.markdown(
    f"**{first_upper(noun)} that moved** ({len(comparison.moved):,}; B's segments matched to A's by overlap)"
)
table(comparison.moved.head(1000))
st.download_button(
    "Comparison (.xlsx)",
    workbook_bytes(comparison.sheets()),
    f"compare_{first[:8]}_{second[:8]}.xlsx",
    icon=":material/download:",
    mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    key="runs_download",
)
