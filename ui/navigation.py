"""The app's navigation: its pages, and the one way a request reaches a page.

Every request runs ``main``: the login check of a team's server first (ui.access), then
``st.navigation`` runs the page the URL or the click asked for. It is drawn before anything
heavy is imported (pandas, scikit-learn, the engine): on a new server the first script run
reaches ``st.navigation`` in a fraction of a second, so the analyst never waits on a blank
page. The pages import the engine.
"""

from pathlib import Path

import streamlit as st
from PIL import Image

from ui.access import app_navigation, require_login, use_app_navigation

ICON = Path(__file__).parent / "icon.png"
RECONNECT_TIMER_SECONDS = 3600
PAGES = {
    "Start": [
        st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("pages/results.py", title="Results", icon=":material/bar_chart:"),
    ],
    "Workflow": [
        st.Page("pages/data.py", title="Data", icon=":material/folder_open:"),
        st.Page("pages/prepare.py", title="Prepare", icon=":material/tune:"),
        st.Page("pages/cluster.py", title="Cluster", icon=":material/scatter_plot:"),
        st.Page("pages/merge.py", title="Merge & compare", icon=":material/merge:"),
        st.Page("pages/profiles.py", title="Profiles & labels", icon=":material/label:"),
    ],
    "Explore & export": [
        st.Page("pages/explore.py", title="Explore", icon=":material/travel_explore:"),
        st.Page("pages/export.py", title="Export", icon=":material/download:"),
        st.Page("pages/runs.py", title="Runs & scenarios", icon=":material/history:"),
    ],
}


@st.fragment(run_every=RECONNECT_TIMER_SECONDS)
def redraw_after_reconnect() -> None:
    """Draws nothing; its timer is what counts. Streamlit's browser reruns an idle page after
    it reconnects only when the page has a fragment on a timer: without one, a tab whose server
    restarted keeps showing data that server no longer has, until the next click. With it, the
    tab redraws at once and says that its session was lost (ui.widgets.lost_notice)."""


def main() -> None:
    """Check the login, draw the navigation, then run the chosen page behind the last error guard."""
    # the tab's icon is a file of the app: an emoji needs a font, a Material icon here would be fetched
    st.set_page_config(page_title="Clustering Studio", page_icon=Image.open(ICON), layout="wide")
    use_app_navigation()  # every later request starts here, even one for a page's own URL
    try:
        require_login()  # a team's server: nothing is drawn before the analyst has logged in
        navigation = st.navigation(PAGES)
        redraw_after_reconnect()
        with app_navigation():  # pages run only from here (ui.access.through_the_app)
            navigation.run()
    except Exception as error:  # the last guard: one line and a log file, never a traceback
        from ui.widgets import show_error

        show_error(error, "showing this page")
    finally:  # also after st.stop (the login's refusal) or st.rerun, which are not Exceptions
        from ui.memory import start_reaper

        start_reaper()  # closed sessions, freed memory and anonymous uploads go, once per server process
