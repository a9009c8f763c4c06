"""The app's speed as an analyst feels it: each step timed in headless Chromium, click to idle.

Usage: ``python benchmarks/app.py [--sizes 10000 100000] [--repeats 3] [--first-paint-only]``

First paint: a new server started on the demo (``CLUSTERING_DEMO=store``, as ``make run``),
a fresh browser opens it; seconds from the request to the navigation, to Home drawn (its
demo buttons), and to the demo segmented (the run button appears), on the browser's clock.
Its floor, measured in the same run: a new server of a one-line Streamlit app (``st.title``)
and the seconds to that title, so the ratio says what the app adds to Streamlit itself.

For each size, a fresh app server (the browser test's machinery: Debian's Chromium driven
by Playwright, every request off the machine blocked) walks the workflow on a generated
two-sheet store workbook: upload and check, prepare, cluster each dataset, merge, open
Profiles, Explore and Export, build the workbook download, and a page switch that needs no
new work. A step lasts from the click to the end of the last script run it caused, on the
browser's clock (a MutationObserver records every change of the app's script state, so
the detector adds no wait of its own). Medians of ``--repeats`` walks, each on a new
server, so no cache is warm across walks.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from floor import measure_floor  # noqa: E402
from playwright.sync_api import TimeoutError as PlaywrightTimeout  # noqa: E402

from clustering.demo import store_demo  # noqa: E402
from clustering.io.export import write_workbook  # noqa: E402
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, LOOPBACK, free_port  # noqa: E402


def start_server(
    port: int, script: Path = ROOT / "app.py", extra_env: dict | None = None
) -> subprocess.Popen:
    env = {
        **os.environ,
        "XDG_CONFIG_HOME": tempfile.mkdtemp(prefix="xdg-bench-"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{tempfile.mkdtemp(prefix='mlflow-bench-')}/mlruns.db",
        **(extra_env or {}),
    }
    command = [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port)]
    server = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    for _ in range(200):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1):
                return server
        except OSError:
            time.sleep(0.3)
    server.terminate()
    raise RuntimeError("the app did not start")


# In the page: record every change of the app's script state ("running", "notRunning") with
# the browser's clock, so that a run shorter than any polling interval is still seen.
WATCH = """() => {
    const app = document.querySelector('[data-testid=stApp]');
    window.__changes = [];
    if (window.__watcher) window.__watcher.disconnect();
    window.__watcher = new MutationObserver(() =>
        window.__changes.push([app.getAttribute('data-test-script-state'), performance.now()]));
    window.__watcher.observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
    return performance.now();
}"""
SETTLED = """(quiet) => {
    const changes = window.__changes;
    if (!changes.length) return false;
    const [state, at] = changes[changes.length - 1];
    return state === 'notRunning' && performance.now() - at > quiet;
}"""
STARTED = "() => window.__changes.length > 0"
RETRY_MS = 5_000
QUIET_MS = 600  # no new run for this long: the step (and any rerun it triggered) is over
STEP_TIMEOUT_MS = 180_000  # a step that runs longer is reported as a failure, with a screenshot


class Clock:
    """Act, then wait until the app's script has stopped running; the seconds from the action
    to the end of the last run it caused, on the browser's clock."""

    def __init__(self, page) -> None:
        self.page = page

    def idle_after(self, action) -> float:
        started = self.page.evaluate(WATCH)
        action()
        try:  # a click that lands while the page is being redrawn can be lost: click once more
            self.page.wait_for_function(STARTED, timeout=RETRY_MS, polling=20)
        except PlaywrightTimeout:
            started = self.page.evaluate(WATCH)
            action()
        self.page.wait_for_function(SETTLED, arg=QUIET_MS, timeout=STEP_TIMEOUT_MS, polling=50)
        ended = self.page.evaluate("() => window.__changes[window.__changes.length - 1][1]")
        return (ended - started) / 1000

    def open(self, name: str) -> float:
        return self.idle_after(lambda: self.page.get_by_role("link", name=name, exact=True).first.click())

    def press(self, name: str) -> float:
        button = self.page.get_by_role("button", name=name, exact=True)
        button.wait_for(state="visible")
        self.page.wait_for_timeout(200)  # let the page finish drawing before the click
        return self.idle_after(lambda: button.click())

    def sees(self, text: str, timeout: float = 300_000) -> None:
        self.page.locator(f"text={text} >> visible=true").first.wait_for(timeout=timeout)


# In the page from its first moment: when each awaited sight first appears, on the
# browser's clock (milliseconds since the request started).
RECORD_SIGHTS = """
window.__sights = {};
new MutationObserver(() => {
    const body = document.body ? document.body.innerText : '';
    const nav = document.querySelector('[data-testid=stSidebarNav]');
    const seen = {
        navigation: nav !== null && nav.innerText.includes('Home'),
        'Home drawn': body.includes('Start with demo stores'),
        'demo segmented': body.includes('Run all steps'),
        'floor title': body.includes('Floor page'),
    };
    for (const [sight, now] of Object.entries(seen))
        if (now && !(sight in window.__sights)) window.__sights[sight] = performance.now();
}).observe(document, {subtree: true, childList: true, characterData: true});
"""
FLOOR_APP = 'import streamlit as st\n\nst.title("Floor page")\n'


def first_paint(script: Path, awaited: str, extra_env: dict | None = None) -> dict[str, float]:
    """A new server of ``script``, a fresh browser: seconds to each sight, until ``awaited``."""
    from playwright.sync_api import sync_playwright

    port = free_port()
    server = start_server(port, script, extra_env)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.add_init_script(RECORD_SIGHTS)
            page.goto(f"http://127.0.0.1:{port}")
            page.wait_for_function(f"() => {awaited!r} in window.__sights", timeout=300_000, polling=50)
            sights = page.evaluate("window.__sights")
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {sight: ms / 1000 for sight, ms in sights.items()}


def report_first_paint(repeats: int) -> None:
    floor_script = Path(tempfile.mkdtemp(prefix="bench-floor-app-")) / "floor_app.py"
    floor_script.write_text(FLOOR_APP)
    floors, app = [], {}
    for _ in range(repeats):
        floors.append(first_paint(floor_script, "floor title")["floor title"])
        for sight, seconds in first_paint(
            ROOT / "app.py", "demo segmented", {"CLUSTERING_DEMO": "store"}
        ).items():
            app.setdefault(sight, []).append(seconds)
    floor = statistics.median(floors)
    print(f"\nfirst paint, median of {repeats} new server(s): seconds from the request")
    print(f"{'floor: a one-line Streamlit app drawn':<38}{floor:>8.2f}")
    for sight in ("navigation", "Home drawn", "demo segmented"):
        seconds = statistics.median(app[sight])
        print(f"{sight:<38}{seconds:>8.2f}  {seconds / floor:.2f}x floor")


def walk(url: str, workbook: str) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    times: dict[str, float] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1500, "height": 1100}, accept_downloads=True)
        context.route(
            "**/*",
            lambda route: route.continue_() if route.request.url.startswith(LOOPBACK) else route.abort(),
        )
        page = context.new_page()
        try:
            _steps(page, url, workbook, times)
        except Exception:
            shot = Path(tempfile.mkdtemp(prefix="bench-app-failure-")) / "page.png"
            page.screenshot(path=str(shot), full_page=True)
            print(f"the walk stopped; the page is in {shot}", file=sys.stderr)
            raise
        finally:
            context.close()
            browser.close()
    return times


def _steps(page, url: str, workbook: str, times: dict[str, float]) -> None:
    """The analyst's walk through the app; each step's seconds go to ``times``."""
    page.goto(url)
    clock = Clock(page)
    clock.sees("Start with demo stores", 60_000)
    clock.open("Data")
    times["upload + parse"] = clock.idle_after(
        lambda: page.locator("input[type=file]").set_input_files(workbook)
    )
    times["load and check"] = clock.press("Load and check")
    clock.sees("Loaded data")
    clock.open("Prepare")
    for name in ("internal", "external"):
        page.get_by_role("tab", name=name, exact=True).click()  # drawn at once: no rerun
        times[f"prepare {name}"] = clock.press(f"Prepare {name}")
    clock.open("Cluster")
    for name in ("internal", "external"):  # lazy tabs: opening another one reruns the page
        if name != "internal":
            times[f"open the {name} tab"] = clock.idle_after(
                lambda name=name: page.get_by_role("tab", name=name, exact=True).click()
            )
        times[f"cluster {name}"] = clock.press(f"Run clustering on {name}")
        clock.sees("Silhouette plot")
    clock.open("Merge & compare")
    times["merge"] = clock.press("Merge")
    clock.sees("Merge log")
    times["open Profiles"] = clock.open("Profiles & labels")
    clock.sees("Segments at a glance")
    times["open Explore"] = clock.open("Explore")
    times["open Export"] = clock.open("Export")
    started = time.perf_counter()
    with page.expect_download(timeout=300_000):
        page.get_by_role("button", name="Results workbook").click()
    times["workbook download"] = time.perf_counter() - started
    clock.open("Home")
    times["page switch, no new work (Cluster)"] = clock.open("Cluster")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--first-paint-only", action="store_true", help="measure only the first paint")
    args = parser.parse_args()
    report_first_paint(args.repeats)
    if args.first_paint_only:
        return
    floor = measure_floor()
    print(f"floor (benchmarks/floor.py): {floor:.2f} s")
    results: dict[int, dict[str, list[float]]] = {}
    for size in args.sizes:
        folder = Path(tempfile.mkdtemp(prefix="bench-app-"))
        workbook = folder / f"stores_{size}.xlsx"
        write_workbook({k: v for k, v in store_demo(size, seed=1).items() if k != "truth"}, workbook)
        for _ in range(args.repeats):
            port = free_port()
            server = start_server(port)
            try:
                for step, seconds in walk(f"http://127.0.0.1:{port}", str(workbook)).items():
                    results.setdefault(size, {}).setdefault(step, []).append(seconds)
            finally:
                server.terminate()
                server.wait(timeout=30)
    steps = list(next(iter(results.values())))
    print(f"\nmedian seconds, click to idle, of {args.repeats} walk(s)")
    print(f"{'step':<38}" + "".join(f"{size:>12,}" for size in results))
    for step in steps:
        print(f"{step:<38}" + "".join(f"{statistics.median(results[s][step]):>12.2f}" for s in results))
    print(f"(ratios: divide by the floor, {floor:.2f} s)")


if __name__ == "__main__":
    main()
