"""Who may use this app, and which databases they reach (the server's configuration decides).

On 127.0.0.1 the app is one analyst's: no login. Served to a team (another address, or
``$CLUSTERING_TEAM_MODE=1`` behind a reverse proxy) every page needs Streamlit's OpenID
Connect login; without one configured, no page is drawn, only a one-line refusal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from clustering.io.hosting import current_user as os_user
from clustering.io.hosting import team_mode
from ui.serving import refusal

if TYPE_CHECKING:  # the database layer is imported when a page needs it, not before the navigation
    from clustering.io.access import DatabaseAccess


def serving_team() -> bool:
    """Whether this server is shared by a team (so a login and the allow-list apply)."""
    return team_mode(st.get_option("server.address"))


def _secrets() -> dict:
    try:
        return st.secrets.to_dict()
    except FileNotFoundError:  # no secrets.toml at all
        return {}


def require_login() -> None:
    """Stop the page unless this server is local, or the visitor is logged in."""
    if not serving_team():
        return
    reason = refusal(st.get_option("server.address"), _secrets())
    if reason:
        st.error(reason, icon=":material/lock:")
        st.stop()
    if not logged_in():
        st.title("Clustering Studio")
        st.write("This server is shared by a team: log in with your company account to continue.")
        st.button("Log in", type="primary", icon=":material/login:", on_click=st.login, key="login")
        st.stop()
    with st.sidebar:
        st.caption(f"Logged in as {current_user()}")
        st.button("Log out", icon=":material/logout:", on_click=st.logout, key="logout")


def logged_in() -> bool:
    """Whether the visitor has logged in (st.user has no is_logged_in where auth is off)."""
    return bool(st.user.get("is_logged_in", False))


def current_user() -> str | None:
    """The logged-in analyst's email (None on a local server without a login)."""
    if not logged_in():
        return None
    return str(st.user.get("email") or st.user.get("name") or st.user.get("sub") or "unknown")


def acting_user() -> str:
    """Who acts in this session, for the warehouse's history: the logged-in analyst, else
    the operating-system user running this (local) server."""
    return current_user() or os_user()


@st.cache_resource(ttl=60, show_spinner=False)
def _access(team: bool) -> DatabaseAccess:
    from clustering.io.access import database_access

    return database_access(team)


def session_database_access() -> DatabaseAccess:
    """The databases this server lets a session open (re-read each minute)."""
    return _access(serving_team())
