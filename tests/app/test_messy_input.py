"""The Data page on messy real-world input: what can be read is read and every coercion is
said; what cannot is one st.error naming the file and what to do, and the data loaded before
stays loaded. Later pages never show an exception box."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs

from clustering.demo import store_demo
from clustering.io.export import workbook_bytes
from tests.app.conftest import button, errors, load_demo_stores, no_exceptions, run_to, workspace

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv"


def stores(n: int = 200, columns: int = 4, seed: int = 0) -> pd.DataFrame:
    X, _ = make_blobs(n, columns, centers=3, random_state=seed)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(columns)])
    frame.insert(0, "store_id", [f"S{i:04d}" for i in range(n)])
    return frame


def upload(at, name: str, data: bytes, mime: str, mode: str = "table"):
    """Upload one file on the Data page in ``mode`` and press Load and check."""
    at.switch_page("pages/data.py").run()
    at.radio(key="data_source").set_value("Upload files").run()
    at.selectbox(key="upload_mode").set_value(mode).run()
    at.file_uploader[0].set_value((name, data, mime)).run()
    no_exceptions(at)
    if any(b.label == "Load and check" for b in at.button):
        button(at, "Load and check").click().run()
    no_exceptions(at)
    return at


def messages(at) -> str:
    return " | ".join([*errors(at), *(w.value for w in at.warning), *(i.value for i in at.info)])


@pytest.fixture
def loaded(app):
    """The app with demo stores loaded: what a bad upload must not lose."""
    load_demo_stores(app)
    return app, workspace(app).sheets


def assert_kept(at, before) -> None:
    assert workspace(at).sheets is before


def csv_bytes(frame: pd.DataFrame, **options) -> bytes:
    return frame.to_csv(index=False, **options).encode(options.pop("encoding", "utf-8"))


# -- read, and say what was coerced ------------------------------------------------------------


def test_inf_cells_load_with_a_warning(loaded):
    at, _ = loaded
    frame = stores()
    frame.loc[[4, 8], "f1"] = np.inf
    upload(at, "inf.csv", csv_bytes(frame), CSV)
    assert not errors(at)
    assert "2 infinite value(s) were read as empty (rows 6, 10)" in messages(at)
    assert workspace(at).sources == {"entities": "inf.csv"}


def test_extreme_magnitudes_load_prepare_and_cluster(loaded):
    at, _ = loaded
    frame = stores()
    frame["f2"] = frame["f2"] * 1e200
    frame.loc[3, "f3"] = 1e300
    upload(at, "huge.csv", csv_bytes(frame), CSV)
    assert not errors(at)
    run_to(at, "clustered")
    no_exceptions(at)
    assert not errors(at)
    report = workspace(at).stages["prepared:entities"].value.report
    assert {"f2", "f3"} <= set(report.rescaled)


def test_numbers_written_as_text_are_read_and_each_coercion_said(loaded):
    at, _ = loaded
    frame = stores()
    shown = frame.copy()
    shown["f0"] = [f"{v:.1f}%" for v in frame["f0"]]
    shown["f1"] = [f"${v * 1000:,.2f}" for v in frame["f1"]]
    upload(at, "text.csv", csv_bytes(shown), CSV)
    assert not errors(at)
    said = messages(at)
    assert "column 'f0': 200 values written as percentages were read as fractions" in said
    assert "column 'f1': 200 values with a currency symbol or code were read as plain numbers" in said


def test_nothing_to_cluster_is_an_error_and_the_earlier_data_stays(loaded):
    at, before = loaded
    frame = stores()
    frame[["f0", "f1", "f2", "f3"]] = 1.0
    upload(at, "flat.csv", csv_bytes(frame), CSV)
    assert any(
        "flat.csv (dataset 'entities'): every feature column has a single value" in e for e in errors(at)
    )
    assert_kept(at, before)


def test_datasets_sharing_no_id_are_an_error_and_the_earlier_data_stays(loaded):
    at, before = loaded
    sheets = store_demo(200, seed=3)
    sheets["external"]["store_id"] = "X" + sheets["external"]["store_id"].astype(str)
    upload(at, "apart.xlsx", workbook_bytes(sheets), XLSX, mode="store")
    assert any("internal and external share no store_id" in e for e in errors(at))
    assert_kept(at, before)


def test_ids_differing_in_case_are_matched_with_a_warning(loaded):
    at, _ = loaded
    sheets = store_demo(200, seed=3)
    sheets["external"]["store_id"] = sheets["external"]["store_id"].astype(str).str.lower()
    upload(at, "case.xlsx", workbook_bytes(sheets), XLSX, mode="store")
    assert not errors(at)
    assert "only when letter case is ignored" in messages(at)


def test_fifteen_hundred_columns_load_and_cluster(loaded):
    at, _ = loaded
    upload(at, "wide.csv", csv_bytes(stores(columns=1500)), CSV)
    assert not errors(at)
    run_to(at, "clustered")
    no_exceptions(at)
    assert not errors(at)


def test_hdbscan_on_wide_data_says_it_ran_on_principal_components(loaded):
    at, _ = loaded
    upload(at, "wide.csv", csv_bytes(stores(columns=200)), CSV)
    run_to(at, "prepared")
    at.switch_page("pages/cluster.py").run()
    generation = workspace(at).generation
    at.selectbox(key=f"{generation}_entities_c_alg").set_value("hdbscan").run()
    button(at, "Run clustering on entities").click().run()
    no_exceptions(at)
    assert any("HDBSCAN ran on its first 30 principal components" in i.value for i in at.info)


def test_one_final_segment_keeps_profiles_and_export_working(loaded):
    at, _ = loaded
    run_to(at, "clustered")
    at.switch_page("pages/merge.py").run()
    generation = workspace(at).generation
    at.number_input(key=f"{generation}_merge_pct").set_value(50.0).run()
    button(at, "Merge").click().run()
    for page in ("pages/profiles.py", "pages/export.py"):
        at.switch_page(page).run()
        no_exceptions(at)
        assert not errors(at), page


# -- formats -------------------------------------------------------------------------------------


def test_xls_workbook_with_capitalised_sheets_loads(loaded):
    import xlwt

    at, _ = loaded
    sheets = store_demo(150, seed=3)
    book = xlwt.Workbook()
    for name in ("internal", "external"):
        page = book.add_sheet(name.capitalize())
        frame = sheets[name]
        for j, column in enumerate(frame.columns):
            page.write(0, j, column)
            for i, value in enumerate(frame[column].tolist()):
                page.write(i + 1, j, value)
    buffer = io.BytesIO()
    book.save(buffer)
    upload(at, "old.xls", buffer.getvalue(), "application/vnd.ms-excel", mode="store")
    assert not errors(at)
    assert workspace(at).sources["internal"] == "old.xls, sheet 'Internal'"


@pytest.mark.parametrize(
    ("name", "data", "said"),
    [
        (
            "bom.csv",
            "store_id,f0,f1\nS1,1,2\nS2,2,1\nS3,3,3\nS4,4,4\n".encode("utf-8-sig"),
            "byte-order mark",
        ),
        (
            "win.csv",
            "store_id,city,f0,f1\nS1,Köln,1,2\nS2,Zürich,2,1\nS3,Graz,3,3\nS4,Linz,4,4\n".encode("cp1252"),
            "Windows-1252",
        ),
        (
            "eu.csv",
            b"store_id;f0;f1\nS1;1,5;2\nS2;2,5;1\nS3;3,5;3\nS4;4,5;4\n",
            "delimiter ';', decimal separator ','",
        ),
        (
            "title.csv",
            b"Store report\n\nstore_id,f0,f1\nS1,1,2\nS2,2,1\nS3,3,3\nS4,4,4\n",
            "the header is line 3",
        ),
    ],
)
def test_csv_dialects_are_read_and_said(loaded, name, data, said):
    at, _ = loaded
    upload(at, name, data, CSV)
    assert not errors(at)
    assert said in messages(at)
    assert "store_id" in workspace(at).sheets["entities"].columns


def test_password_protected_workbook_is_an_error_and_the_earlier_data_stays(loaded):
    from msoffcrypto.format.ooxml import OOXMLFile

    at, before = loaded
    locked = io.BytesIO()
    OOXMLFile(io.BytesIO(workbook_bytes(store_demo(100, seed=3)))).encrypt("secret", locked)
    upload(at, "locked.xlsx", locked.getvalue(), XLSX, mode="store")
    assert any("locked.xlsx is password-protected (encrypted)" in e for e in errors(at))
    assert_kept(at, before)


def test_an_unexpected_error_is_one_line_with_the_log_and_the_data_stays(loaded, monkeypatch, tmp_path):
    import ui.state

    at, before = loaded
    monkeypatch.setenv("CLUSTERING_LOG_FILE", str(tmp_path / "errors.log"))

    def broken(*args, **kwargs):
        raise RuntimeError("a defect deep inside")

    monkeypatch.setattr(ui.state, "check_sheets", broken)
    upload(at, "fine.csv", csv_bytes(stores()), CSV)
    (message,) = [e for e in errors(at) if "Unexpected problem" in e]
    assert "RuntimeError: a defect deep inside" in message and str(tmp_path / "errors.log") in message
    assert "a defect deep inside" in (tmp_path / "errors.log").read_text()
    assert_kept(at, before)
