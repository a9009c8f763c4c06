"""Home: what the tool does, and the demo pipeline's segment sizes."""

import plotly.express as px
import streamlit as st

from clustering.config import load_config
from clustering.demo import store_demo
from clustering.pipeline import RunResult, run

DEMO_STORES = 2000
DEMO_SEED = 7


@st.cache_resource(show_spinner=False)
def demo_run(n_stores: int, seed: int) -> RunResult:
    """The store preset on generated demo data (cached: same inputs, same result)."""
    return run(load_config("store"), store_demo(n_stores, seed))


st.title("🧩 Clustering Studio")
st.markdown(
    "Segment stores from **internal** performance and **external** market data, "
    "merge the two into segments like `I2-E1`, and export labeled assignments."
)

with st.status("Running the store preset on demo data…", expanded=False) as status:
    result = demo_run(DEMO_STORES, DEMO_SEED)
    status.update(label=f"Demo run: {DEMO_STORES:,} generated stores (seed {DEMO_SEED})", state="complete")

sizes = (
    result.assignments["final_cluster"]
    .value_counts()
    .sort_index()
    .rename_axis("segment")
    .reset_index(name="stores")
)
left, right = st.columns([2, 1])
with left:
    figure = px.bar(sizes, x="segment", y="stores", title="Final segment sizes")
    st.plotly_chart(figure, use_container_width=True)
with right:
    st.dataframe(sizes, hide_index=True, use_container_width=True)
for finding in result.findings:
    st.warning(finding.text())
