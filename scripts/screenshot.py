"""Make docs/results.png, the README's picture: the Results page on the demo stores, taken
in headless Chromium (the browser test's machinery) and saved as a small 128-colour PNG.

Usage: python scripts/screenshot.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402

from tests.e2e.conftest import chromium_page, running_app  # noqa: E402

TARGET = ROOT / "docs" / "results.png"


def main() -> None:
    with running_app(env={"CLUSTERING_DEMO": "store"}) as url, chromium_page([]) as page:
        page.set_viewport_size({"width": 1280, "height": 820})
        page.goto(url)  # Home first: the real navigation replaces the file list of pages/
        page.get_by_role("link", name="Results", exact=True).first.wait_for(timeout=180_000)
        page.get_by_role("link", name="Results", exact=True).first.click()
        page.locator("text=Segments >> visible=true").first.wait_for(timeout=180_000)
        page.wait_for_timeout(3000)  # charts finish drawing
        raw = Path(tempfile.mkdtemp()) / "results.png"
        page.screenshot(path=str(raw))
    image = Image.open(raw).convert("RGB").quantize(colors=128)
    image.save(TARGET, optimize=True)
    print(f"wrote {TARGET} ({TARGET.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
