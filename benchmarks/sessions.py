"""Memory of a shared server: sessions that close give their memory back; a big upload's peak.

Usage: python benchmarks/sessions.py [--sessions 6] [--batches 5] [--wait 120] [--csv-mb 100]

1. A fresh app server (the browser test's machinery: Debian's Chromium, every request off
   the machine blocked). Its resident memory once the first page is drawn is the cold idle
   level; after one warm-up session (every step, so every module the steps need is
   imported: scikit-learn, MLflow, Plotly...) has closed and been released, the warm idle
   level: what the server holds with no session at all.
2. ``--batches`` times: ``--sessions`` browser tabs, each in its own context, upload their
   own two-sheet store workbook (500 to 3,000 stores, new seeds in every batch), press Load
   and check, then Run all steps, and open Export; all stay open together, then all close.
3. The server's RSS ``--wait`` seconds after each batch's tabs closed, and its slope over the
   batches. Goal: within 150 MB of warm idle after the last batch, and no growth from batch
   to batch.
4. A new tab uploads a ``--csv-mb`` MB CSV of stores (table mode) and presses Load and
   check; the server's RSS is sampled every 50 ms from the upload until the data is loaded
   and checked; what stays held is read 5 s later and again after one period of the server's
   reaper (which hands freed pages back every 15 s). Goals: the peak above the level before
   the upload at most 4x the file's size, what stays held once loaded at most 2x.

Prints the floor (benchmarks/floor.py) measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from floor import measure_floor  # noqa: E402

from clustering.demo import store_demo  # noqa: E402
from clustering.io.export import write_workbook  # noqa: E402
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, LOOPBACK, free_port, wait_until_up  # noqa: E402

MB = 1024 * 1024
SIZES = (500, 1000, 1500, 2000, 2500, 3000)


def rss(pid: int) -> int:
    """Resident bytes of a process (Linux /proc)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class PeakSampler:
    """The highest RSS of a process while running (sampled every ``interval`` s)."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid, self.interval, self.peak, self._stop = pid, interval, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss(self.pid))
            time.sleep(self.interval)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def start_server(port: int, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "XDG_CONFIG_HOME": tempfile.mkdtemp(prefix="xdg-bench-"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{tempfile.mkdtemp(prefix='mlflow-bench-')}/mlruns.db",
        "CLUSTERING_DEMO": "",
    }
    command = [sys.executable, "-m", "ui.serving", "--port", str(port)]  # as `make run` starts it
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    wait_until_up(f"http://127.0.0.1:{port}/_stcore/health", log)
    return server


def new_page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.route("**/*", lambda r: r.continue_() if r.request.url.startswith(LOOPBACK) else r.abort())
    return context, context.new_page()


def seen(page, text: str, timeout: float = 300_000) -> None:
    page.locator(f"text={text} >> visible=true").first.wait_for(timeout=timeout)


def idle(page, timeout: float = 300_000) -> None:
    """Wait until no script run is going (Streamlit's running icon is gone): the page that
    loaded a file redraws once more (its uploader empties), and a click made while it
    redraws can be swallowed."""
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=stStatusWidgetRunningIcon]')", timeout=timeout
    )
    page.wait_for_timeout(300)


def analyst_session(page, url: str, workbook: Path) -> None:
    """Upload a workbook, load and check it, run every step, open Export."""
    page.goto(url)
    page.get_by_role("link", name="Data", exact=True).first.click()
    page.locator("input[type=file]").set_input_files(str(workbook))
    page.get_by_role("button", name="Load and check").click()
    seen(page, "Loaded data")
    for attempt in range(3):  # a click while the page redraws can be swallowed: click again once idle
        idle(page)
        page.get_by_role("button", name="Run all steps").first.click()
        try:
            page.wait_for_url(re.compile(r"/results(\?|$)"), timeout=300_000 if attempt == 2 else 60_000)
            break  # every step ran, the run tracked
        except Exception:
            page.screenshot(
                path=str(Path(tempfile.gettempdir()) / f"sessions-stalled-{attempt}.png"), full_page=True
            )
            if attempt == 2:
                raise
            print(
                f"  (Run all steps did not reach Results in a minute; clicked again, attempt {attempt + 2})"
            )
    seen(page, "Segments")
    page.get_by_role("link", name="Export", exact=True).first.click()
    seen(page, "Results workbook")


def workbook_of(folder: Path, size: int, seed: int) -> Path:
    path = folder / f"stores_{seed}.xlsx"
    write_workbook({k: v for k, v in store_demo(size, seed=seed).items() if k != "truth"}, path)
    return path


def warm_idle(browser, url: str, pid: int, folder: Path, wait: int) -> int:
    """The server's RSS once a warm-up session has run every step and been released."""
    context, page = new_page(browser)
    analyst_session(page, url, workbook_of(folder, 500, 99))
    context.close()
    time.sleep(wait)
    return rss(pid)


def sessions_part(browser, url: str, pid: int, args: argparse.Namespace, folder: Path) -> None:
    cold = rss(pid)
    print(f"cold idle server (first page drawn): {cold / MB:,.0f} MB")
    idle = warm_idle(browser, url, pid, folder, args.wait)
    print(f"warm idle server (one session ran every step, closed, released): {idle / MB:,.0f} MB")
    levels = [batch(browser, url, pid, args, folder, number, idle) for number in range(1, args.batches + 1)]
    above = np.array(levels) - idle
    slope = np.polyfit(np.arange(len(levels)), above, 1)[0] if len(levels) > 1 else 0.0
    verdict = "within" if above[-1] <= 150 * MB else "NOT within"
    print(
        f"after each of {len(levels)} batches ({args.wait} s after closing), above warm idle: "
        + ", ".join(f"{a / MB:+,.0f} MB" for a in above)
        + f"; slope {slope / MB:+,.1f} MB a batch; the last {verdict} 150 MB"
    )


def batch(browser, url: str, pid: int, args: argparse.Namespace, folder: Path, number: int, idle: int) -> int:
    """``--sessions`` tabs with new workbooks (every step), all open together, then closed; the
    server's RSS ``--wait`` seconds later."""
    open_pages = []
    for i in range(args.sessions):
        size = SIZES[i % len(SIZES)]
        workbook = workbook_of(folder, size, 100 * number + i)  # new data in every batch
        context, page = new_page(browser)
        started = time.perf_counter()
        analyst_session(page, url, workbook)
        open_pages.append(context)
        print(f"  batch {number}, session {i + 1}: {size:,} stores, every step in "
              f"{time.perf_counter() - started:.1f} s, server {rss(pid) / MB:,.0f} MB")  # fmt: skip
    busy = rss(pid)
    for context in open_pages:
        context.close()
    closed = time.perf_counter()
    print(f"batch {number}: {args.sessions} sessions open: {busy / MB:,.0f} MB; all tabs closed now")
    level = busy
    while time.perf_counter() - closed < args.wait:
        time.sleep(10)
        level = rss(pid)
    print(
        f"batch {number}: {args.wait} s after closing: {level / MB:,.0f} MB, {(level - idle) / MB:+,.0f} MB from idle"
    )
    return level


def big_csv(path: Path, megabytes: int) -> int:
    rng = np.random.default_rng(0)
    rows = int(megabytes * MB / 79)  # about 79 bytes a row with these columns
    frame = pd.DataFrame({"store_id": [f"S{i:08d}" for i in range(rows)]})
    for column in ("sales", "margin", "space_sqm", "staff_hours", "footfall", "basket", "returns"):
        frame[column] = rng.lognormal(8, 1, rows).round(2)
    frame["region"] = rng.choice(["North", "South", "East", "West"], rows)
    frame["format"] = rng.choice(["Hyper", "Super", "Express"], rows)
    frame.to_csv(path, index=False)
    return path.stat().st_size


def upload_part(browser, url: str, pid: int, args: argparse.Namespace, folder: Path) -> None:
    path = folder / "stores_big.csv"
    size = big_csv(path, args.csv_mb)
    context, page = new_page(browser)
    page.goto(url)
    page.get_by_role("link", name="Data", exact=True).first.click()
    page.get_by_label("What do you segment?").first.wait_for()
    page.locator("[data-testid=stSelectbox]").filter(has_text="What do you segment?").click()
    page.get_by_role("option", name="One table of entities").click()
    before = rss(pid)
    bar_seen = threading.Event()
    started = time.perf_counter()
    with PeakSampler(pid) as sampler:
        page.locator("input[type=file]").set_input_files(str(path))
        deadline = time.time() + 600
        while time.time() < deadline:
            if page.locator("[data-testid=stProgress]").count():
                bar_seen.set()
            if page.get_by_text("ID column").count():
                break
            page.wait_for_timeout(100)
        parsed_at = time.perf_counter() - started
        parse_peak = sampler.peak
        page.get_by_role("button", name="Load and check").click()
        page.get_by_text("Loaded data").first.wait_for(timeout=600_000)
    elapsed = time.perf_counter() - started
    page.wait_for_timeout(5000)  # the page settles; what the session now holds
    settled = rss(pid) - before
    page.wait_for_timeout(20_000)  # one period of the reaper, which returns freed pages
    held = rss(pid) - before
    growth = sampler.peak - before
    print(
        f"{size / MB:,.0f} MB CSV: upload + parse {parsed_at:.1f} s (peak {(parse_peak - before) / size:.1f}x the "
        f"file), then Load and check: {elapsed:.1f} s in all; server peak {sampler.peak / MB:,.0f} MB "
        f"({growth / MB:+,.0f} MB over {before / MB:,.0f} MB = {growth / size:.1f}x the file; goal 4x), "
        f"held once loaded {held / MB:+,.0f} MB = {held / size:.1f}x (goal 2x; 5 s after loading, before the "
        f"reaper's return of freed pages: {settled / size:.1f}x), "
        f"progress bar seen: {'yes' if bar_seen.is_set() else 'no'}"
    )
    context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("--sessions", type=int, default=6)
    parser.add_argument(
        "--batches", type=int, default=5, help="batches of --sessions sessions, new data each"
    )
    parser.add_argument("--wait", type=int, default=120)
    parser.add_argument("--csv-mb", type=int, default=100)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    floor = measure_floor()
    print(f"floor (python + pandas + scikit-learn, one KMeans on 100k x 10): {floor:.2f} s")
    folder = Path(tempfile.mkdtemp(prefix="bench-sessions-"))
    port = free_port()
    server = start_server(port, folder / "server.log")
    url = f"http://127.0.0.1:{port}"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context, page = new_page(browser)
            page.goto(url)
            seen(page, "Clustering Studio", 60_000)
            time.sleep(3)
            context.close()
            if args.sessions:
                sessions_part(browser, url, server.pid, args, folder)
            if args.csv_mb:
                upload_part(browser, url, server.pid, args, folder)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
