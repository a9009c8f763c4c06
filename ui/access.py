"""Who may use this app, and which databases they reach (the server's configuration decides).

On 127.0.0.1 the app is one analyst's: no login. Served to a team (another address, or
``$CLUSTERING_TEAM_MODE=1`` behind a reverse proxy) every page needs Streamlit's OpenID
Connect login; without one configured, no page is drawn, only a one-line refusal.

Every way to a page goes through the app's navigation (ui.navigation), where the login is
checked. Streamlit has an older multipage mode for a folder named ``pages/`` beside the entry
file: until a script run reaches ``st.navigation``, a URL such as ``/data`` runs
``pages/data.py`` on its own, without the entry file (and lists the folder's files in the
sidebar). So each page first calls ``through_the_app``: run any other way than from the app's
navigation, the page runs the app instead (login first) and turns that mode off.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner import get_script_run_ctx

from clustering.io.hosting import system_user, team_mode
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


_navigating = threading.local()  # set in the script thread while the app's navigation runs a page


def use_app_navigation() -> None:
    """Run ``app.py`` first on every request of this server from now on (Streamlit's older
    multipage mode off), and show the app's navigation in the sidebar (off in
    .streamlit/config.toml, so that mode never lists the files of pages/)."""
    PagesManager.uses_pages_directory = False
    st.set_option("client.showSidebarNavigation", True)


@contextmanager
def app_navigation() -> Iterator[None]:
    """The pages run inside this block are run by the app's navigation (after the login)."""
    _navigating.active = True
    try:
        yield
    finally:
        _navigating.active = False


def through_the_app() -> None:
    """The first call of every page: a page runs only from the app's navigation. Reached any
    other way (Streamlit serving the file of pages/ on its own), nothing more of it runs:
    the app runs instead (the login check, then this page from the navigation), in the same
    script run so that a click it carries is not lost, and switches the server to the app's
    navigation for every later request."""
    if getattr(_navigating, "active", False):
        return
    from ui.navigation import main

    main()
    st.stop()


def require_login() -> None:
    """Stop the page unless this server is local, or the visitor is logged in. A visitor who
    has not logged in keeps no uploaded file (Streamlit's upload endpoint stores a file for
    any open session; ``forget_anonymous_uploads`` also runs every few seconds)."""
    if not serving_team():
        return
    reason = refusal(st.get_option("server.address"), _secrets())
    if reason:
        _forget_this_sessions_uploads()
        st.error(reason, icon=":material/lock:")
        st.stop()
    if not logged_in():
        _forget_this_sessions_uploads()
        st.title("Clustering Studio")
        st.write("This server is shared by a team: log in with your company account to continue.")
        st.button("Log in", type="primary", icon=":material/login:", on_click=st.login, key="login")
        st.stop()
    with st.sidebar:
        st.caption(f"Logged in as {signed_in_analyst()}")
        st.button("Log out", icon=":material/logout:", on_click=st.logout, key="logout")


def _forget_this_sessions_uploads() -> None:
    context = get_script_run_ctx()
    if context is not None:
        context.uploaded_file_mgr.remove_session_files(context.session_id)


def forget_anonymous_uploads() -> int:
    """On a team's server, drop the files uploaded by sessions that have not logged in; returns
    how many sessions had some. Streamlit stores an upload for any open session before any
    page code runs, so this is how long such a file can stay: until the next pass."""
    from streamlit.runtime import Runtime

    if not serving_team() or not Runtime.exists():
        return 0
    runtime = Runtime.instance()
    uploads = runtime.uploaded_file_mgr
    stored = getattr(uploads, "file_storage", {})  # the in-memory manager's files, by session
    dropped = 0
    for info in runtime._session_mgr.list_sessions():  # a closed tab's session too
        session = info.session
        if session._user_info.get("is_logged_in"):
            continue
        dropped += bool(stored.get(session.id))
        uploads.remove_session_files(session.id)
    return dropped


def logged_in() -> bool:
    """Whether the visitor has logged in (st.user has no is_logged_in where auth is off)."""
    return bool(st.user.get("is_logged_in", False))


def signed_in_analyst() -> str | None:
    """The logged-in analyst's email (None on a local server without a login)."""
    if not logged_in():
        return None
    return str(st.user.get("email") or st.user.get("name") or st.user.get("sub") or "unknown")


def acting_user() -> str:
    """Who acts in this session, for the warehouse's history: the logged-in analyst, else
    the operating-system user running this (local) server."""
    return signed_in_analyst() or system_user()


@st.cache_resource(ttl=60, show_spinner=False)
def _access(team: bool) -> DatabaseAccess:
    from clustering.io.access import database_access

    return database_access(team)


def session_database_access() -> DatabaseAccess:
    """The databases this server lets a session open (re-read each minute)."""
    return _access(serving_team())
