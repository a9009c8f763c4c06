"""PyGWalker, offline, in a component that keeps the analyst's chart spec.

Why ``pygwalker.to_html`` and not ``StreamlitRenderer``: on Streamlit 1.67 the renderer
does not import (it needs tornado and a Streamlit helper that no longer exists), and
with the pre-release fix its component still renders empty here. ``to_html`` embeds the
rows in the page, so the app passes a fixed-seed sample (the page says so) to keep the
browser responsive at 100k rows.

Offline: privacy is set to "offline" (no tracking), and the few external assets in
PyGWalker's bundle (a CDN stylesheet for maps and two logos) are replaced by inline
placeholders before the page is built, so no request leaves the machine.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import streamlit.components.v1 as components

COMPONENT = components.declare_component(
    "pyg_explorer", path=str(Path(__file__).parent / "components" / "pyg_explorer")
)
BLANK_IMAGE = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='1' height='1'/%3E"
BLANK_STYLE = "data:text/css,"
EXTERNAL_ASSET = re.compile(
    r"https://(?:www\.runcell\.dev/[\w./-]+\.svg|imagedelivery\.net/[\w/-]+|unpkg\.com/[\w@./-]+\.css)"
)
_patched = False


def _inline(match: re.Match[str]) -> str:
    return BLANK_STYLE if match.group(0).endswith(".css") else BLANK_IMAGE


def offline_pygwalker() -> None:
    """Privacy 'offline' and a bundle without external assets (once per process)."""
    global _patched
    import pygwalker
    from pygwalker.services import render

    pygwalker.GlobalVarManager.set_privacy("offline")
    if not _patched:
        render.GWALKER_SCRIPT_BASE64 = render.compress_data(
            EXTERNAL_ASSET.sub(_inline, render.GWALKER_SCRIPT)
        )
        _patched = True


def walker_html(frame: pd.DataFrame, spec: str) -> str:
    """PyGWalker's page for ``frame``, opened on the charts of ``spec`` (JSON, may be empty)."""
    import pygwalker

    offline_pygwalker()
    return pygwalker.to_html(frame, spec=spec or "", appearance="light", default_tab="vis")


def explorer(html: str, render_id: str, spec: str, height: int = 900) -> str | None:
    """Show the walker; returns the latest chart spec the analyst made (JSON), if any."""
    return COMPONENT(
        html=html, render_id=render_id, spec=spec, height=height, key="pyg_explorer", default=None
    )
