"""This project against PyCaret's clustering flow, whole process, on the same demo stores.

Usage: ``python benchmarks/peer.py [--sizes 10000 20000 100000] [--repeats 1]
[--pycaret-python PATH]``

PyCaret 3.3.2 pins old numpy, pandas and scikit-learn, so it lives in a virtual
environment of its own::

    python3.11 -m venv .pycaret && .pycaret/bin/pip install pycaret==3.3.2 six

and ``--pycaret-python .pycaret/bin/python`` (or ``$PYCARET_PYTHON``) points at it; without
it the benchmark says so in one line and stops. For each size, the demo's ``internal`` sheet
(numeric columns and the store format) is written to CSV with the planted segments kept
aside. Then, interleaved, each side runs as a fresh process:

- PyCaret: ``setup(normalize=True, session_id=42)``, ``create_model('kmeans',
  num_clusters=k)`` for k = 2..10, the k with the best silhouette, ``assign_model``;
- this project: ``python -m clustering run`` with the default preset (``store``) on that one
  dataset (its ``internal`` settings; tracking off: PyCaret's flow logs nothing either).

It prints the seconds of each (median of ``--repeats``), the ratio, and both ARIs against the
planted segments.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from sklearn.metrics import adjusted_rand_score

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from floor import measure_floor  # noqa: E402

from clustering.config import load_config  # noqa: E402
from clustering.demo import store_demo  # noqa: E402

PYCARET_FLOW = """
import sys, warnings
warnings.filterwarnings("ignore")
import pandas as pd
from pycaret.clustering import assign_model, create_model, pull, setup
data = pd.read_csv(sys.argv[1])
ids = data.pop("store_id")
setup(data, normalize=True, session_id=42, verbose=False)
best, best_score = None, float("-inf")
for k in range(2, 11):
    model = create_model("kmeans", num_clusters=k, verbose=False)
    score = float(pull()["Silhouette"].iloc[0])
    if score > best_score:
        best, best_score = model, score
labels = assign_model(best)["Cluster"]
pd.DataFrame({"store_id": ids, "segment": labels}).to_csv(sys.argv[2], index=False)
"""


def timed(command: list[str], folder: Path) -> float:
    """Seconds of a whole process, run in ``folder`` (PyCaret writes its logs.log there)."""
    started = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run(
        command, check=True, cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    return time.perf_counter() - started


def ours(folder: Path, data: Path) -> tuple[float, Path]:
    preset = load_config("store")
    preset.datasets = {"internal": preset.datasets["internal"].model_copy(update={"path": str(data)})}
    preset.tracking.enabled = False
    config = folder / "one_dataset.yml"
    config.write_text(preset.to_yaml())
    output = folder / "ours.parquet"
    command = [sys.executable, "-m", "clustering", "run", "--config", str(config), "--output", str(output)]
    return timed(command, folder), output


def theirs(python: str, data: Path, folder: Path) -> tuple[float, Path]:
    output = folder / "pycaret.csv"
    return timed([python, "-c", PYCARET_FLOW, str(data), str(output)], folder), output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 20_000, 100_000])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--pycaret-python", default=os.environ.get("PYCARET_PYTHON"))
    args = parser.parse_args()
    python = args.pycaret_python
    if not python or not Path(python).exists():
        print("skipped: PyCaret is not installed (see this file's docstring for its own venv).")
        return
    floor = measure_floor()
    print(f"floor (benchmarks/floor.py): {floor:.2f} s", flush=True)
    rows = []
    for size in args.sizes:
        folder = Path(tempfile.mkdtemp(prefix="bench-peer-"))
        sheets = store_demo(size, seed=1)
        data = folder / "internal.csv"
        sheets["internal"].to_csv(data, index=False)
        truth = sheets["truth"].set_index("store_id")["true_internal"]
        times: dict[str, list[float]] = {"ours": [], "pycaret": []}
        for _ in range(args.repeats):  # interleaved, so a noisy moment hits both sides
            seconds, our_output = ours(folder, data)
            times["ours"].append(seconds)
            seconds, their_output = theirs(python, data, folder)
            times["pycaret"].append(seconds)
        our_labels = pd.read_parquet(our_output).set_index("store_id")["final_cluster"]
        their_labels = pd.read_csv(their_output).set_index("store_id")["segment"]
        ours_s, theirs_s = (statistics.median(times[side]) for side in ("ours", "pycaret"))
        rows.append(
            {
                "rows": size,
                "PyCaret s": round(theirs_s, 1),
                "this project s": round(ours_s, 1),
                "ratio": round(theirs_s / ours_s, 1),
                "PyCaret x floor": round(theirs_s / floor, 1),
                "this project x floor": round(ours_s / floor, 1),
                "PyCaret ARI": round(adjusted_rand_score(truth[their_labels.index], their_labels), 2),
                "this project ARI": round(adjusted_rand_score(truth[our_labels.index], our_labels), 2),
            }
        )
        print(rows[-1], flush=True)
    print(f"\nwhole process, median of {args.repeats} interleaved run(s)")
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
