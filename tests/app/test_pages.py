"""Every page of the app with AppTest: the happy path on demo data and bad input, whose
message must be specific and must leave what was loaded before intact."""

from __future__ import annotations

import io
import json

import pandas as pd
import yaml

from clustering.demo import store_demo
from clustering.io.export import workbook_bytes
from tests.app.conftest import button, errors, load_demo_stores, new_app, no_exceptions, run_to, workspace

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def test_home_starts_the_demo_and_shows_the_status(app):
    assert app.title[0].value.startswith("Clustering Studio")
    assert next((p.label, p.proto.icon) for p in app.get("page_link")) == (
        "loaded",
        ":material/radio_button_unchecked:",
    )
    button(app, "Start with demo stores").click().run()
    no_exceptions(app)
    assert app.title[0].value == "Data"
    assert set(workspace(app).sheets) == {"internal", "external", "truth"}
    app.switch_page("pages/home.py").run()
    assert next((p.label, p.proto.icon) for p in app.get("page_link")) == (
        "loaded",
        ":material/check_circle:",
    )


def test_data_page_uploads_a_workbook_and_reports_findings(app):
    sheets = store_demo(300, seed=2)
    app.switch_page("pages/data.py").run()
    app.file_uploader[0].set_value(("stores.xlsx", workbook_bytes(sheets), XLSX)).run()
    assert app.selectbox(key="id_store").value == "store_id"
    button(app, "Load and check").click().run()
    no_exceptions(app)
    assert not errors(app)
    assert any("are in internal but not in external" in w.value for w in app.warning)
    assert workspace(app).sources["internal"] == "stores.xlsx, sheet 'internal'"
    assert any(e.label.startswith("internal: ") for e in app.expander)


def test_loaded_uploads_leave_the_server_and_the_uploader_empties(app, monkeypatch):
    from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager

    released = []
    remove = MemoryUploadedFileManager.remove_file

    def spy(manager, session_id, file_id):  # the real removal, then what is left for the session
        remove(manager, session_id, file_id)
        released.append((file_id, file_id in manager.file_storage.get(session_id, {})))

    monkeypatch.setattr(MemoryUploadedFileManager, "remove_file", spy)
    app.switch_page("pages/data.py").run()
    sheets = store_demo(300, seed=2)
    app.file_uploader[0].set_value(("stores.xlsx", workbook_bytes(sheets), XLSX)).run()
    assert app.file_uploader[0].value  # the file is there until it is loaded
    button(app, "Load and check").click().run()
    no_exceptions(app)
    assert len(released) == 1 and released[0][1] is False  # its bytes left Streamlit's file store
    assert not app.file_uploader[0].value  # an empty uploader: the next files are new data
    assert workspace(app).sources["internal"] == "stores.xlsx, sheet 'internal'"
    assert [e.label.split(",")[0] for e in app.expander][:2] == [
        f"{name}: {len(sheets[name]):,} rows" for name in ("internal", "external")
    ]  # the tables stay


def test_data_page_bad_uploads_keep_the_loaded_data(app):
    load_demo_stores(app)
    before = workspace(app).sheets["internal"]
    broken = store_demo(300, seed=2)
    broken["internal"] = broken["internal"].rename(columns={"store_id": "shop"})
    app.switch_page("pages/data.py").run()
    app.radio(key="data_source").set_value("Upload files").run()
    app.file_uploader[0].set_value(("broken.xlsx", workbook_bytes(broken), XLSX)).run()
    app.selectbox(key="id_store").set_value("store_id").run() if "store_id" in app.selectbox(
        key="id_store"
    ).options else None
    button(app, "Load and check").click().run()
    no_exceptions(app)
    assert workspace(app).sheets["internal"] is before  # nothing lost

    app.file_uploader[0].set_value(("fake.xlsx", b"not a workbook", XLSX)).run()
    no_exceptions(app)
    assert any("fake.xlsx is not a readable Excel workbook" in e for e in errors(app))
    assert workspace(app).sheets["internal"] is before


def test_data_page_missing_id_column_suggests_the_near_match(app):
    sheets = store_demo(300, seed=2)
    sheets["external"] = sheets["external"].rename(columns={"store_id": "Store ID"})
    app.switch_page("pages/data.py").run()
    app.file_uploader[0].set_value(("stores.xlsx", workbook_bytes(sheets), XLSX)).run()
    assert app.selectbox(key="id_store").value == "store_id"
    button(app, "Load and check").click().run()
    no_exceptions(app)
    message = next(e for e in errors(app) if "sheet 'external'" in e)
    assert "ID column 'store_id' is missing" in message and "A column named 'Store ID' exists" in message
    assert not workspace(app).sheets


def test_prepare_page_runs_and_reports_each_step(app):
    load_demo_stores(app)
    run_to(app, "prepared")
    no_exceptions(app)
    assert "What each step did" in [m.value.strip("*") for m in app.markdown]
    steps = app.dataframe[0].value
    assert {"drop", "impute", "clip"} <= set(steps["step"])
    assert workspace(app).stages["prepared:internal"].value.matrix.shape[0] > 0


def test_prepare_page_bad_options_explain_and_keep_results(app):
    load_demo_stores(app)
    run_to(app, "prepared")
    kept = workspace(app).stages["prepared:internal"]
    generation = workspace(app).generation
    app.multiselect(key=f"{generation}_internal_include").set_value(["fiscal_weeks"]).run()
    button(app, "Prepare internal").click().run()
    no_exceptions(app)
    assert any("every feature column has a single value (fiscal_weeks: constant" in e for e in errors(app))
    assert workspace(app).stages["prepared:internal"] is kept


def test_cluster_page_shows_k_selection_and_plot_options_refit_nothing(cold_app):
    app = cold_app
    load_demo_stores(app)
    run_to(app, "clustered")
    no_exceptions(app)
    assert any(m.value.startswith("**k = ") for m in app.markdown)
    ws = workspace(app)
    fits, key = ws.fits, ws.stages["clustered:internal"].key
    assert fits == 2
    scenarios = ws.stages["scenarios:internal:None"].value  # the k scenarios table, computed once
    assert scenarios["recommended"].sum() == 1
    generation = ws.generation
    app.selectbox(key=f"{generation}_internal_plot_proj").set_value("tsne").run()
    app.radio(key=f"{generation}_internal_plot_dims").set_value(3).run()
    assert not any(t.key == f"{generation}_internal_plot_violin" for t in app.toggle)  # drawn when opened
    assert not any(c.key == "sil_internal" for c in app.get("plotly_chart"))  # lazy tab, not open
    app.session_state[f"{generation}_internal_plot_view"] = "Silhouette plot"
    app.run()
    assert any(c.key == "sil_internal" for c in app.get("plotly_chart"))
    app.session_state[f"{generation}_internal_plot_view"] = "Parallel coordinates and distributions"
    app.run()
    app.toggle(key=f"{generation}_internal_plot_violin").set_value(True).run()
    no_exceptions(app)
    assert ws.fits == fits and ws.stages["clustered:internal"].key == key
    assert ws.stages["scenarios:internal:None"].value is scenarios  # not recomputed on a redraw


def test_cluster_page_k_larger_than_rows_is_explained(app):
    load_demo_stores(app, stores=120)
    run_to(app, "prepared")
    app.switch_page("pages/cluster.py").run()
    generation = workspace(app).generation
    app.toggle(key=f"{generation}_internal_c_fixed").set_value(True).run()
    app.number_input(key=f"{generation}_internal_c_k").set_value(90).run()
    button(app, "Run clustering on internal").click().run()
    no_exceptions(app)
    assert any("k = 90 needs at least 180 rows" in e for e in errors(app))
    assert workspace(app).sheets  # the data is still there


def test_merge_page_compares_before_and_after(app):
    load_demo_stores(app)
    run_to(app, "merged")
    assert app.metric[0].label == "Merged segments"
    assert "**Merge log**" in [m.value for m in app.markdown]
    combined = workspace(app).stages["merged"].value
    assignments, merge = combined.assignments, combined.merge
    assert assignments["final_cluster"].value_counts().min() >= merge.min_size
    # the quality table as people read it: names in words, values formatted, what each means
    quality = next(d.value for d in app.dataframe if "what it means" in d.value.columns).set_index("metric")
    assert not any("_" in name for name in quality.index)
    assert quality.loc["segments", "after"] == f"{assignments['final_cluster'].nunique():,}"
    assert (
        "-1 to 1"
        in quality.loc[next(m for m in quality.index if m.startswith("silhouette")), "what it means"]
    )
    changed = quality["change"][quality["change"] != ""]
    assert changed.str.match(r"^[+-]").all()


def test_merge_page_minimum_larger_than_the_data_warns(app):
    load_demo_stores(app)
    run_to(app, "clustered")
    app.switch_page("pages/merge.py").run()
    generation = workspace(app).generation
    app.radio(key=f"{generation}_merge_unit").set_value("stores").run()
    app.number_input(key=f"{generation}_merge_rows").set_value(100_000).run()
    button(app, "Merge").click().run()
    no_exceptions(app)
    assert any("No merged segment reaches the minimum size" in w.value for w in app.warning)


def test_profiles_page_names_show_in_the_editor_and_overview(app):
    load_demo_stores(app)
    run_to(app, "merged")
    app.switch_page("pages/profiles.py").run()
    no_exceptions(app)
    ws = workspace(app)
    segment = ws.stages["explained"].value.names["segment"].iloc[0]
    ws.config.labels.overrides = {segment: "Heartland"}
    app.run()
    no_exceptions(app)
    tables = [d.value for d in app.dataframe]
    overview = next(t for t in tables if {"label", "size", "top_features"} <= set(t.columns))
    assert overview.set_index("segment").loc[segment, "label"] == "Heartland"
    assert overview.set_index("segment").loc[segment, "source"] == "analyst"


def test_profiles_page_without_results_points_back(app):
    load_demo_stores(app)
    app.switch_page("pages/profiles.py").run()
    no_exceptions(app)
    assert app.info[0].value.startswith("Cluster every dataset first, or press Run all steps")


def test_explore_page_samples_and_says_so(app):
    load_demo_stores(app, stores=1500)
    run_to(app, "merged")
    app.switch_page("pages/explore.py").run()
    no_exceptions(app)
    generation = workspace(app).generation
    app.slider(key=f"{generation}_explore_rows").set_value(1000).run()
    no_exceptions(app)
    notes = [c.value for c in app.caption]
    assert any("random sample of 1,000 of 1,500 rows" in note for note in notes), notes


def test_explore_page_before_clustering_points_back(app):
    app.switch_page("pages/explore.py").run()
    no_exceptions(app)
    assert app.info[0].value.startswith("Cluster every dataset first, or press Run all steps")


def test_export_page_downloads_and_yaml_reproduces_the_labels(app):
    load_demo_stores(app)
    run_to(app, "merged")
    app.switch_page("pages/export.py").run()
    no_exceptions(app)
    labels = [b.label for b in app.get("download_button")]
    assert labels[0].startswith("Results workbook")
    assert labels[1].startswith("Report (.html") and labels[2].startswith("Report (.pptx")
    ws = workspace(app)
    first = ws.stages["merged"].value.assignments["final_cluster"].copy()
    exported = ws.config.to_yaml()

    ws.config.random_state = 999  # the analyst changed things since
    app.file_uploader[0].set_value(("run.yml", exported.encode(), "application/x-yaml")).run()
    button(app, "Use this config").click().run()
    no_exceptions(app)
    assert ws.config.random_state == yaml.safe_load(exported)["random_state"]
    again = ws.stages["merged"].value.assignments["final_cluster"]
    pd.testing.assert_series_equal(first, again)


def test_export_page_bad_yaml_is_explained_and_config_kept(app):
    load_demo_stores(app)
    run_to(app, "merged")
    app.switch_page("pages/export.py").run()
    ws = workspace(app)
    before = ws.config
    app.file_uploader[0].set_value(("bad.yml", b"datasets: [1, 2", "application/x-yaml")).run()
    button(app, "Use this config").click().run()
    no_exceptions(app)
    assert any("uploaded file 'bad.yml' is not valid YAML" in e for e in errors(app))
    app.file_uploader[0].set_value(("typo.yml", b"colour: blue\n", "application/x-yaml")).run()
    button(app, "Use this config").click().run()
    assert any("unknown key 'colour'" in e for e in errors(app))
    assert ws.config is before


def test_workbook_download_has_the_names(app):
    load_demo_stores(app)
    run_to(app, "merged")
    ws = workspace(app)
    app.switch_page("pages/profiles.py").run()
    segment = ws.stages["explained"].value.names["segment"].iloc[1]
    ws.config.labels.overrides = {segment: "Weekend traffic"}
    from clustering.io.export import result_sheets
    from ui.state import run_result

    sheets = result_sheets(run_result(ws))
    data = io.BytesIO(workbook_bytes(sheets))
    assignments = pd.read_excel(data, sheet_name="assignments", engine="calamine")
    assert (assignments["segment_name"] == "Weekend traffic").sum() == (
        assignments["final_cluster"] == segment
    ).sum()


def test_make_run_starts_on_demo_data(monkeypatch):
    monkeypatch.setenv("CLUSTERING_DEMO", "dfu")
    at = new_app().run()
    no_exceptions(at)
    assert set(workspace(at).sheets) == {"sales_monthly", "dim_dfu", "dim_item", "truth"}
    strip = [(p.label, p.proto.icon) for p in at.get("page_link")][:5]
    done = ":material/check_circle:"
    assert strip == [(step, done) for step in ("loaded", "prepared", "clustered", "merged", "labeled")]
    answer = [i.value for i in at.info if "segments of" in i.value]
    assert answer and "DFUs" in answer[0] and "store" not in answer[0]  # Home ends with the answer
    assert "See the segments on Results" in [p.label for p in at.get("page_link")]
    at.switch_page("pages/data.py").run()
    no_exceptions(at)
    assert any("DFU(s) have fewer than 12 months" in w.value for w in at.warning)


def test_data_page_database_source_and_export_write_back(app, tmp_path, monkeypatch):
    from clustering.demo import dfu_demo
    from clustering.io.database import connect
    from clustering.io.dbread import read_table
    from clustering.io.dbwrite import demo_warehouse

    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    demo_warehouse(connect(url, create=True), "dfu", dfu_demo(600, 36, seed=4))
    monkeypatch.setenv("CLUSTERING_DB_URL", url)
    app.switch_page("pages/data.py").run()
    app.radio(key="data_source").set_value("Database").run()
    no_exceptions(app)
    assert "s3cret" not in str([c.value for c in app.caption])
    app.selectbox(key="db_mode").set_value("dfu").run()
    assert app.selectbox(key="db_role_dfu_sales_monthly").value == "fact_sales_monthly"
    button(app, "Load from the database").click().run()
    no_exceptions(app)
    ws = workspace(app)
    assert "dfu.features" in ws.sheets  # computed inside the database
    assert ws.database_url == url
    run_to(app, "merged")
    app.switch_page("pages/export.py").run()
    button(app, "Dry run: what would change?").click().run()
    no_exceptions(app)
    preview = next(i.value for i in app.info if "Nothing was written." in i.value)
    assert "would change" in preview
    assert (
        "not covered by this run: their cluster_assignment will be set to 'insufficient_history'" in preview
    )
    assert read_table(connect(url), "dim_dfu")["cluster_assignment"].isna().all()
    button(app, "Write back").click().run()
    no_exceptions(app)
    assert any(s.value.startswith("write-back ") for s in app.success)
    assert read_table(connect(url), "dim_dfu")["cluster_assignment"].notna().all()
    history = read_table(connect(url), "segment_assignments")
    assert history["written_by"].notna().all()  # the OS user of this local server


def test_data_page_database_errors_are_explained(app, monkeypatch):
    monkeypatch.delenv("CLUSTERING_DB_URL", raising=False)
    monkeypatch.setenv("CLUSTERING_ALLOW_TYPED_DB_URLS", "1")
    app.switch_page("pages/data.py").run()
    app.radio(key="data_source").set_value("Database").run()
    app.selectbox(key="db_connection").set_value("(type a URL)").run()
    app.text_input(key="db_url").set_value("postgresql+psycopg://analyst:s3cret@127.0.0.1:1/retail").run()
    no_exceptions(app)
    message = " ".join(errors(app))
    assert "Cannot connect to postgresql+psycopg://analyst:***@127.0.0.1:1/retail" in message
    assert "s3cret" not in message


def test_data_page_loads_a_select_from_the_database(app, tmp_path, monkeypatch):
    from clustering.io.database import connect
    from clustering.io.dbwrite import demo_warehouse

    url = f"sqlite:///{tmp_path / 'stores.db'}"
    demo_warehouse(connect(url, create=True), "store", store_demo(300, seed=6))
    monkeypatch.setenv("CLUSTERING_DB_URL", url)
    app.switch_page("pages/data.py").run()
    app.radio(key="data_source").set_value("Database").run()
    app.selectbox(key="db_mode").set_value("table").run()
    app.radio(key="db_from").set_value("a SELECT").run()
    app.text_area(key="db_source_sql").set_value("DROP TABLE dim_store").run()
    assert any("Only a SELECT may run here" in e for e in errors(app))
    app.text_area(key="db_source_sql").set_value(
        "SELECT store_id, revenue, transactions FROM store_internal"
    ).run()
    no_exceptions(app)
    button(app, "Load from the database").click().run()
    no_exceptions(app)
    ws = workspace(app)
    assert list(ws.sheets["entities"].columns) == ["store_id", "revenue", "transactions"]
    assert ws.config.database.queries == {
        "entities": "SELECT store_id, revenue, transactions FROM store_internal"
    }


def test_cluster_page_gives_the_clusterability_verdict_and_warnings(app):
    import numpy as np

    load_demo_stores(app)
    run_to(app, "clustered")
    assert any(s.value.startswith("**Clear cluster structure") for s in app.success)
    clear_tests = next(d.value for d in app.dataframe if "p_value" in d.value.columns)
    assert clear_tests["p_value"].iloc[0] == "< 0.001"  # not 0: a p-value is never zero
    flat = pd.DataFrame(np.random.default_rng(0).normal(size=(400, 3)), columns=["a", "b", "c"])
    flat.insert(0, "store_id", [f"S{i}" for i in range(400)])
    app.switch_page("pages/data.py").run()
    app.radio(key="data_source").set_value("Upload files").run()
    app.selectbox(key="upload_mode").set_value("table").run()
    app.file_uploader[0].set_value(("blob.csv", flat.to_csv(index=False).encode(), "text/csv")).run()
    button(app, "Load and check").click().run()
    run_to(app, "clustered")
    no_exceptions(app)
    assert any(w.value.startswith("**Weak structure: segments are a useful partition") for w in app.warning)
    tests = next(d.value for d in app.dataframe if "p_value" in d.value.columns)
    assert list(tests["test"]) == [
        "dip on the first principal component",
        "dip on pairwise distances",
        "gap statistic, one group against two",
    ]
    assert not tests["groups"].any()
    shown = tests["p_value"].replace("", None).dropna()
    assert (pd.to_numeric(shown) > 0.025).all()  # shown as text with three significant digits


def test_profiles_page_edits_the_dfu_label_thresholds(monkeypatch):
    monkeypatch.setenv("CLUSTERING_DEMO", "dfu")
    at = new_app().run()
    at.switch_page("pages/profiles.py").run()
    no_exceptions(at)
    ws = workspace(at)
    before = ws.stages["explained"].value.names["label"].tolist()
    assert any(label.startswith("intermittent_") for label in before)
    k = ws.widget_key("labels_")
    at.slider(key=k + "dzero").set_value(100.0).run()  # nothing is intermittent any more
    no_exceptions(at)
    assert ws.config.labeling.zero_demand_threshold == 100.0
    after = ws.stages["explained"].value.names["label"].tolist()
    assert not any(label.startswith("intermittent_") for label in after)


def test_icons_are_material_icons_that_render_without_an_emoji_font():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    emoji = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf\u2b00-\u2bff\ufe0f\u2139]")
    for path in [root / "app.py", *(root / "pages").glob("*.py"), *(root / "ui").glob("*.py")]:
        found = emoji.findall(path.read_text(encoding="utf-8"))
        assert not found, f"{path.name} draws emoji {found}: use :material/...: icons"


def test_an_uploaded_table_no_preset_knows_is_named_in_words(app):
    from tests.app.test_messy_input import CSV, csv_bytes, upload
    from tests.explain.test_labels import generic_table

    upload(app, "shops.csv", csv_bytes(generic_table()), CSV)
    ws = workspace(app)
    assert ws.config.labels.pattern == "features"
    run_to(app, "merged")
    app.switch_page("pages/profiles.py").run()
    no_exceptions(app)
    names = ws.stages["explained"].value.names["label"]
    assert not names.str.fullmatch(r"S\d+").any()
    assert names.str.contains(r"^(?:High|Low|Slightly) ").all(), list(names)


def test_prepare_page_weights_reach_the_config_the_prepared_matrix_and_the_profiles(app):
    from clustering.config import config_from_yaml

    load_demo_stores(app)
    app.switch_page("pages/prepare.py").run()
    ws = workspace(app)
    app.slider(key=ws.widget_key("internal", "weight_") + "revenue").set_value(2.5).run()
    app.slider(key=ws.widget_key("internal", "weight_") + "format").set_value(0.0).run()
    no_exceptions(app)
    assert ws.config.datasets["internal"].preprocess.weights == {"revenue": 2.5, "format": 0.0}
    run_to(app, "merged")
    report = ws.stages["prepared:internal"].value.report.to_frame()
    assert "x2.5 after scaling" in set(report["detail"])
    matrix = ws.stages["prepared:internal"].value.matrix
    levels = matrix.filter(like="format=")
    assert levels.shape[1] >= 2 and (levels == 0).all().all()  # weight 0: out of the distances
    app.switch_page("pages/profiles.py").run()
    no_exceptions(app)
    assert any("revenue ×2.5" in c.value and "format ×0" in c.value for c in app.caption)
    again = config_from_yaml(ws.config.to_yaml())
    assert again.datasets["internal"].preprocess.weights == {"revenue": 2.5, "format": 0.0}


def test_results_shows_the_two_levels_as_a_grid_and_names_on_the_chart(app):
    load_demo_stores(app)
    run_to(app, "merged")
    app.switch_page("pages/results.py").run()
    no_exceptions(app)
    assert any(s.value.startswith("Two levels: internal × external") for s in app.subheader)
    charts = [c.proto.spec for c in app.get("plotly_chart")]
    from ui.state import run_result

    names = run_result(workspace(app)).names["label"].astype(str)
    assert any(names.iloc[0] in spec for spec in charts)  # names on the sizes chart, not codes alone
    kinds = [json.loads(spec)["data"][0]["type"] for spec in charts]
    assert kinds == ["bar", "heatmap"]  # the sizes, then the grid
    app.radio(key="results_levels").set_value("internal segments alone").run()
    no_exceptions(app)
    kinds = [json.loads(c.proto.spec)["data"][0]["type"] for c in app.get("plotly_chart")]
    assert kinds == ["bar", "bar"]  # one level alone


def test_results_page_says_what_weak_structure_means_for_the_decision(app):
    import numpy as np
    import pandas as pd

    from tests.app.test_messy_input import CSV, csv_bytes, upload

    rng = np.random.default_rng(5)
    frame = pd.DataFrame(rng.uniform(size=(900, 3)), columns=["sales", "margin", "area"])
    frame.insert(0, "store_id", [f"C{i:04d}" for i in range(len(frame))])
    upload(app, "continuum.csv", csv_bytes(frame), CSV)
    app.switch_page("pages/results.py").run()
    button(app, "Run all steps").click().run()
    app.switch_page("pages/results.py").run()
    no_exceptions(app)
    decision = [w.value for w in app.warning if "What this means for your decision" in w.value]
    assert decision and "sit near a boundary" in decision[0] and "stable rule recommends" in decision[0]
    answer = [i.value for i in app.info if "segments of 900 stores" in i.value]
    assert answer and "form a continuum" in answer[0]  # the headline, in words
    table = app.dataframe[0]
    assert list(table.value.columns[:5]) == ["segment", "code", "stores", "share of stores", "stability"]
    assert table.proto.columns  # the column formats travel with the table
    formats = {c: v.get("type_config", {}).get("format") for c, v in json.loads(table.proto.columns).items()}
    assert formats["share of stores"] == "%.1f%%" and formats["stores"] == "localized"
    shares = table.value["share of stores"]
    assert abs(shares.sum() - 100) < 1e-6  # shown as percentages: 12.6%, not 0.126


def test_cluster_page_k_scenarios_fit_the_picked_k_and_it_round_trips(app):
    from clustering.config import config_from_yaml
    from clustering.io.export import result_sheets
    from ui.state import run_result

    load_demo_stores(app)
    run_to(app, "clustered")
    ws = workspace(app)
    assert any(
        m.value.startswith("**What if: every k of the sweep.** Recommended: k = ") for m in app.markdown
    )
    chosen = ws.stages["clustered:internal"].value.k
    listed = next(d for d in app.dataframe if "names_preview" in d.value.columns)
    helps = {c: v.get("help", "") for c, v in json.loads(listed.proto.columns).items()}
    assert "0.75 or more is a stable segment" in helps["jaccard_min"]  # each statistic explained
    assert "-1 to 1" in helps["silhouette"]
    other = 7 if chosen != 7 else 6
    app.selectbox(key=ws.widget_key("internal", "scenario")).set_value(other).run()
    button(app, f"Fit k = {other}").click().run()
    no_exceptions(app)
    assert ws.config.datasets["internal"].cluster.k == other
    assert ws.stages["clustered:internal"].value.k == other
    assert config_from_yaml(ws.config.to_yaml()).datasets["internal"].cluster.k == other
    # the sweep stays on screen: its scenarios, its k chart, and the two side by side
    assert any(m.value.startswith("**What if: every k of the sweep.**") for m in app.markdown)
    assert any(m.value.startswith(f"**k = {other}**, fixed by you") for m in app.markdown)
    assert any(m.value.startswith(f"**k = {chosen}**: least stable segment") for m in app.markdown)
    assert any(m.value.startswith(f"**k = {other}**: least stable segment") for m in app.markdown)
    moves = [m.value for m in app.markdown if m.value.startswith("- '")]
    assert moves and all("splits into" in m or "join in" in m for m in moves)
    pair = next(c for c in app.get("plotly_chart") if c.proto.id and "pair_internal" in c.proto.id)
    assert json.loads(pair.proto.spec)["data"][0]["type"] == "heatmap"
    run_to(app, "merged")
    scenarios = result_sheets(run_result(ws))["k_scenarios"]
    assert set(scenarios["dataset"]) == {"external"}  # internal's k is fixed now: no sweep to show
    assert {"jaccard_min", "names_preview", "recommended"} <= set(scenarios.columns)
    # and back to the sweep's choice without fitting again (the sweep was kept)
    app.switch_page("pages/cluster.py").run()
    fits = ws.fits
    button(app, f"Back to the sweep's choice (k = {chosen})").click().run()
    no_exceptions(app)
    assert ws.config.datasets["internal"].cluster.k is None
    assert ws.stages["clustered:internal"].value.k == chosen and ws.fits == fits


def test_cluster_page_segments_within_each_format_and_names_carry_it(app):
    from clustering.config import config_from_yaml
    from ui.state import run_result

    load_demo_stores(app)
    run_to(app, "prepared")
    app.switch_page("pages/cluster.py").run()
    ws = workspace(app)
    app.selectbox(key=ws.widget_key("internal", "group_by")).set_value("format").run()
    for label in [b.label for b in app.button if b.label.startswith("Run clustering")]:
        button(app, label).click().run()
    no_exceptions(app)
    assert ws.config.datasets["internal"].group_by == "format"
    assert any(m.value.startswith("**Segments within each format**") for m in app.markdown)
    groups = next(d.value for d in app.dataframe if "group" in d.value.columns and "rule" in d.value.columns)
    formats = set(ws.sheets["internal"]["format"].dropna())
    assert formats <= set(groups["group"]) and (groups["k"] >= 1).all()
    run_to(app, "merged")
    app.switch_page("pages/profiles.py").run()
    no_exceptions(app)
    names = run_result(ws).names["label"]
    assert all(name.split(" · ")[0].lower() in formats | {"(missing)"} for name in names)
    assert config_from_yaml(ws.config.to_yaml()).datasets["internal"].group_by == "format"
