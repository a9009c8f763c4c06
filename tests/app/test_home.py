from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[2] / "app.py"


def test_home_runs_the_demo_and_shows_segment_sizes():
    app = AppTest.from_file(str(APP), default_timeout=120).run()
    assert not app.exception
    assert app.title[0].value.startswith("🧩 Clustering Studio")
    sizes = app.dataframe[0].value
    assert list(sizes.columns) == ["segment", "stores"]
    assert sizes["stores"].sum() == 2000
    assert sizes["segment"].str.match(r"^I\d+-E\d+$").all()
