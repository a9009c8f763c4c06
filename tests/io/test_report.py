"""The report to send: HTML and PowerPoint from the results workbook alone, and the CLI."""

from __future__ import annotations

import re

import pytest
from pptx import Presentation

from clustering.cli import main
from clustering.demo import dfu_demo, store_demo
from clustering.formats import count, percent
from clustering.io.export import result_sheets, write_workbook
from clustering.io.report import read_report, report_html, write_report
from clustering.pipeline import run
from tests.profiles import quick_preset


@pytest.fixture(scope="module")
def workbook(tmp_path_factory):
    result = run(quick_preset("store"), store_demo(600, 7))
    path = tmp_path_factory.mktemp("report") / "result.xlsx"
    write_workbook(result_sheets(result), path)
    return path, result


def test_the_html_report_names_every_segment_with_its_size_and_share_and_reaches_nothing_outside(
    workbook, tmp_path
):
    path, result = workbook
    page = write_report(path, tmp_path / "report.html").read_text(encoding="utf-8")
    assert not re.search(r"https?://|//[a-z]|<script|<link|src=", page, re.IGNORECASE)  # self-contained
    sizes = result.assignments["final_cluster"].value_counts()
    names = result.names.set_index("segment")["label"]
    for code, size in sizes.items():
        row = re.search(rf"<tr><td>[^<]*<span class='code'>{re.escape(code)}</span></td>(.*?)</tr>", page)
        assert row, code
        assert count(size) in row.group(1) and percent(size / len(result.assignments)) in row.group(1)
        assert names[code].replace("&", "&amp;") in page
    assert "@media print" in page and "How far to trust it" in page and "Method and settings" in page
    assert "against" in page and "on average" in page  # profiles in real units against the average
    # money and units from the preset's data dictionary, a share as a percentage
    assert re.search(r"revenue: \$[\d,]+ against \$[\d,]+ on average", page)
    assert re.search(r"staff: [\d,.]+ people against [\d,.]+ people on average", page)
    assert re.search(r"share: [\d.]+% against [\d.]+% on average", page)


def test_the_pptx_report_opens_with_a_slide_per_segment(workbook, tmp_path):
    path, result = workbook
    deck = Presentation(str(write_report(path, tmp_path / "report.pptx")))
    titles = [slide.shapes.title.text for slide in deck.slides]
    segments = result.assignments["final_cluster"].unique()
    for code in segments:
        assert sum(title.endswith(f"({code})") for title in titles) == 1, code
    assert (
        titles[1] == "The segments"
        and titles[2] == "How far to trust it"
        and titles[-1] == "Method and settings"
    )
    assert len(deck.slides) == len(segments) + 4


def test_html_and_pptx_say_the_same(workbook):
    path, _ = workbook
    report = read_report(path)
    page = report_html(report)
    for section in report.segments:
        for line in section.profile:
            assert line.replace("&", "&amp;") in page


def test_the_cli_writes_the_report_and_refuses_what_it_cannot(workbook, tmp_path, capsys):
    path, _ = workbook
    assert main(["report", str(path), "--output", str(tmp_path / "r.html")]) == 0
    assert (tmp_path / "r.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert main(["report", str(path), "--output", str(tmp_path / "r.pdf")]) == 2
    assert "written as .html or .pptx" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "missing.xlsx"), "--output", str(tmp_path / "r.html")]) == 2
    assert "no such file" in capsys.readouterr().err
    other = tmp_path / "other.xlsx"
    write_workbook({"sheet": store_demo(30, 1)["internal"]}, other)
    assert main(["report", str(other), "--output", str(tmp_path / "r.html")]) == 2
    assert "has no sheet 'summary'" in capsys.readouterr().err


def test_a_dfu_report_speaks_of_dfus(tmp_path):
    result = run(quick_preset("dfu"), dfu_demo(300, 24, seed=3))
    write_workbook(result_sheets(result), tmp_path / "dfu.xlsx")
    page = report_html(read_report(tmp_path / "dfu.xlsx"))
    assert "<title>DFU demand segmentation</title>" in page and "DFUs" in page
    assert "store" not in page.lower()
