"""A new server's first page: the real navigation and Home at once, never Streamlit's list
of the files in pages/, and the demo segmented afterwards (issue: first five minutes)."""

from __future__ import annotations

import re

from tests.e2e.conftest import chromium_page, running_app

# Every text the sidebar navigation ever shows, recorded in the page from its first moment.
RECORD_NAVIGATION = """
window.__navigation = [];
new MutationObserver(() => {
    const nav = document.querySelector('[data-testid=stSidebarNav]');
    if (nav && window.__navigation[window.__navigation.length - 1] !== nav.innerText)
        window.__navigation.push(nav.innerText);
}).observe(document, {subtree: true, childList: true, characterData: true});
"""
FILE_LIST = re.compile(r"^app$", re.MULTILINE)  # the list names the entry file; the navigation never does


def test_a_new_server_draws_its_navigation_and_home_before_segmenting_the_demo():
    with running_app(env={"CLUSTERING_DEMO": "store"}) as url, chromium_page() as page:
        page.add_init_script(RECORD_NAVIGATION)
        page.goto(url)
        page.get_by_role("button", name=re.compile("Start with demo stores")).wait_for(timeout=60_000)
        drawn_before_segmenting = page.get_by_text("Run all steps").count() == 0
        page.get_by_role("button", name=re.compile("Run all steps")).wait_for(timeout=120_000)
        shown = page.evaluate("window.__navigation")

        page.goto(f"{url}/results")  # a new session opened on another page: the demo is segmented
        page.get_by_text("Can these segments be trusted?").wait_for(timeout=120_000)

    assert drawn_before_segmenting, "Home waited for the demo to be segmented"
    assert shown and all("Home" in text for text in shown), shown
    assert not any(FILE_LIST.search(text) for text in shown), f"the pages/ file list showed: {shown}"


def test_a_deep_link_on_a_new_server_shows_the_apps_navigation_and_that_page():
    with running_app(env={"CLUSTERING_DEMO": ""}) as url, chromium_page() as page:
        page.add_init_script(RECORD_NAVIGATION)
        page.goto(f"{url}/data")  # the server's first request
        page.get_by_role("heading", name="Data").first.wait_for(timeout=60_000)
        page.get_by_role("link", name="Results", exact=True).first.wait_for(timeout=30_000)
        shown = page.evaluate("window.__navigation")
    assert shown and not any(FILE_LIST.search(text) for text in shown), (
        f"the pages/ file list showed: {shown}"
    )
