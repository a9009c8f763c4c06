"""Clustering Studio: the Streamlit app. This file only builds the page navigation."""

from pathlib import Path

import streamlit as st
from PIL import Image

from ui.access import require_login
from ui.memory import start_reaper
from ui.widgets import show_error

ICON = Path(__file__).parent / "ui" / "icon.png"

# the tab's icon is a file of the app: an emoji needs a font, a Material icon here would be fetched
st.set_page_config(page_title="Clustering Studio", page_icon=Image.open(ICON), layout="wide")
start_reaper()  # closed tabs' sessions and freed memory go back, once per server process
require_login()  # a team's server: nothing is drawn before the analyst has logged in

pages = {
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
try:
    st.navigation(pages).run()
except Exception as error:  # the last guard: one line and a log file, never a traceback
    show_error(error, "showing this page")
