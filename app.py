"""Clustering Studio: the Streamlit app. This file only builds the page navigation."""

import streamlit as st

from ui.access import require_login
from ui.memory import start_reaper
from ui.widgets import show_error

st.set_page_config(page_title="Clustering Studio", page_icon="🧩", layout="wide")
start_reaper()  # closed tabs' sessions and freed memory go back, once per server process
require_login()  # a team's server: nothing is drawn before the analyst has logged in

pages = {
    "Start": [
        st.Page("pages/home.py", title="Home", icon="🏠", default=True),
        st.Page("pages/results.py", title="Results", icon="📊"),
    ],
    "Workflow": [
        st.Page("pages/data.py", title="Data", icon="📂"),
        st.Page("pages/prepare.py", title="Prepare", icon="🧹"),
        st.Page("pages/cluster.py", title="Cluster", icon="🎯"),
        st.Page("pages/merge.py", title="Merge & compare", icon="🔀"),
        st.Page("pages/profiles.py", title="Profiles & labels", icon="🏷️"),
    ],
    "Explore & export": [
        st.Page("pages/explore.py", title="Explore", icon="🔎"),
        st.Page("pages/export.py", title="Export", icon="📤"),
        st.Page("pages/runs.py", title="Runs & scenarios", icon="🗂️"),
    ],
}
try:
    st.navigation(pages).run()
except Exception as error:  # the last guard: one line and a log file, never a traceback
    show_error(error, "showing this page")
