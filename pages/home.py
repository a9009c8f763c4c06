"""Home: what the tool does, a one-click demo start, and the status of the run so far."""

import streamlit as st

from ui.state import checked_tables, load_demo
from ui.widgets import attempt, page, run_all_button, status_strip

ws = page("home", "Clustering Studio", "Segment stores and demand units, explain the segments, export them.")
st.markdown(
    "1. **Load** store performance and market data (Excel, CSV, Parquet) or monthly DFU sales.\n"
    "2. **Prepare and cluster** each dataset, then **merge** internal and external segments (`I2-E1`).\n"
    "3. **Explain, name and export** the segments: profiles, rules, stability, labeled assignments."
)
left, right = st.columns(2)
if left.button("Start with demo stores", icon=":material/storefront:", type="primary", width="stretch"):
    load_demo(ws, "store")
    st.switch_page("pages/data.py")
if right.button("Start with demo DFUs", icon=":material/inventory_2:", width="stretch"):
    load_demo(ws, "dfu")
    st.switch_page("pages/data.py")

st.subheader("Your run so far")
if ws.sheets:
    run_all_button(ws, "home_run_all")
if ws.sheets:
    attempt(lambda: checked_tables(ws))
status_strip(ws)
if ws.sheets:
    st.caption("Loaded: " + "; ".join(ws.sources.values()))
