"""A tab whose session the server no longer has (restarted, expired) says so in one line and
never shows the demo under the name of the analyst's file."""

from __future__ import annotations

from tests.app.conftest import new_app, no_exceptions, workspace

LOST = "**This session was lost**"


def test_a_tab_of_a_lost_session_says_so_and_gets_no_demo(monkeypatch):
    monkeypatch.setenv("CLUSTERING_DEMO", "store")  # a server that starts sessions on the demo
    at = new_app()
    at.query_params["session"] = "a-session-this-server-never-had"
    at.run()
    no_exceptions(at)
    assert [w.value for w in at.warning if w.value.startswith(LOST)]
    ws = workspace(at)
    assert ws.lost and not ws.sheets and not ws.demo_pending  # no demo data in its place
    assert at.query_params["session"] == ws.token  # the tab now names its new session
    at.switch_page("pages/data.py").run()  # said on every page until data is loaded
    assert [w.value for w in at.warning if w.value.startswith(LOST)]
    assert not at.file_uploader[0].value  # the uploader is this session's, empty


def test_a_new_tab_and_a_live_session_are_not_lost(monkeypatch):
    monkeypatch.setenv("CLUSTERING_DEMO", "store")
    first = new_app().run()
    no_exceptions(first)
    token = workspace(first).token
    assert first.query_params["session"] == token
    assert not [w for w in first.warning if w.value.startswith(LOST)] and workspace(first).sheets
    first.switch_page("pages/results.py").run()
    assert first.query_params["session"] == token  # a page switch keeps it in the URL
    other = new_app()
    other.query_params["session"] = token  # the URL of a session the server still has
    other.run()
    assert not workspace(other).lost and workspace(other).token != token


def test_loading_data_ends_the_lost_notice(monkeypatch):
    monkeypatch.setenv("CLUSTERING_DEMO", "store")
    at = new_app()
    at.query_params["session"] = "gone"
    at.run()
    next(b for b in at.button if b.label == "Start with demo stores").click().run()
    no_exceptions(at)
    assert not workspace(at).lost
    assert not [w for w in at.warning if w.value.startswith(LOST)]
