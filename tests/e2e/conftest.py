"""Start the real app on a free loopback port and drive it with Debian's Chromium."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "e2e"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
LOOPBACK = (
    "http://127.0.0.1",
    "http://localhost",
    "ws://127.0.0.1",
    "ws://localhost",
    "data:",
    "blob:",
    "about:",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def app_command(port: int, extra: list[str] | None = None) -> list[str]:
    """``streamlit run app.py`` on a loopback port, headless, with no usage statistics."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(ROOT / "app.py"),
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        *(extra or []),
    ]


def app_environment(env: dict[str, str] | None = None) -> dict[str, str]:
    """The test's environment with a config folder of the app's own."""
    return {**os.environ, "XDG_CONFIG_HOME": tempfile.mkdtemp(prefix="xdg-e2e-"), **(env or {})}


@contextmanager
def running_app(
    extra: list[str] | None = None, env: dict[str, str] | None = None, port: int | None = None
) -> Iterator[str]:
    """The real app (streamlit run app.py) on a loopback port (free, unless given); its URL."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    port = port or free_port()
    with serving(app_command(port, extra), port, "/_stcore/health", app_environment(env)) as url:
        yield url


@contextmanager
def serving(command: list[str], port: int, health: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """A server process on a loopback port, once ``health`` answers; its base URL. Stopped after."""
    log = Path(tempfile.mkdtemp(prefix="server-")) / "server.log"
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}{health}", log)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=20)


def wait_until_up(health: str, log: Path, seconds: float = 60) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(health, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"{health} did not answer; see {log}")


@pytest.fixture(scope="session")
def app_url() -> Iterator[str]:
    with running_app() as url:
        yield url


@contextmanager
def chromium_page(record_blocked: list[str] | None = None):
    """A page of a fresh headless Chromium, with every request off this machine blocked."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    blocked: list[str] = [] if record_blocked is None else record_blocked
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1500, "height": 1100}, accept_downloads=True)

        def guard(route) -> None:
            url = route.request.url
            if url.startswith(LOOPBACK):
                route.continue_()
            else:
                blocked.append(url)
                route.abort()

        context.route("**/*", guard)
        page = context.new_page()
        page.blocked_requests = blocked
        try:
            yield page
        finally:
            context.close()
            browser.close()


@pytest.fixture
def browser_page(app_url: str, request: pytest.FixtureRequest):
    with chromium_page() as page:
        yield page
        report = getattr(request.node, "call_report", None)
        if report is not None and report.failed:  # what the browser showed when the test failed
            page.screenshot(path=str(ARTIFACTS / f"failed-{request.node.name}.png"), full_page=True)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Keep each test's call report on it, for the failure screenshot of ``browser_page``."""
    report = yield
    if report.when == "call":
        item.call_report = report
    return report
