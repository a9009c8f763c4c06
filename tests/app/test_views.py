"""The views and moves analysts expect, with AppTest: a feature's distribution per segment in
real units, and the other views of issue 32 as they land."""

from __future__ import annotations

import base64
import json

import numpy as np

from clustering.demo import store_demo
from clustering.io.export import workbook_bytes
from tests.app.conftest import button, no_exceptions, run_to, workspace

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def numbers(array: dict | list) -> np.ndarray:
    """A trace's values: Plotly's JSON writes numpy arrays as base64 with their dtype."""
    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"])
    return np.asarray(array, dtype=float)


def plotly_specs(at) -> dict[str, dict]:
    return {el.proto.id: json.loads(el.proto.spec) for el in at.get("plotly_chart")}


def upload_stores_with_one_giant(at) -> None:
    """600 demo stores, one of them with 700M revenue (the store that flattened every box)."""
    sheets = store_demo(600, seed=2)
    sheets["internal"].loc[sheets["internal"].index[0], "revenue"] = 7e8
    at.switch_page("pages/data.py").run()
    at.file_uploader[0].set_value(("stores.xlsx", workbook_bytes(sheets), XLSX)).run()
    button(at, "Load and check").click().run()
    no_exceptions(at)


def distribution_chart(at) -> dict:
    return next(
        spec
        for spec in plotly_specs(at).values()
        if spec["data"] and spec["data"][0].get("line", {}).get("shape") == "hv"
    )


def test_a_features_distribution_per_segment_is_in_real_units_with_the_outlier_named(app):
    upload_stores_with_one_giant(app)
    run_to(app, "merged")
    app.switch_page("pages/profiles.py").run()
    no_exceptions(app)
    app.selectbox(key="dist_feature").set_value("revenue").run()
    no_exceptions(app)
    segments = workspace(app).stages["merged"].value.assignments["final_cluster"].nunique()
    log_toggle = app.toggle(key="dist_log_revenue")
    assert log_toggle.value is True  # skewed by the giant: a log axis is proposed
    chart = distribution_chart(app)
    assert len(chart["data"]) == segments  # one line per segment, named first, code after
    assert all(trace["name"].endswith(")") and "(" in trace["name"] for trace in chart["data"])
    assert chart["layout"]["xaxis"]["type"] == "log"
    assert chart["layout"]["xaxis"]["title"]["text"] == "revenue ($)"
    assert chart["layout"]["xaxis"]["tickprefix"] == "$"

    log_toggle.set_value(False).run()  # on a plain axis the giant is counted in the last bar, named
    chart = distribution_chart(app)
    assert numbers(chart["data"][0]["x"]).max() < 1e8
    captions = " ".join(c.value for c in app.caption)
    assert "every one of the 600 stores counted, none sampled" in captions
    assert "(up to $700,000,000) are counted in the last bar" in captions

    app.toggle(key="dist_panels").set_value(True).run()  # one panel per segment
    layout = distribution_chart(app)["layout"]
    assert sum(key.startswith("yaxis") for key in layout) == segments
    percentiles = next(d.value for d in app.dataframe if "p25" in d.value.columns)
    assert percentiles.iloc[-1]["name"] == "all stores" and percentiles["max"].max() == 7e8


def test_why_here_names_the_segment_the_runner_up_and_what_pulls_the_store_there(app):
    from tests.app.conftest import errors, load_demo_stores

    load_demo_stores(app)
    run_to(app, "merged")
    app.switch_page("pages/profiles.py").run()
    ws = workspace(app)
    assignments = ws.stages["merged"].value.assignments
    store = str(assignments.index[3])
    fits = ws.fits
    app.text_input(key=ws.widget_key("why_id")).set_value(f" {store} ").run()
    no_exceptions(app)
    sentence = next(m.value for m in [*app.info, *app.warning] if m.value.startswith(f"Store {store} is in "))
    segment = assignments.loc[store, "final_cluster"]
    assert f"({segment}); the next nearest segment is" in sentence and "farther away" in sentence
    reasons = next(d.value for d in app.dataframe if "share of the pull" in d.value.columns)
    assert list(reasons.columns)[:3] == ["feature", "this store", f"typical of {segment}"]
    assert (reasons["pulls toward"].iloc[0] == segment) and len(reasons) == 5
    assert ws.fits == fits  # nothing refitted to explain a placement

    app.text_input(key=ws.widget_key("why_id")).set_value("S00000").run()
    no_exceptions(app)
    assert any("No store with ID 'S00000' in this run. IDs like it: S000001" in e for e in errors(app))


def test_a_hierarchical_fit_shows_its_dendrogram_cut_at_k_and_profiles_show_how_segments_relate(app):
    from tests.app.conftest import load_demo_stores

    load_demo_stores(app)
    run_to(app, "prepared")
    ws = workspace(app)
    ws.config.datasets["internal"].cluster.algorithm = "agglomerative"
    app.switch_page("pages/cluster.py").run()
    button(app, "Run clustering on internal").click().run()
    no_exceptions(app)
    app.session_state[f"{ws.generation}_internal_plot_view"] = "Dendrogram"
    app.run()
    no_exceptions(app)
    tree = next(
        spec
        for spec in plotly_specs(app).values()
        if "cut into the segments" in json.dumps(spec.get("layout", {}))
    )
    segments = ws.stages["clustered:internal"].value.labels.nunique()
    ticks = tree["layout"]["xaxis"]["ticktext"]
    assert {t.split(" · ")[0] for t in ticks} == {f"I{i}" for i in range(1, segments + 1)}

    run_to(app, "merged")
    app.switch_page("pages/profiles.py").run()
    no_exceptions(app)
    names = ws.stages["explained"].value.names
    relate = next(
        spec
        for spec in plotly_specs(app).values()
        if spec.get("layout", {})
        .get("yaxis", {})
        .get("title", {})
        .get("text", "")
        .startswith("Ward distance")
    )
    shown = relate["layout"]["xaxis"]["ticktext"]
    assert sorted(shown) == sorted(f"{row.label} ({row.segment})" for row in names.itertuples())


def test_dfu_segments_show_their_typical_demand_over_the_months(app):
    app.switch_page("pages/data.py").run()
    app.radio(key="data_source").set_value("Demo data").run()
    app.selectbox(key="demo_kind").set_value("dfu").run()
    app.number_input[0].set_value(1500).run()
    button(app, "Generate demo data").click().run()
    no_exceptions(app)
    run_to(app, "merged")
    app.switch_page("pages/profiles.py").run()
    no_exceptions(app)
    assert "Typical demand over the months" in [h.value for h in app.subheader]
    chart = next(
        spec
        for spec in plotly_specs(app).values()
        if spec.get("layout", {}).get("yaxis", {}).get("title", {}).get("text", "").startswith("demand index")
    )
    segments = workspace(app).stages["merged"].value.assignments["final_cluster"].nunique()
    lines = [trace for trace in chart["data"] if trace.get("mode") == "lines"]
    assert len(lines) == segments and all(len(numbers(t["y"])) == 24 for t in lines)  # the 24-month window
    first = app.multiselect(key="demand_segments")
    first.set_value(first.value[:1]).run()  # one segment alone
    chart = next(s for s in plotly_specs(app).values() if "demand index" in json.dumps(s.get("layout", {})))
    assert len([t for t in chart["data"] if t.get("mode") == "lines"]) == 1


def test_a_segment_splits_on_profiles_round_trips_through_the_config_and_undoes(app):
    from tests.app.conftest import load_demo_stores

    load_demo_stores(app)
    run_to(app, "merged")
    app.switch_page("pages/profiles.py").run()
    ws = workspace(app)
    before = ws.stages["merged"].value.assignments["final_cluster"].copy()
    segment = str(before.value_counts().index[0])
    app.selectbox(key=ws.widget_key("split_segment")).set_value(segment).run()
    app.toggle(key=ws.widget_key("split_rule")).set_value(False).run()
    app.number_input(key=ws.widget_key("split_k")).set_value(2).run()
    button(app, "Split").click().run()
    no_exceptions(app)
    after = ws.stages["merged"].value.assignments["final_cluster"]
    members = before.index[before == segment]
    assert set(after[members]) == {f"{segment}.1", f"{segment}.2"}
    assert (after.drop(members) == before.drop(members)).all()  # the rest untouched
    assert ws.config.splits[segment].k == 2  # recorded in the run's config
    said = " ".join(m.value for m in app.markdown)
    assert f"{segment} split into 2: {segment}.1 (" in said
    assert any({"segment", "jaccard_mean"} <= set(d.value.columns) and f"{segment}.1" in set(d.value["segment"])
               for d in app.dataframe)  # fmt: skip

    exported = ws.config.to_yaml()  # the Export page's "Run config (.yml)"
    button(app, f"Undo the split of {segment}").click().run()
    no_exceptions(app)
    assert not ws.config.splits and (ws.stages["merged"].value.assignments["final_cluster"] == before).all()
    app.switch_page("pages/export.py").run()
    app.file_uploader[0].set_value(("run.yml", exported.encode(), "application/x-yaml")).run()
    button(app, "Use this config").click().run()
    no_exceptions(app)
    assert (ws.stages["merged"].value.assignments["final_cluster"] == after).all()  # the split again
