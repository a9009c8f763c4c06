"""Clustering Studio: the Streamlit app. This file only runs the app's navigation
(ui.navigation): the login check, then the page asked for."""

from ui.navigation import main

main()
