"""A team's server in a real browser: nothing before the login, then a real OpenID Connect
flow against a local provider (oidc-provider-mock), and the app as the logged-in analyst."""

from __future__ import annotations

import json
import re
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import ARTIFACTS, chromium_page, free_port, running_app, serving

ANALYST = {"sub": "ana", "email": "ana@example.com", "name": "Ana Analyst"}


@pytest.fixture(scope="module")
def provider() -> str:
    """A local OpenID Connect provider with one predefined analyst; its base URL."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "oidc_provider_mock",
        "--port",
        str(port),
        "--user-claims",
        json.dumps(ANALYST),
    ]
    with serving(command, port, "/.well-known/openid-configuration") as base:
        yield base


def secrets_file(provider: str, app_port: int) -> Path:
    path = Path(tempfile.mkdtemp(prefix="secrets-")) / "secrets.toml"
    path.write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{app_port}/oauth2callback"\n'
        'cookie_secret = "a-long-random-cookie-secret-for-the-test"\n'
        'client_id = "clustering-studio"\n'
        'client_secret = "test-client-secret"\n'
        f'server_metadata_url = "{provider}/.well-known/openid-configuration"\n',
        encoding="utf-8",
    )
    return path


def test_a_team_server_logs_in_through_the_companys_provider(provider):
    port = free_port()
    secrets = secrets_file(provider, port)
    extra = ["--secrets.files", str(secrets)]
    env = {"CLUSTERING_TEAM_MODE": "1", "CLUSTERING_DEMO": ""}
    with running_app(extra, env, port=port) as url, chromium_page([]) as page:
        page.goto(url)
        login = page.get_by_role("button", name="Log in")
        login.wait_for(timeout=60_000)
        assert page.get_by_role("link", name="Data", exact=True).count() == 0  # no page before the login
        login.click()
        page.wait_for_url(f"{provider}/**", timeout=30_000)
        page.get_by_role("button", name="ana", exact=True).click()  # the provider's predefined user
        page.wait_for_url(f"{url}/**", timeout=30_000)
        page.locator("text=Logged in as ana@example.com").first.wait_for(timeout=60_000)
        page.get_by_role("link", name="Data", exact=True).first.wait_for(timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "team-login.png"))


def test_a_team_server_without_a_login_refuses_in_the_browser():
    env = {"CLUSTERING_TEAM_MODE": "1", "CLUSTERING_DEMO": ""}
    no_secrets = ["--secrets.files", str(Path(tempfile.mkdtemp()) / "none.toml")]
    with running_app(no_secrets, env) as url, chromium_page([]) as page:
        page.goto(url)
        page.locator("text=Refusing to serve 127.0.0.1 without a login").first.wait_for(timeout=60_000)
        assert page.get_by_role("link", name="Data", exact=True).count() == 0


# Every page by its own URL, each in a new session, as the first requests a new server gets
# (Streamlit's older multipage mode serves the files of pages/ by name until a script run
# reaches st.navigation: the login must hold before that too).
PAGE_PATHS = ("data", "runs", "export", "results", "cluster", "prepare", "merge", "profiles", "explore")
PAGE_TITLES = ("Data", "Runs & scenarios", "Export", "Results", "Cluster", "Prepare", "Merge & compare")


def assert_only(page, wanted: str) -> None:
    """The page shows ``wanted`` and nothing of a page of the app: no title, no navigation."""
    page.locator(f"text={wanted}").first.wait_for(timeout=60_000)
    page.wait_for_timeout(500)  # anything a page would draw after the first message
    shown = page.locator("[data-testid=stMain]").inner_text()
    headings = [h.strip() for h in page.locator("h1").all_inner_texts()]
    assert not set(headings) & set(PAGE_TITLES), (page.url, headings)
    assert page.locator("[data-testid=stSidebarNav]").count() == 0, page.url
    assert page.locator("input[type=file]").count() == 0 and "Load and check" not in shown, page.url


def test_no_page_url_opens_on_a_team_server_without_a_login():
    env = {"CLUSTERING_TEAM_MODE": "1", "CLUSTERING_DEMO": "store"}
    no_secrets = ["--secrets.files", str(Path(tempfile.mkdtemp()) / "none.toml")]
    with running_app(no_secrets, env) as url, chromium_page([]) as page:
        for path in PAGE_PATHS:
            page.goto(f"{url}/{path}")
            assert_only(page, "Refusing to serve 127.0.0.1 without a login")


def test_no_page_url_opens_before_the_analyst_logs_in(provider):
    port = free_port()
    extra = ["--secrets.files", str(secrets_file(provider, port))]
    env = {"CLUSTERING_TEAM_MODE": "1", "CLUSTERING_DEMO": "store"}
    with running_app(extra, env, port=port) as url, chromium_page([]) as page:
        for path in PAGE_PATHS:
            page.goto(f"{url}/{path}")
            assert_only(page, "log in with your company account")
            assert page.get_by_role("button", name="Log in").count() == 1


SESSION_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def uploaded_bytes(url: str) -> int:
    """What Streamlit's upload manager holds, from the server's metrics (0: nothing)."""
    import urllib.request

    with urllib.request.urlopen(f"{url}/_stcore/metrics", timeout=5) as response:
        text = response.read().decode("utf-8")
    held = re.findall(r'cache_type="UploadedFileManager"[^}]*} (\d+)', text)
    return sum(int(value) for value in held)


def test_an_upload_from_a_visitor_who_has_not_logged_in_is_not_kept():
    env = {"CLUSTERING_TEAM_MODE": "1", "CLUSTERING_DEMO": ""}
    no_secrets = ["--secrets.files", str(Path(tempfile.mkdtemp()) / "none.toml")]
    with running_app(no_secrets, env) as url, chromium_page([]) as page:
        seen: list[str] = []

        def frames(socket) -> None:
            socket.on("framereceived", lambda payload: seen.extend(SESSION_ID.findall(str(payload))))

        page.on("websocket", frames)
        page.goto(url)
        page.locator("text=Refusing to serve").first.wait_for(timeout=60_000)
        token = next(c["value"] for c in page.context.cookies() if c["name"] == "_streamlit_xsrf")
        upload = {"file": {"name": "big.csv", "mimeType": "text/csv", "buffer": b"x" * 5_000_000}}
        answers = {  # the session's ID is one of the IDs its first messages carry
            candidate: page.request.put(
                f"{url}/_stcore/upload_file/{candidate}/f1", multipart=upload, headers={"X-Xsrftoken": token}
            ).status
            for candidate in dict.fromkeys(seen)
        }
        # Measured: Streamlit stores it (only a reverse proxy can refuse it, docs/deploying.md) ...
        assert 204 in answers.values() and uploaded_bytes(url) >= 5_000_000, answers
        deadline = time.monotonic() + 45
        while uploaded_bytes(url) and time.monotonic() < deadline:
            time.sleep(1)
        assert uploaded_bytes(url) == 0  # ... and the app drops it within a reaper pass (15 s)
