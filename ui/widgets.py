"""Widgets every page shares: the page header, the progress strip, errors and guards."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import plotly.express as px
import streamlit as st

from clustering.errors import UserInputError, hide_passwords, report_unexpected
from ui.access import through_the_app
from ui.state import STEPS, Workspace, progress, run_all, workspace

PAGES = {
    "loaded": ("pages/data.py", "Data"),
    "prepared": ("pages/prepare.py", "Prepare"),
    "clustered": ("pages/cluster.py", "Cluster"),
    "merged": ("pages/merge.py", "Merge & compare"),
    "labeled": ("pages/profiles.py", "Profiles & labels"),
    "exported": ("pages/export.py", "Export"),
}
PALETTE = px.colors.qualitative.Dark24 + px.colors.qualitative.Light24
NOISE_COLOR = "#9CA3AF"


def page(name: str, title: str, intro: str) -> Workspace:
    """Header of a page; remembers which page the analyst is on. Nothing of a page runs unless
    the app's navigation runs it, after the login check (ui.access.through_the_app)."""
    through_the_app()
    ws = workspace()
    ws.page = name
    st.title(title)
    st.caption(intro)
    lost_notice(ws)
    if ws.demo_pending:
        segment_demo(ws)
    return ws


def lost_notice(ws: Workspace) -> None:
    """One line on every page while a tab whose session the server lost has loaded nothing."""
    if ws.lost:
        st.warning(
            "**This session was lost**: the server restarted or the session expired, so what was loaded "
            "and computed here is gone. Load the data again on Data, or open a tracked run on Runs & scenarios.",
            icon=":material/sync_problem:",
        )


def segment_demo(ws: Workspace) -> None:
    """Segment the demo data a new session starts with, under the page's header, each step
    named while it runs (cached across sessions: only a new server's first visitor waits)."""
    ws.demo_pending = False
    placeholder = st.empty()
    with placeholder.status("Segmenting the demo data…", expanded=False) as status:
        done = attempt(lambda: run_all(ws, lambda step: status.update(label=f"Demo data: {step}…")))
    if done is not None:
        placeholder.empty()


def status_strip(ws: Workspace) -> None:
    """One badge per workflow step, done or not, each linking to its page."""
    done = progress(ws)
    columns = st.columns(len(STEPS))
    for column, step in zip(columns, STEPS, strict=True):
        path, label = PAGES[step]
        icon = ":material/check_circle:" if done[step] else ":material/radio_button_unchecked:"
        column.page_link(path, label=step, icon=icon, help=f"Go to {label}")


def require(ws: Workspace, step: str, message: str) -> None:
    """Stop the page with a pointer to the page that does ``step`` when it is not done."""
    if not progress(ws)[step]:
        path, label = PAGES[step]
        st.info(message)
        st.page_link(path, label=f"Go to {label}", icon=":material/arrow_forward:")
        st.stop()


def show_error(error: Exception, action: str = "running this step") -> None:
    """A user error line by line; anything else as one line pointing to the log file."""
    if isinstance(error, UserInputError):
        for line in hide_passwords(str(error)).splitlines():
            st.error(line, icon=":material/block:")
    else:
        st.error(report_unexpected(error, action), icon=":material/warning:")


def attempt(action: Callable[[], Any], *, spinner: str | None = None) -> Any | None:
    """Run an engine call; show any error with ``show_error`` and return None (the session
    keeps its data, so the analyst can fix the input and go on)."""
    try:
        if spinner:
            with st.spinner(spinner):
                return action()
        return action()
    except Exception as error:
        show_error(error, spinner.rstrip("…").lower() if spinner else "running this step")
        return None


def segment_colors(segments: list[str]) -> dict[str, str]:
    """The same color for a segment on every chart and page: by sorted segment ID."""
    ordered = sorted({str(s) for s in segments}, key=_natural)
    colors = {segment: PALETTE[i % len(PALETTE)] for i, segment in enumerate(ordered)}
    for segment in ordered:
        if segment.endswith("0") and segment[:-1].isalpha():
            colors[segment] = NOISE_COLOR  # HDBSCAN noise kept as segment 0
    return colors


def _natural(text: str) -> tuple:
    """Sort 'I2' before 'I10'."""
    import re

    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text))


def sample_note(shown: int, total: int, what: str = "points") -> None:
    if shown < total:
        st.caption(
            f":material/info: Showing a fixed-seed random sample of {shown:,} of {total:,} {what} to keep the browser responsive."
        )


def choice(label: str, options: list, current: object, key: str, where: Any = st, **kwargs: Any) -> Any:
    """A selectbox opened on the current value (the first option when it is not offered)."""
    index = options.index(current) if current in options else 0
    return where.selectbox(label, options, index=index, key=key, **kwargs)


def size_input(label: str, spec: int | str, key: str, noun: str = "rows") -> int | str:
    """A size as a count (30) or a share of all rows ('2%'), as the config writes it."""
    left, right = st.columns([2, 1])
    percent = isinstance(spec, str)
    units = [f"% of {noun}", noun]
    unit = right.radio(
        "unit", units, index=0 if percent else 1, key=key + "unit", label_visibility="collapsed"
    )
    if unit == units[0]:
        default = float(str(spec).rstrip("%")) if percent else 2.0
        value = left.number_input(label, 0.0, 50.0, default, step=0.5, key=key + "pct")
        return f"{value:g}%"
    return int(left.number_input(label, 0, 1_000_000, spec if not percent else 30, key=key + "rows"))


def run_all_button(ws: Workspace, key: str) -> None:
    """'Run all steps': prepare, cluster, merge and profile with the current options, naming
    each step while it runs; then track the run (when MLflow is installed) and open Results."""
    from ui.state import run_all, track

    if not st.button(
        "Run all steps", icon=":material/play_arrow:", type="primary", key=key, disabled=not ws.sheets
    ):
        return
    with st.status("Running every step…", expanded=True) as status:
        result = attempt(lambda: run_all(ws, lambda step: status.update(label=f"{step}…")))
        if result is None:
            status.update(label="Stopped: see the message above.", state="error")
            return
        status.update(label="Saving the run to the tracking store…")
        tracked = track_quietly(lambda: track(ws, result))
        status.update(label="Done." + (f" Tracked as run {tracked}." if tracked else ""), state="complete")
    st.switch_page("pages/results.py")


def track_quietly(action: Callable[[], str]) -> str | None:
    """Track a run; a missing MLflow or a store failure is a warning, never a lost run."""
    from clustering import tracking

    if not tracking.available():
        return None
    try:
        return action()
    except Exception as error:  # the results stand; only the tracking failed
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:300]
        st.warning(
            f"The run was not tracked ({type(error).__name__}: {reason}). Its results are here as usual."
        )
        return None
