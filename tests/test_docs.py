"""The documentation keeps its promises: the blocks marked runnable run as written, every
link between the pages leads somewhere, and the README stays short."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```(\w+) runnable\n(.*?)^```", re.M | re.S)
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def runnable_blocks() -> list[tuple[str, str, str]]:
    return [
        (f"{page.name}:{text[: m.start()].count(chr(10)) + 1}", m.group(1), m.group(2))
        for page in PAGES
        for text in [page.read_text(encoding="utf-8")]
        for m in BLOCK.finditer(text)
    ]


def test_the_docs_have_runnable_blocks_of_both_kinds():
    assert {kind for _, kind, _ in runnable_blocks()} == {"bash", "python"}


def runnable_params() -> list:
    """Each block as a test; a block that starts Spark runs beside the Spark tests (one JVM at a time)."""
    return [
        pytest.param(
            where,
            kind,
            code,
            id=where,
            marks=[pytest.mark.slow, *([pytest.mark.spark] if "spark" in code else [])],
        )
        for where, kind, code in runnable_blocks()
    ]


@pytest.mark.parametrize(("where", "kind", "code"), runnable_params())
def test_a_runnable_block_runs_as_written(where, kind, code, tmp_path):
    if kind == "python":
        commands = [[sys.executable, "-c", code]]
    else:
        lines = [line.split("#")[0].strip() for line in code.splitlines()]
        commands = [[sys.executable, *line.split()[1:]] for line in lines if line.startswith("python ")]
    assert commands, where
    for command in commands:
        done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{where}: {' '.join(command[1:])}\n{done.stderr[-2000:]}"


def test_every_link_between_the_pages_leads_to_a_file():
    for page in PAGES:
        for target in LINK.findall(page.read_text(encoding="utf-8")):
            if target.startswith(("http://", "https://")):
                continue
            assert (page.parent / target).exists(), f"{page.name} links to {target}, which is missing"


def test_the_readme_is_short_and_each_docs_page_says_what_it_is_for():
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) < 150
    for page in PAGES[1:]:
        title, blank, purpose = page.read_text(encoding="utf-8").splitlines()[:3]
        assert title.startswith("# ") and not blank and purpose, page.name
