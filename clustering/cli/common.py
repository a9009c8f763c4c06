"""What the CLI's command groups share: the database a command names, how a write-back's
changes print, the tracking store a command names."""

from __future__ import annotations

import argparse

from clustering.errors import UserInputError


def tracking_options() -> argparse.ArgumentParser:
    """The flag of every command that reads the tracking store."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--tracking-uri",
        help="MLflow tracking store (default: $MLFLOW_TRACKING_URI, else sqlite:///mlruns.db)",
    )
    return options


def database_engine(args: argparse.Namespace):
    """The database of ``--database`` (without a value: $CLUSTERING_DB_URL or secrets.toml)."""
    from clustering.io.database import URL_VARIABLE, connect, resolve_url

    url = resolve_url(args.database or None)
    if not url:
        raise UserInputError(
            f"No database URL: pass --database URL, set ${URL_VARIABLE}, or add [connections.sql] url to .streamlit/secrets.toml."
        )
    return connect(url)


def print_changes(report) -> None:
    """A write-back's report: its lines, and the first changes of segment."""
    for line in report.lines():
        print(line)
    for row in report.changes.head(20).itertuples(index=False):
        print(f"  {row.rows:>7}  {row[0]} -> {row[1]}")


def tracking_uri_of(args: argparse.Namespace) -> str:
    """The tracking store of ``--tracking-uri``, else the configured one."""
    from clustering import tracking

    return args.tracking_uri or tracking.tracking_uri()


def print_scenarios(scenarios) -> None:
    """Each sweep's k scenarios (a dataset's, or a nested dataset's group's), compactly, with
    the recommended k and why: the table the workbook's ``k_scenarios`` sheet holds."""
    for (name, group), table in scenarios.groupby(["dataset", "group"], sort=False, dropna=False):
        shown = table[["k", "silhouette", "jaccard_min", "smallest_segment", "names_preview"]].copy()
        shown.insert(0, "", table["recommended"].map({True: "->", False: ""}))
        shown["names_preview"] = shown["names_preview"].str.slice(0, 70)
        where = f"{name}, group {group}" if isinstance(group, str) else name
        print(f"k scenarios of {where} (pick another k with cluster.k):")
        print(shown.round(3).to_string(index=False))
        print(table["recommendation"].iloc[0])
