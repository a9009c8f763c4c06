"""The views and moves of a retail clustering suite in a real browser: a feature's
distribution by segment, a dendrogram cut at k, why one store sits where it does, how the
segments relate, a split of one segment, a new store placed by a like-store mapping, and a
DFU segment's demand over the months; each page shot to artifacts/e2e/."""

from __future__ import annotations

import pandas as pd

from clustering.demo import store_demo
from clustering.io.export import write_workbook
from tests.e2e.test_browser import Analyst, pick


def test_distribution_why_split_dendrogram_and_a_like_store_in_the_browser(browser_page, app_url, tmp_path):
    page = browser_page
    me = Analyst(page)
    me.start_with_demo(app_url)

    me.open("Prepare")
    me.prepare_both()
    me.open("Cluster")
    pick(page, "Algorithm", "Agglomerative (Ward)")
    me.press("Run clustering on internal")
    me.sees("Models fitted on")
    me.idle()
    me.tab("Dendrogram")
    me.sees("dashed line cuts the tree into the segments")
    me.sees("cut into the segments")  # the cut drawn on the tree
    me.shot("views_dendrogram")
    me.tab("external")
    me.press("Run clustering on external")
    me.sees("What if: every k of the sweep.")
    me.open("Merge & compare")
    me.press("Merge")
    me.sees("Merge log")

    me.open("Profiles & labels")
    me.sees("Distributions in real units")
    me.sees("every one of the 2,000 stores counted, none sampled")
    page.get_by_text("Distributions in real units").first.scroll_into_view_if_needed()
    me.shot("views_distribution")
    me.sees("How the segments relate")
    box = page.get_by_role("textbox", name="Store ID")
    box.fill("S000042")
    box.press("Enter")
    me.sees("Store S000042 is in ")
    me.sees("What pulls this store toward its segment")
    page.get_by_text("Store S000042 is in ").first.scroll_into_view_if_needed()
    me.shot("views_why")
    page.get_by_text("Split a segment further").first.click()
    me.press("Split")
    me.sees(" split into ")
    page.get_by_text(" split into ").first.scroll_into_view_if_needed()
    me.shot("views_split")

    me.open("Export")
    me.idle()  # the result collected before the first upload
    like = tmp_path / "like.csv"
    like.write_text("store_id,like\nOPENING-1,S000042\n")
    new = tmp_path / "new_stores.xlsx"
    write_workbook(
        {n: f.assign(store_id="NEW-" + f["store_id"]) for n, f in store_demo(30, seed=5).items()}, new
    )
    page.locator("[data-testid=stFileUploader]").filter(has_text="Like-store mapping").locator(
        "input[type=file]"
    ).set_input_files(str(like))
    me.sees("like.csv")
    me.idle()  # the mapping's rerun ended: a file set while the uploaders redraw can be dropped
    page.locator("[data-testid=stFileUploader]").filter(has_text="New entities").locator(
        "input[type=file]"
    ).set_input_files(str(new))
    me.sees("new_stores.xlsx")
    me.idle()
    me.press("Assign")
    me.sees("entities assigned to")
    downloaded = me.download("Assigned entities (.xlsx)")
    placed = pd.read_excel(downloaded, sheet_name="assignments", engine="calamine").set_index("store_id")
    assert placed.loc["OPENING-1", "placed_by"] == "like S000042"
    me.shot("views_like_store")
    assert page.blocked_requests == []


def test_a_dfu_segments_demand_over_the_months_in_the_browser(browser_page, app_url):
    page = browser_page
    me = Analyst(page)
    page.goto(app_url)
    me.press("Start with demo DFUs")
    me.sees("Loaded data", 60_000)
    me.press("Run all steps")
    me.sees("Can these segments be trusted?", 300_000)  # Results, every step done
    me.open("Profiles & labels")
    me.sees("Typical demand over the months")
    page.get_by_text("Typical demand over the months").first.scroll_into_view_if_needed()
    me.sees("demand index (1 = the DFU's average month)")  # the chart's axis
    me.shot("views_demand")
    assert page.blocked_requests == []
