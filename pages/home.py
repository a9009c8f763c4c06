"""Home: what the tool does, a one-click demo start, and the status of the run so far.

The pitch and the two demo buttons are drawn before the engine is imported, so a new
server's first page appears at once; the status below follows (and, when the server was
started on demo data, the demo is segmented there with each step named).
"""

import streamlit as st

from ui.access import through_the_app


def main() -> None:
    through_the_app()  # nothing of a page runs before the app's login check
    st.title("Clustering Studio")
    st.caption("Segment stores and demand units, explain the segments, export them.")
    st.markdown(
        "1. **Load** store performance and market data (Excel, CSV, Parquet) or monthly DFU sales.\n"
        "2. **Prepare and cluster** each dataset, then **merge** internal and external segments (`I2-E1`).\n"
        "3. **Explain, name and export** the segments: profiles, rules, stability, labeled assignments."
    )
    left, right = st.columns(2)
    stores = left.button(
        "Start with demo stores", icon=":material/storefront:", type="primary", width="stretch"
    )
    dfus = right.button("Start with demo DFUs", icon=":material/inventory_2:", width="stretch")

    from ui.state import checked_tables, load_demo, workspace
    from ui.widgets import attempt, lost_notice, run_all_button, segment_demo, status_strip

    ws = workspace()
    ws.page = "home"
    lost_notice(ws)
    if stores or dfus:
        load_demo(ws, "store" if stores else "dfu")
        st.switch_page("pages/data.py")

    st.subheader("Your run so far")
    if ws.demo_pending:
        segment_demo(ws)
    if ws.sheets:
        run_all_button(ws, "home_run_all")
        attempt(lambda: checked_tables(ws))
    status_strip(ws)
    if ws.sheets:
        st.caption("Loaded: " + "; ".join(ws.sources.values()))
    show_the_answer(ws)


def show_the_answer(ws: object) -> None:
    """The run's headline and the way to its results, once the segments exist."""
    from clustering.explain.summary import headline
    from ui.state import progress, run_result

    if not ws.sheets or not progress(ws)["clustered"]:
        return
    result = run_result(ws)
    st.subheader("The answer")
    st.info(headline(result), icon=":material/lightbulb:")
    st.page_link("pages/results.py", label="See the segments on Results", icon=":material/arrow_forward:")


main()
