"""The lifecycle in the app: one click to results, tracked runs compared and approved, manual
moves that survive reruns, and new stores assigned to the session's segments."""

from __future__ import annotations

import pytest

from clustering.demo import store_demo
from clustering.io.export import workbook_bytes
from tests.app.conftest import button, errors, load_demo_stores, no_exceptions, workspace

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

pytest.importorskip("mlflow")


def run_all_from_home(at):
    at.switch_page("pages/home.py").run()
    button(at, "Run all steps").click().run()
    no_exceptions(at)
    assert not errors(at), errors(at)
    return at


def test_run_all_steps_lands_on_results_and_tracks_the_run(app, store):
    import mlflow

    load_demo_stores(app)
    run_all_from_home(app)
    assert app.title[0].value == "Results"
    assert [m.label for m in app.metric][:2] == ["Stores", "Segments"]  # the domain's word
    assert any("fall into natural groups" in s.value for s in app.success)  # the verdict in plain words
    assert any(e.label.startswith("The tests behind it") for e in app.expander)
    (run_id,) = workspace(app).tracked.values()
    found = mlflow.search_runs(experiment_names=["store segmentation"])
    assert list(found["run_id"]) == [run_id] and found["tags.front_end"].iloc[0] == "app"
    assert any(run_id in c.value for c in app.caption)


def test_run_all_steps_on_the_data_page_too(app, store):
    load_demo_stores(app)
    app.switch_page("pages/data.py").run()
    button(app, "Run all steps").click().run()
    no_exceptions(app)
    assert app.title[0].value == "Results"


def test_runs_page_lists_compares_and_approves(app, store):
    load_demo_stores(app)
    run_all_from_home(app)
    ws = workspace(app)
    ws.config.datasets["internal"].cluster.k = 3  # a second scenario
    run_all_from_home(app)
    assert len(ws.tracked) == 2
    app.switch_page("pages/runs.py").run()
    no_exceptions(app)
    listed = app.dataframe[0].value
    assert set(listed["run_id"]) == set(ws.tracked.values())
    assert [m.label for m in app.metric] == [
        "ARI between the runs",
        "NMI between the runs",
        "Stores that moved",
    ]
    assert 0 < float(app.metric[0].value) < 1
    button(app, "Approve this run").click().run()
    no_exceptions(app)
    assert app.dataframe[0].value["approved"].sum() == 1


def test_moving_stores_by_id_recomputes_and_survives_a_rerun(app, store):
    load_demo_stores(app)
    run_all_from_home(app)
    ws = workspace(app)
    final = ws.stages["merged"].value.assignments["final_cluster"]
    moved = list(final.index[:3])
    target = sorted(set(final) - set(final[moved]))[0]
    app.switch_page("pages/profiles.py").run()
    k = ws.widget_key("move_")
    app.text_area(key=k + "ids").set_value("\n".join(moved)).run()
    app.selectbox(key=k + "target").set_value(target).run()
    button(app, f"Move to {target}").click().run()
    no_exceptions(app)
    assert ws.config.overrides == dict.fromkeys(moved, target)
    combined = ws.stages["merged"].value
    assert (combined.assignments.loc[moved, "final_cluster"] == target).all()
    assert combined.assignments["override"].sum() == 3
    sizes = ws.stages["explained"].value.profiles.drop_duplicates("segment").set_index("segment")["size"]
    assert sizes[target] == (combined.assignments["final_cluster"] == target).sum()
    ws.config.datasets["external"].cluster.k = 3  # a rerun of an earlier step keeps the moves
    run_all_from_home(app)
    assert ws.config.overrides == dict.fromkeys(moved, target)
    combined = ws.stages["merged"].value
    applied = combined.assignments.loc[moved, "override"]
    assert applied.all() or any("segments this run does not have" in n for n in combined.notes)


def test_moving_stores_by_a_filter_and_a_bad_filter(app, store):
    load_demo_stores(app)
    run_all_from_home(app)
    ws = workspace(app)
    app.switch_page("pages/profiles.py").run()
    k = ws.widget_key("move_")
    app.radio(key=k + "how").set_value("by a filter").run()
    app.text_input(key=k + "filter").set_value("revenue >>> 3").run()
    no_exceptions(app)
    assert any("The filter 'revenue >>> 3' cannot be applied" in e for e in errors(app))
    app.text_input(key=k + "filter").set_value('urbanicity == "rural"').run()
    (picked,) = [int(c.value.split(" ")[0].replace(",", "")) for c in app.caption if " picked." in c.value]
    target = app.selectbox(key=k + "target").value
    button(app, f"Move to {target}").click().run()
    no_exceptions(app)
    assert picked > 0 and len(ws.config.overrides) == picked
    assert set(ws.config.overrides.values()) == {target}


def test_export_assigns_new_stores_with_the_session_model(app, store):
    load_demo_stores(app)
    run_all_from_home(app)
    app.switch_page("pages/export.py").run()
    new = store_demo(40, seed=99)
    new = {name: frame.assign(store_id="NEW-" + frame["store_id"].astype(str)) for name, frame in new.items()}
    app.file_uploader(key=workspace(app).widget_key("assign_file")).set_value(
        ("new_stores.xlsx", workbook_bytes(new), XLSX)
    ).run()
    button(app, "Assign").click().run()
    no_exceptions(app)
    (message,) = [s.value for s in app.success if "entities assigned" in s.value]
    assert message.startswith(
        f"{len(set(new['internal']['store_id']) | set(new['external']['store_id']))} entities"
    )
    table = next(d.value for d in app.dataframe if "far_from_segments" in d.value.columns)
    assert table["store_id"].str.startswith("NEW-").all() and table["segment_name"].notna().all()


def test_export_places_new_stores_by_a_like_mapping_then_a_rule_and_keeps_it_in_the_config(app, store):
    load_demo_stores(app)
    run_all_from_home(app)
    app.switch_page("pages/export.py").run()
    ws = workspace(app)
    final = ws.stages["merged"].value.assignments["final_cluster"]
    like = str(final.index[5])
    mapping = f"store_id,like\nNEW-S000001,{like}\nOPENING,{like}\n".encode()
    app.file_uploader(key=ws.widget_key("assign_like")).set_value(("like.csv", mapping, "text/csv")).run()
    app.radio(key=ws.widget_key("assign_rule")).set_value("largest").run()
    new = {name: frame.assign(store_id="NEW-" + frame["store_id"].astype(str)) for name, frame in store_demo(20, seed=97).items()}  # fmt: skip
    app.file_uploader(key=ws.widget_key("assign_file")).set_value(
        ("new.xlsx", workbook_bytes(new), XLSX)
    ).run()
    button(app, "Assign").click().run()
    no_exceptions(app)
    placed = next(d.value for d in app.dataframe if "placed_by" in d.value.columns).set_index("store_id")
    assert placed.loc["NEW-S000001", "placed_by"] == f"like {like}" == placed.loc["OPENING", "placed_by"]
    assert placed.loc["OPENING", "final_cluster"] == final[like]
    largest = final.value_counts().index[0]
    others = placed.drop(index=["NEW-S000001", "OPENING"])
    assert set(others["placed_by"]) == {"largest segment"} and set(others["final_cluster"]) == {largest}
    assert ws.config.placement.rule == "largest" and "OPENING" in ws.config.placement.like  # in the YAML


def test_export_assigns_new_stores_with_a_tracked_runs_model(app, store):
    load_demo_stores(app)
    run_all_from_home(app)
    app.switch_page("pages/export.py").run()
    ws = workspace(app)
    app.toggle(key=ws.widget_key("assign_tracked")).set_value(True).run()
    no_exceptions(app)
    tracked = app.selectbox(key=ws.widget_key("assign_src"))
    assert tracked.options and tracked.value is not None
    new = {
        name: frame.assign(store_id="NEW-" + frame["store_id"].astype(str))
        for name, frame in store_demo(30, seed=98).items()
    }
    app.file_uploader(key=ws.widget_key("assign_file")).set_value(
        ("new.xlsx", workbook_bytes(new), XLSX)
    ).run()
    button(app, "Assign").click().run()
    no_exceptions(app)
    assert any("entities assigned" in s.value for s in app.success)


def test_on_a_team_server_runs_record_who_ran_and_who_approved(monkeypatch, store):
    import streamlit as st

    from clustering import tracking
    from tests.app.conftest import new_app
    from tests.app.test_access import AUTH

    st.cache_resource.clear()
    monkeypatch.setenv("CLUSTERING_TEAM_MODE", "1")
    at = new_app()
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": True, "email": "ana@example.com", "name": "Ana"}
    at.run()
    no_exceptions(at)
    assert any(c.value == "Logged in as ana@example.com" for c in at.sidebar.caption)
    load_demo_stores(at)
    run_all_from_home(at)
    (run_id,) = workspace(at).tracked.values()
    at.user = {"is_logged_in": True, "email": "lead@example.com"}
    at.switch_page("pages/runs.py").run()
    button(at, "Approve this run").click().run()
    no_exceptions(at)
    listed = tracking.list_runs(store).set_index("run_id")
    assert listed.loc[run_id, "user"] == "ana@example.com"
    assert listed.loc[run_id, "approved_by"] == "lead@example.com"
