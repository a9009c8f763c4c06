"""Clustering Studio: the Streamlit app. This file only builds the page navigation."""

import streamlit as st

st.set_page_config(page_title="Clustering Studio", page_icon="🧩", layout="wide")

pages = [st.Page("pages/home.py", title="Home", icon="🏠", default=True)]
st.navigation(pages).run()
