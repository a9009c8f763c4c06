"""The cluster summary API with FastAPI's TestClient, on SQLite and on a real PostgreSQL
server: aggregates computed in SQL match the features (the profiles' numbers) on the same
tables, and DFUs without a cluster are counted as unassigned."""

from __future__ import annotations

import threading
import time

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from clustering.api import Recent, create_app
from clustering.config import load_config
from clustering.demo import dfu_demo
from clustering.errors import UserInputError
from clustering.io.database import connect
from clustering.io.dbwrite import demo_warehouse
from clustering.io.writeback import write_back
from clustering.prep.features import demand_features


@pytest.fixture(scope="module")
def sheets():
    return dfu_demo(300, 24, seed=4)


def labeled_warehouse(url: str, sheets) -> pd.DataFrame:
    """A demo warehouse whose dim_dfu has cluster_assignment written by write-back: the DFUs
    the features keep get one of two labels, the others (short history) the uncovered label."""
    engine = connect(url, create=True)
    demo_warehouse(engine, "dfu", sheets)
    kept, _ = demand_features(sheets, next(iter(load_config("dfu").datasets.values())).features)
    ids = kept["dfu_id"]
    labels = np.where(np.arange(len(ids)) % 3 == 0, "high_volume_steady", "intermittent_low_volume")
    assignments = pd.DataFrame({"dfu_id": ids, "final_cluster": labels, "segment_name": labels})
    write_back(engine, assignments, load_config("dfu").database.write_back, "dfu_id")
    return assignments


def expected_summary(sheets, assignments) -> pd.DataFrame:
    """The profiles' numbers: the features' mean_demand and cv_demand, averaged per label."""
    features, _ = demand_features(sheets, next(iter(load_config("dfu").datasets.values())).features)
    joined = assignments.set_index("dfu_id").join(features.set_index("dfu_id"))
    return joined.groupby("segment_name").agg(
        count=("final_cluster", "size"), avg_demand=("mean_demand", "mean"), cv_demand=("cv_demand", "mean")
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def client(request, tmp_path, sheets):
    url = (
        f"sqlite:///{tmp_path / 'w.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    assignments = labeled_warehouse(url, sheets)
    return TestClient(create_app(url)), assignments, url


def test_cluster_summary_is_aggregated_in_sql_and_matches_pandas(client, sheets):
    api, assignments, _ = client
    response = api.get("/domains/dfu/clusters")
    assert response.status_code == 200
    body = response.json()
    got = pd.DataFrame(body["clusters"]).set_index("cluster_assignment")
    expected = expected_summary(sheets, assignments)
    short = len(sheets["dim_dfu"]) - len(assignments)  # too short a history: no cluster
    assert short > 0 and body["unassigned"] == short and body["uncovered_label"] == "insufficient_history"
    assert "insufficient_history" not in got.index
    assert list(got.index) == sorted(expected.index)
    pd.testing.assert_series_equal(
        got["count"], expected["count"].reindex(got.index), check_names=False, check_dtype=False
    )
    np.testing.assert_allclose(got["avg_demand"], expected["avg_demand"].reindex(got.index), rtol=1e-9)
    np.testing.assert_allclose(got["cv_demand"], expected["cv_demand"].reindex(got.index), rtol=1e-9)


def test_dfus_are_listed_by_cluster_a_page_at_a_time(client):
    api, assignments, _ = client
    steady = sorted(assignments.loc[assignments["segment_name"] == "high_volume_steady", "dfu_id"])
    page = api.get(
        "/domains/dfu", params={"cluster_assignment": "high_volume_steady", "limit": 10, "offset": 5}
    )
    assert page.status_code == 200
    body = page.json()
    assert body["total"] == len(steady) and body["limit"] == 10 and body["offset"] == 5
    assert [row["dfu_id"] for row in body["items"]] == steady[5:15]
    assert {"item_id", "region", "cluster_assignment"} <= set(body["items"][0])
    everything = api.get("/domains/dfu").json()
    assert everything["total"] == 300 and len(everything["items"]) == 100  # every DFU of dim_dfu


@pytest.mark.parametrize(
    ("params", "status", "says"),
    [
        ({"limit": 0}, 400, "limit"),
        ({"limit": 5000}, 400, "limit"),
        ({"offset": -1}, 400, "offset"),
        ({"limit": "many"}, 400, "limit"),
        ({"offset": 9223372036854775808}, 400, "offset"),
        ({"offset": 10**30}, 400, "offset"),
        ({"limit": 2**64}, 400, "limit"),
        ({"offset": "1e400"}, 400, "offset"),
        (
            {"cluster_assignment": "no_such_cluster"},
            404,
            "GET /domains/dfu/clusters lists the clusters",
        ),
    ],
)
def test_bad_parameters_are_clear_4xx(tmp_path, sheets, params, status, says):
    url = f"sqlite:///{tmp_path / 'w.db'}"
    labeled_warehouse(url, sheets)
    response = TestClient(create_app(url)).get("/domains/dfu", params=params)
    assert response.status_code == status
    assert says in response.json()["detail"]


def test_the_api_reads_in_a_read_only_transaction(tmp_path, sheets, monkeypatch):
    from clustering.api import app as module

    url = f"sqlite:///{tmp_path / 'w.db'}"
    labeled_warehouse(url, sheets)
    opened = []
    real = module.read_only

    def spy(engine, timeout):
        opened.append(timeout)
        return real(engine, timeout)

    monkeypatch.setattr(module, "read_only", spy)
    assert TestClient(create_app(url)).get("/domains/dfu/clusters").status_code == 200
    assert opened == [120.0]  # the dfu preset's statement timeout


def test_docs_are_served_without_a_cdn(tmp_path, sheets):
    url = f"sqlite:///{tmp_path / 'w.db'}"
    labeled_warehouse(url, sheets)
    api = TestClient(create_app(url))
    docs = api.get("/docs").text
    assert "swagger-ui" in docs and "cdn.jsdelivr" not in docs and "unpkg" not in docs
    schema = api.get("/openapi.json").json()
    assert {"/domains/dfu/clusters", "/domains/dfu"} <= set(schema["paths"])


def test_the_index_on_cluster_assignment_exists(tmp_path, sheets):
    url = f"sqlite:///{tmp_path / 'w.db'}"
    engine = connect(url, create=True)
    demo_warehouse(engine, "dfu", sheets)
    names = {i["name"] for i in sa.inspect(engine).get_indexes("dim_dfu")}
    assert "idx_dim_dfu_cluster_assignment" in names
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP INDEX idx_dim_dfu_cluster_assignment")
    assignments = pd.DataFrame(
        {"dfu_id": sheets["dim_dfu"]["dfu_id"], "final_cluster": "D1", "segment_name": "x"}
    )
    write_back(engine, assignments, load_config("dfu").database.write_back, "dfu_id")
    assert "idx_dim_dfu_cluster_assignment" in {i["name"] for i in sa.inspect(engine).get_indexes("dim_dfu")}


def test_a_store_config_is_refused(tmp_path, sheets):
    url = f"sqlite:///{tmp_path / 'w.db'}"
    labeled_warehouse(url, sheets)
    with pytest.raises(UserInputError, match="needs a DFU config"):
        create_app(url, load_config("store"))


def test_an_unknown_cluster_names_no_other_cluster(tmp_path, sheets):
    url = f"sqlite:///{tmp_path / 'w.db'}"
    labeled_warehouse(url, sheets)
    detail = (
        TestClient(create_app(url)).get("/domains/dfu", params={"cluster_assignment": "x"}).json()["detail"]
    )
    assert "high_volume_steady" not in detail and "intermittent_low_volume" not in detail


def test_the_largest_offset_is_answered(tmp_path, sheets):
    url = f"sqlite:///{tmp_path / 'w.db'}"
    labeled_warehouse(url, sheets)
    page = TestClient(create_app(url)).get("/domains/dfu", params={"offset": 2**63 - 1})
    assert page.status_code == 200 and page.json()["items"] == []


def test_an_internal_error_is_a_500_without_a_traceback(tmp_path, sheets, monkeypatch, caplog):
    from clustering.api import app as module

    url = f"sqlite:///{tmp_path / 'w.db'}"
    labeled_warehouse(url, sheets)
    monkeypatch.setenv("CLUSTERING_LOG_FILE", str(tmp_path / "errors.log"))

    def broken(engine, timeout):
        raise RuntimeError("secret internals /srv/app/module.py line 12")

    monkeypatch.setattr(module, "read_only", broken)
    with caplog.at_level("INFO", logger="clustering.api"):
        response = TestClient(create_app(url)).get("/domains/dfu/clusters")
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal error; see the server log."}
    assert "Traceback" not in response.text and "secret internals" not in response.text
    assert "secret internals" in (tmp_path / "errors.log").read_text()  # the log file has it
    assert any("GET /domains/dfu/clusters 500" in r.getMessage() for r in caplog.records)


def test_every_call_writes_one_log_line(tmp_path, sheets, caplog):
    url = f"sqlite:///{tmp_path / 'w.db'}"
    labeled_warehouse(url, sheets)
    api = TestClient(create_app(url))
    with caplog.at_level("INFO", logger="clustering.api"):
        api.get("/domains/dfu", params={"limit": 3})
        api.get("/domains/dfu", params={"limit": 0})
    lines = [r.getMessage() for r in caplog.records if r.name == "clustering.api"]
    assert len(lines) == 2
    assert " GET /domains/dfu 200 " in lines[0] and " GET /domains/dfu 400 " in lines[1]
    assert lines[0].endswith(" ms")


def test_with_a_token_every_route_needs_it(tmp_path, sheets):
    url = f"sqlite:///{tmp_path / 'w.db'}"
    labeled_warehouse(url, sheets)
    api = TestClient(create_app(url, token="t0ken-of-the-team"))
    for path in ("/domains/dfu/clusters", "/domains/dfu", "/docs", "/openapi.json"):
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic t0ken-of-the-team"}):
            response = api.get(path, headers=headers)
            assert response.status_code == 401, (path, headers)
            assert response.headers["www-authenticate"] == "Bearer"
    good = {"Authorization": "Bearer t0ken-of-the-team"}
    assert api.get("/domains/dfu/clusters", headers=good).status_code == 200
    assert api.get("/health").status_code == 200


def test_serve_refuses_other_addresses_without_a_token(tmp_path, sheets, monkeypatch, capsys):
    from clustering.cli import main

    url = f"sqlite:///{tmp_path / 'w.db'}"
    labeled_warehouse(url, sheets)
    monkeypatch.delenv("CLUSTERING_API_TOKEN", raising=False)
    assert main(["serve", "--database", url, "--host", "0.0.0.0"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: Refusing to serve 0.0.0.0 without a token: set $CLUSTERING_API_TOKEN")


def test_the_summary_is_computed_at_start_and_reused_for_a_few_seconds(tmp_path, sheets, monkeypatch):
    from clustering.api import app as module

    url = f"sqlite:///{tmp_path / 'w.db'}"
    labeled_warehouse(url, sheets)
    opened = []
    real = module.read_only
    monkeypatch.setattr(
        module, "read_only", lambda engine, timeout: opened.append(1) or real(engine, timeout)
    )
    with TestClient(create_app(url, summary_seconds=10.0)) as api:
        assert opened == [1]  # the server takes its first request once the summary exists
        answers = [api.get("/domains/dfu/clusters").json() for _ in range(3)]
    assert answers[0] == answers[1] == answers[2]
    assert len(opened) == 1


def test_an_expired_summary_is_served_while_one_background_refresh_runs():
    release, calls = threading.Event(), []

    def compute():
        calls.append(1)
        if len(calls) > 1:
            release.wait(10)  # the refresh is slow (a cold aggregation)
        return len(calls)

    recent = Recent(0.0, compute)
    assert recent.get() == 1  # the first answer is awaited
    started = time.perf_counter()
    answers = [recent.get() for _ in range(20)]  # expired at once: a refresh starts, nobody waits
    assert answers == [1] * 20 and time.perf_counter() - started < 1.0
    assert len(calls) == 2  # one refresh, not one per caller
    release.set()
    for _ in range(200):
        if recent.get() == 2:
            break
        time.sleep(0.02)
    assert recent.get() >= 2


def test_a_failed_first_summary_is_raised_and_tried_again_and_a_failed_refresh_keeps_the_last():
    outcomes = [UserInputError("the statement timed out"), "first", RuntimeError("database gone")]

    def compute():
        outcome = outcomes.pop(0) if outcomes else "later"
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    recent = Recent(0.0, compute)
    with pytest.raises(UserInputError, match="timed out"):
        recent.get()
    assert recent.get() == "first"  # the next caller tries again
    for _ in range(50):  # the refresh fails: the last answer stays served
        assert recent.get() in ("first", "later")
        time.sleep(0.02)


@pytest.mark.parametrize(
    ("request_", "status", "says"),
    [
        (lambda api: api.get("/domains/dfu", params={"cluster_assignment": "x" * 5000}), 414, "2,048 bytes"),
        (lambda api: api.request("GET", "/domains/dfu/clusters", content=b"x" * 100_000), 413, "body"),
        (lambda api: api.post("/domains/dfu/clusters", content=b"{}"), 413, "body"),
    ],
)
def test_an_oversized_request_gets_the_apps_json_error(tmp_path, sheets, request_, status, says):
    url = f"sqlite:///{tmp_path / 'w.db'}"
    labeled_warehouse(url, sheets)
    answer = request_(TestClient(create_app(url)))
    assert answer.status_code == status
    assert (
        set(answer.json()) == {"detail"} and "bytes" in answer.json()["detail"]
    ) or "body" in answer.json()["detail"]
