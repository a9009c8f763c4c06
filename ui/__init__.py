"""Streamlit view helpers: session state, shared widgets and Plotly charts (no analytics)."""
