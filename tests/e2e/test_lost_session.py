"""A server killed and restarted under an open tab: the tab says its session was lost and
never shows the demo under the name of the analyst's file."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from clustering.demo import store_demo
from clustering.io.export import write_workbook
from tests.e2e.conftest import ROOT, app_command, app_environment, chromium_page, free_port, wait_until_up
from tests.e2e.test_browser import Analyst


def start(port: int, log: Path) -> subprocess.Popen:
    server = subprocess.Popen(
        app_command(port),
        cwd=ROOT,
        env=app_environment({"CLUSTERING_DEMO": "store"}),  # as `make run`: sessions start on the demo
        stdout=log.open("a"),
        stderr=subprocess.STDOUT,
    )
    wait_until_up(f"http://127.0.0.1:{port}/_stcore/health", log)
    return server


def test_a_tab_under_a_restarted_server_says_its_session_was_lost(tmp_path):
    workbook = tmp_path / "wb_300.xlsx"
    write_workbook(store_demo(300, seed=5), workbook)
    port, log = free_port(), tmp_path / "server.log"
    server = start(port, log)
    try:
        with chromium_page() as page:
            me = Analyst(page)
            page.goto(f"http://127.0.0.1:{port}")
            me.sees("Your run so far", 60_000)
            me.open("Data")
            page.locator("input[type=file]").set_input_files(str(workbook))
            me.press("Load and check")
            me.sees("Loaded data")
            me.sees("wb_300.xlsx")
            assert "session=" in page.url  # the tab names its session
            me.idle()  # the tab sits idle, as a tab does when its server restarts: Streamlit's
            page.wait_for_timeout(3000)  # browser then reruns nothing by itself on reconnecting
            server.send_signal(signal.SIGKILL)  # kill -9, then the same server again
            server.wait(timeout=20)
            server = start(port, log)
            me.sees("This session was lost", 90_000)  # the tab reconnects and redraws, untouched
            me.idle()  # the redraw done: the old run's elements are gone only when it ends
            me.shot("lost_session")
            body = page.locator("body").inner_text()
            assert "demo store data" not in body  # no demo in place of the analyst's data
            assert page.locator("text=wb_300.xlsx >> visible=true").count() == 0
            assert page.blocked_requests == []
    finally:
        server.kill()
        server.wait(timeout=20)
