import re

import pytest

from clustering.config import RunConfig, config_from_dict, config_from_yaml, load_config, resolve_size
from clustering.errors import UserInputError


def test_defaults_are_complete_and_documented_values():
    config = RunConfig()
    assert config.id_column == "store_id"
    assert set(config.datasets) == {"internal", "external"}
    assert config.datasets["internal"].cluster.k_min == 2
    assert config.datasets["internal"].cluster.k_max == 12
    assert config.datasets["internal"].cluster.algorithm == "kmeans"
    assert config.prefix("internal") == "I" and config.prefix("external") == "E"


def test_store_preset_loads_by_name_and_by_path():
    assert load_config("store") == load_config("config/store.yml")


def test_yaml_round_trip_reproduces_the_config():
    config = load_config("store")
    config.random_state = 123
    config.datasets["internal"].cluster.k = 5
    assert config_from_yaml(config.to_yaml()) == config


def test_unknown_top_level_key_is_named():
    with pytest.raises(UserInputError, match="unknown key 'colour'"):
        config_from_yaml("colour: blue\n", source="my.yml")


def test_unknown_nested_key_is_named_with_its_path():
    text = "datasets:\n  internal:\n    cluster:\n      kk: 3\n"
    with pytest.raises(UserInputError, match=r"my\.yml: unknown key 'datasets\.internal\.cluster\.kk'"):
        config_from_yaml(text, source="my.yml")


def test_bad_value_names_the_key():
    with pytest.raises(UserInputError, match=r"datasets\.internal\.cluster\.algorithm"):
        config_from_yaml("datasets:\n  internal:\n    cluster:\n      algorithm: magic\n")


def test_k_min_above_k_max_is_an_error():
    with pytest.raises(UserInputError, match="k_min"):
        config_from_yaml("datasets:\n  internal:\n    cluster: {k_min: 8, k_max: 4}\n")


def test_env_substitution_uses_value_then_default(monkeypatch):
    text = "id_column: ${env:STUDIO_ID,store_id}\nrandom_state: ${env:STUDIO_SEED,1}\n"
    monkeypatch.delenv("STUDIO_ID", raising=False)
    monkeypatch.setenv("STUDIO_SEED", "99")
    config = config_from_yaml(text)
    assert config.id_column == "store_id"
    assert config.random_state == 99


def test_env_without_default_and_unset_is_named(monkeypatch):
    monkeypatch.delenv("STUDIO_MISSING", raising=False)
    with pytest.raises(UserInputError, match="STUDIO_MISSING is not set"):
        config_from_yaml("id_column: ${env:STUDIO_MISSING}\n")


@pytest.mark.parametrize(("spec", "rows", "expected"), [(30, 1000, 30), ("2%", 1000, 20), ("2.5%", 101, 3)])
def test_sizes_resolve_as_counts_or_percentages(spec, rows, expected):
    assert resolve_size(spec, rows) == expected


def test_bad_size_is_rejected_with_the_key():
    with pytest.raises(UserInputError, match=r"merge\.min_segment_size"):
        config_from_yaml("merge:\n  min_segment_size: lots\n")


def test_one_or_two_datasets_only():
    text = "datasets:\n  a: {}\n  b: {}\n  c: {}\n"
    with pytest.raises(UserInputError, match="one or two datasets"):
        config_from_yaml(text)


def test_invalid_yaml_is_a_user_error():
    with pytest.raises(UserInputError, match="not valid YAML"):
        config_from_yaml("a: [1, 2\n")


def test_missing_config_file(tmp_path):
    with pytest.raises(UserInputError, match="does not exist"):
        load_config(tmp_path / "nope.yml")


def test_an_uploaded_config_never_reads_the_environment(monkeypatch):
    from clustering.config import config_from_upload

    monkeypatch.setenv("CLUSTERING_DB_URL", "postgresql://analyst:s3cret@db/retail")
    current = load_config("store")
    for text in ('name: "${env:CLUSTERING_DB_URL}"', 'name: "${env:NO_SUCH_VARIABLE_AT_ALL}"'):
        with pytest.raises(UserInputError) as refused:
            config_from_upload(text, "upload.yml", current)
        message = str(refused.value)
        assert "'name' refers to an environment variable" in message
        assert "s3cret" not in message and "not set" not in message  # says nothing of the variable
    nested = "datasets:\n  internal:\n    cluster:\n      k: ${env:K,4}\n"
    with pytest.raises(UserInputError, match=r"'datasets.internal.cluster.k' refers to an environment"):
        config_from_upload(nested, "upload.yml", current)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("tracking:\n  uri: sqlite:////tmp/elsewhere.db\n", "tracking.uri"),
        ("input: /etc/passwd\n", "input"),
        ("datasets:\n  internal:\n    path: /home/someone/stores.xlsx\n", "datasets.internal.path"),
    ],
)
def test_an_uploaded_config_cannot_point_at_the_servers_files(text, key):
    from clustering.config import config_from_upload

    with pytest.raises(UserInputError, match=rf"'{re.escape(key)}' points at the server's files"):
        config_from_upload(text, "upload.yml", load_config("store"))


def test_a_downloaded_config_uploads_again_with_the_servers_own_paths():
    from clustering.config import config_from_upload

    current = load_config("store")
    current.tracking.uri = "sqlite:////srv/clustering/mlruns.db"
    changed = current.model_copy(deep=True)
    changed.datasets["internal"].cluster.k = 5
    uploaded = config_from_upload(changed.to_yaml(), "upload.yml", current)
    assert uploaded.datasets["internal"].cluster.k == 5
    assert uploaded.tracking.uri == current.tracking.uri
    stripped = "datasets:\n  internal: {}\n"
    assert config_from_upload(stripped, "upload.yml", current).tracking.uri == current.tracking.uri


# What an analyst may not set: where the server reads, writes and waits (issue: locked server).
SERVER_KEYS = {
    "tracking.enabled": "tracking:\n  enabled: false\n",
    "tracking.experiment": "tracking:\n  experiment: someone else's\n",
    "database.tables.internal": "database:\n  tables:\n    internal: app_users\n",
    "database.columns.internal": "database:\n  columns:\n    internal: [password_hash]\n",
    "database.queries.internal": "database:\n  queries:\n    internal: SELECT * FROM app_users\n",
    "database.max_rows": "database:\n  max_rows: 900000000\n",
    "database.schema_name": "database:\n  schema_name: private\n",
    "database.pushdown": "database:\n  pushdown: false\n",
    "database.statement_timeout_seconds": "database:\n  statement_timeout_seconds: 86000\n",
    "database.preview_rows": "database:\n  preview_rows: 999999\n",
    "database.write_back.table": "database:\n  write_back:\n    table: app_users\n",
    "database.write_back.key_column": "database:\n  write_back:\n    key_column: user_id\n",
    "database.write_back.column": "database:\n  write_back:\n    column: role\n",
    "database.write_back.value": "database:\n  write_back:\n    value: segment\n",
    "database.write_back.history_table": "database:\n  write_back:\n    history_table: app_users\n",
    "database.write_back.uncovered": "database:\n  write_back:\n    uncovered: clear\n",
    "database.write_back.uncovered_label": "database:\n  write_back:\n    uncovered_label: admin\n",
}


@pytest.mark.parametrize(("key", "text"), SERVER_KEYS.items(), ids=list(SERVER_KEYS))
def test_an_uploaded_config_cannot_set_where_the_server_reads_writes_or_waits(key, text):
    from clustering.config import config_from_upload

    with pytest.raises(UserInputError, match=rf"'{re.escape(key)}' is the server's setting"):
        config_from_upload(text, "upload.yml", load_config("store"))


def test_the_write_back_attack_is_refused_and_the_analysis_keys_still_apply():
    from clustering.config import config_from_upload

    current = load_config("store")
    attack = (
        "datasets:\n  internal:\n    cluster: {k: 4}\n"
        "database:\n  write_back: {table: app_users, key_column: user_id, column: role,"
        " uncovered: label, uncovered_label: admin}\n"
    )
    with pytest.raises(UserInputError, match=r"'database\.write_back\.table' is the server's setting"):
        config_from_upload(attack, "upload.yml", current)
    analysis = config_from_upload("datasets:\n  internal:\n    cluster: {k: 4}\n", "upload.yml", current)
    assert analysis.datasets["internal"].cluster.k == 4
    assert analysis.database == current.database and analysis.tracking == current.tracking


@pytest.mark.parametrize(
    "text",
    [
        "stability:\n  fraction: .nan\n",
        "datasets:\n  internal:\n    preprocess: {skew_threshold: .inf}\n",
        "datasets:\n  internal:\n    preprocess: {skew_threshold: 1e9}\n",
        "datasets:\n  internal:\n    cluster: {k_max: 100000000}\n",
        "random_state: -1\n",
        "merge:\n  min_segment_size: 10000000000000\n",
    ],
)
def test_every_number_is_finite_and_within_its_range(text):
    from clustering.config import config_from_upload

    with pytest.raises(UserInputError, match=r"upload\.yml: '"):
        config_from_upload(text, "upload.yml", load_config("store"))


def test_the_servers_own_timeout_is_finite_and_bounded():
    with pytest.raises(UserInputError, match="statement_timeout_seconds"):
        config_from_dict({"database": {"statement_timeout_seconds": float("inf")}})
    with pytest.raises(UserInputError, match="statement_timeout_seconds"):
        config_from_dict({"database": {"statement_timeout_seconds": 1e9}})


def test_a_yaml_alias_bomb_is_refused_before_it_is_expanded():
    from clustering.config import MAX_UPLOAD_NODES, config_from_upload

    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in "bcdefghi":  # 10^9 values once expanded
        previous = chr(ord(level) - 1)
        lines.append(f"{level}: &{level} [{', '.join(['*' + previous] * 10)}]")
    with pytest.raises(
        UserInputError, match=f"more than {MAX_UPLOAD_NODES:,} values through its YAML aliases"
    ):
        config_from_upload("\n".join(lines), "upload.yml", load_config("store"))
    fine = "labels: &same {pattern: none}\n"  # an alias that stays small is fine
    assert config_from_upload(fine, "upload.yml", load_config("store")).labels.pattern == "none"


@pytest.mark.parametrize(
    "text",
    [
        'columns:\n  "${env:HOME}": {label: Home}\n',  # as a key
        "name: plain  # ${env:HOME}\n",  # in a comment
        'name: "$\\x7Benv:HOME}"\n',  # spelled with an escape
    ],
)
def test_env_is_refused_anywhere_in_an_upload(text):
    from clustering.config import config_from_upload

    with pytest.raises(UserInputError, match="refers to an environment variable"):
        config_from_upload(text, "upload.yml", load_config("store"))


def test_a_tracked_runs_config_is_read_as_logged_never_expanded(monkeypatch):
    monkeypatch.setenv("SECRET_FOR_TEST", "s3cret")
    stored = config_from_yaml('name: "${env:SECRET_FOR_TEST}"\n', "run 1", expand_env=False)
    assert stored.name == "${env:SECRET_FOR_TEST}"


def test_passwords_are_hidden_in_any_text_shown_logged_or_tracked():
    from clustering.errors import hide_passwords

    text = (
        "store postgresql+psycopg://mlflow:s3cr@t!@db.example:5432/mlflow, "
        "dsn host=db password=pa55 user=x, sqlite:////tmp/runs.db"
    )
    hidden = hide_passwords(text)
    assert "s3cr" not in hidden and "pa55" not in hidden
    assert (
        "postgresql+psycopg://mlflow:***@db.example:5432/mlflow" in hidden
        and "sqlite:////tmp/runs.db" in hidden
    )
