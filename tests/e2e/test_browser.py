"""The analyst's whole workflow in a real browser (Debian's Chromium), with every request
that would leave the machine blocked and counted."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pandas as pd
import pytest

from clustering.demo import store_demo
from clustering.io.export import write_workbook
from tests.e2e.conftest import ARTIFACTS

NEW_NAME = "Flagship corridor"


@pytest.fixture(scope="module")
def workbook(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("e2e") / "stores.xlsx"
    write_workbook(store_demo(600, seed=3), path)  # the flow, not the size, is checked
    return str(path)


class Analyst:
    """Small helpers that read like the steps an analyst takes."""

    def __init__(self, page) -> None:
        self.page = page

    def idle(self, timeout: float = 120_000) -> None:
        """Wait until no script run is going (Streamlit's running icon is gone): a link clicked
        while the sidebar redraws can fall through to the browser, which loads the page anew
        in a new session, without the data."""
        self.page.wait_for_function(
            "() => !document.querySelector('[data-testid=stStatusWidgetRunningIcon]')", timeout=timeout
        )
        self.page.wait_for_timeout(300)

    def open(self, name: str) -> None:
        """Follow the navigation link once the app is idle (again if a rerun swallowed the click)."""
        self.idle()
        link = self.page.get_by_role("link", name=name, exact=True).first
        path = urlsplit(urljoin(self.page.url, link.get_attribute("href"))).path
        for _ in range(3):
            link.click()
            try:  # the page adds its session to the query string: compare the paths
                self.page.wait_for_url(lambda url: urlsplit(url).path == path, timeout=10_000)
                break
            except Exception:  # the page was redrawing: click again
                pass
        self.page.wait_for_timeout(1000)

    def sees(self, text: str, timeout: float = 120_000) -> None:
        self.page.locator(f"text={text} >> visible=true").first.wait_for(timeout=timeout)

    def download(self, button: str) -> str:
        """Click a download button and return the path of the file it gave."""
        with self.page.expect_download(timeout=120_000) as download:
            self.page.get_by_role("button", name=button).click()
        return download.value.path()

    def press(self, name: str) -> None:
        """Click the button of that label (a Material icon's name may come first in its text)."""
        label = re.compile(rf"^(?:[a-z_0-9]+ )?{re.escape(name)}$")
        self.page.get_by_role("button", name=label).first.click()

    def start_with_demo(self, url: str) -> None:
        """Open the app and load the demo stores from Home."""
        self.page.goto(url)
        self.press("Start with demo stores")
        self.sees("Loaded data", 60_000)

    def prepare_both(self) -> None:
        """On the Prepare page: prepare internal, then external."""
        self.press("Prepare internal")
        self.sees("What each step did")
        self.tab("external")
        self.press("Prepare external")
        self.sees("What each step did")

    def tab(self, name: str) -> None:
        self.page.get_by_role("tab", name=name, exact=True).click()

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def rename_first_segment(self, name: str) -> None:
        """Type a new name into the first row of the names editor (a canvas grid)."""
        grid = self.page.locator("[data-testid=stDataFrameResizable]").first
        grid.scroll_into_view_if_needed()
        box = grid.bounding_box()
        editor = self.page.locator("textarea.gdg-input, #portal textarea").first
        for _ in range(5):
            self.page.mouse.dblclick(box["x"] + box["width"] * 0.8, box["y"] + 52)  # row 1, "name"
            try:
                editor.wait_for(timeout=3000)
                break
            except Exception:  # the grid was still re-rendering
                self.page.wait_for_timeout(1000)
        editor.fill(name)
        editor.press("Enter")
        self.page.wait_for_timeout(1500)

    def on_chart(self, walker, field: str, wait: bool = True) -> bool:
        """Whether ``field`` shows anywhere beyond the field list (a shelf or an axis title)."""
        for _ in range(20 if wait else 1):
            if walker.locator(f"text={field} >> visible=true").count() > 1:
                return True
            self.page.wait_for_timeout(500)
        return False

    def walker_frame(self):
        """PyGWalker's frame, once its field list shows the segment name field."""
        for _ in range(90):
            for frame in self.page.frames:
                if frame.url.startswith("about:srcdoc"):
                    try:
                        frame.locator("text=segment_name").first.wait_for(timeout=500)
                        return frame
                    except Exception:  # not rendered yet
                        pass
            self.page.wait_for_timeout(1000)
        raise AssertionError("PyGWalker's field list never appeared")


def test_upload_to_download_in_the_browser(browser_page, app_url, workbook):
    page = browser_page
    me = Analyst(page)
    page.goto(app_url)
    me.sees("Start with demo stores", 60_000)
    me.shot("home")

    me.open("Data")
    page.locator("input[type=file]").set_input_files(workbook)
    me.press("Load and check")
    me.sees("Loaded data")
    me.shot("data")

    me.open("Prepare")
    me.prepare_both()
    me.shot("prepare")

    me.open("Cluster")
    me.press("Run clustering on internal")
    me.sees("Silhouette plot")
    me.tab("external")
    me.press("Run clustering on external")
    me.sees("Silhouette plot")
    me.shot("cluster")

    me.open("Merge & compare")
    me.press("Merge")
    me.sees("Merge log")
    me.shot("merge")

    me.open("Profiles & labels")
    me.sees("Segments at a glance")
    me.rename_first_segment(NEW_NAME)
    me.sees("Segments at a glance")
    me.sees(NEW_NAME)
    me.shot("profiles")

    me.open("Explore")
    walker = me.walker_frame()
    assert not me.on_chart(walker, "segment_name", wait=False)
    field = walker.locator("text=segment_name").first.bounding_box()
    axis = walker.locator("text=X-Axis").first.bounding_box()
    page.mouse.move(field["x"] + 20, field["y"] + field["height"] / 2)
    page.mouse.down()
    page.mouse.move(field["x"] + 40, field["y"] + field["height"] / 2 + 5, steps=5)
    page.mouse.move(axis["x"] + axis["width"] + 100, axis["y"] + axis["height"] / 2, steps=20)
    page.mouse.up()
    assert me.on_chart(walker, "segment_name")
    page.wait_for_timeout(3000)  # the component sends the new chart spec to the app
    me.shot("explore")

    me.open("Profiles & labels")
    me.sees("Segments at a glance")
    me.open("Explore")
    walker = me.walker_frame()
    assert me.on_chart(walker, "segment_name")  # the chart came back
    me.shot("explore_after_page_switch")

    me.open("Export")
    downloaded = me.download("Results workbook")
    me.shot("export")
    assignments = pd.read_excel(downloaded, sheet_name="assignments", engine="calamine")
    assert (assignments["segment_name"] == NEW_NAME).sum() > 0
    assert len(assignments) == 600

    assert page.blocked_requests == [], f"the app tried to reach: {page.blocked_requests}"


def test_one_click_from_demo_to_results_in_the_browser(browser_page, app_url):
    page = browser_page
    me = Analyst(page)
    me.start_with_demo(app_url)
    me.press("Run all steps")
    me.sees("Can these segments be trusted?")
    me.sees("fall into natural groups")
    me.sees("segments of 2,000 stores")  # the headline opens Results
    me.sees("Two levels: internal × external segments")  # the merged result as a grid
    me.shot("results")
    me.open("Runs & scenarios")
    me.sees("Compare two runs")
    me.shot("runs")
    me.open("Home")
    me.sees("The answer")
    me.sees("segments of 2,000 stores")
    me.sees("See the segments on Results")
    me.shot("home_answer")
    me.open("Export")
    downloaded = me.download("Report (.html")
    report = Path(downloaded).read_text(encoding="utf-8")
    assert "segments of 2,000 stores" in report and re.search(r"<td class='n'>\d+\.\d%</td>", report)
    downloaded = me.download("Report (.pptx")
    from pptx import Presentation

    deck = Presentation(downloaded)
    assert [s.shapes.title.text for s in deck.slides][1] == "The segments"
    page.set_content(report)  # the report as a browser shows it: it asks for nothing outside
    me.sees("How far to trust it")
    me.shot("report")
    assert page.blocked_requests == [], f"the app or the report tried to reach: {page.blocked_requests}"


def pick(page, label: str, option: str | re.Pattern) -> None:
    """Open the select box of that label and click the option (again if the page was still
    drawing when the list opened)."""
    box = page.locator("[data-testid=stSelectbox]").filter(has_text=label).first
    wanted = page.get_by_role("option", name=option).first
    for _ in range(5):
        Analyst(page).idle()  # a rerun under way would close the list as it opens
        box.click()
        try:
            wanted.wait_for(timeout=5000)
            break
        except Exception:  # closed by a rerun: open it again
            page.keyboard.press("Escape")
            page.wait_for_timeout(1000)
    wanted.click()
    page.wait_for_timeout(1500)


def test_weights_nested_segments_and_a_k_scenario_in_the_browser(browser_page, app_url):
    from clustering.config import config_from_yaml

    page = browser_page
    me = Analyst(page)
    me.start_with_demo(app_url)

    me.open("Prepare")
    me.sees("Attribute weights")
    page.get_by_text("Attribute weights").first.click()
    thumb = page.locator("[data-testid=stSlider]").filter(has_text="revenue").locator("input[type=range]")
    thumb.focus()
    for _ in range(4):  # 1.0 -> 2.0 in steps of 0.25
        thumb.press("ArrowRight")
    for _ in range(3):  # on a loaded machine the key's change can miss its rerun: nudge it again
        try:
            me.sees("Attribute weights (1 set)", 15_000)
            break
        except Exception:
            thumb.press("ArrowLeft")
            thumb.press("ArrowRight")
    me.sees("Attribute weights (1 set)")
    me.prepare_both()

    me.open("Cluster")
    pick(page, "Segment within each value of", "format")
    me.press("Run clustering on internal")
    me.sees("Segments within each format")
    me.shot("cluster_nested")
    me.tab("external")
    me.press("Run clustering on external")
    me.sees("What if: every k of the sweep.")
    pick(page, "Scenario to fit", re.compile(r"^k = 7 ·"))
    me.press("Fit k = 7")
    me.sees("fixed by you; the sweep recommends")  # the sweep stays on screen
    me.sees("What moves between them")  # the fitted k beside the recommended one
    me.shot("cluster_scenario")

    me.open("Merge & compare")
    me.press("Merge")
    me.sees("Merge log")
    me.open("Profiles & labels")
    me.sees("Segments at a glance")
    me.sees("Supermarket · ")

    me.open("Export")
    downloaded = me.download("Results workbook")
    sheets = pd.read_excel(downloaded, sheet_name=None, engine="calamine")
    config = config_from_yaml("\n".join(sheets["config"]["config"].fillna("")))
    assert config.datasets["internal"].group_by == "format"
    assert config.datasets["internal"].preprocess.weights == {"revenue": 2.0}
    assert config.datasets["external"].cluster.k == 7
    names = sheets["assignments"]["segment_name"].str.split(" · ").str[0].str.lower()
    assert set(names) <= set(store_demo(2000)["internal"]["format"].dropna()) | {"(missing)"}
    assert page.blocked_requests == [], f"the app tried to reach: {page.blocked_requests}"
