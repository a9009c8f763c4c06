"""The quick engine profile: for tests that check what a run writes, keeps or refuses, not how
k is chosen or how stable the segments are. Named where it is used (``quick(config)``), so a
test that checks the defaults keeps running them.

What it changes, per dataset: k from 2 to 6 (the default 2 to 12), 3 starts of the final fit
(20) and 1 of each k's sweep fit (3), no gap statistic (10 reference sets), 2 refits per k in
the stable-k check (10), 2 starts per stability refit (10); for the run, 3 bootstrap refits in the stability report (20). On the
2,000 demo stores a run takes about a third of the default's time.
"""

from __future__ import annotations

from pathlib import Path

from clustering.config import RunConfig, load_config

QUICK_CLUSTER = {
    "k_max": 6,
    "n_init": 3,
    "sweep_n_init": 1,
    "gap_references": 0,
    "stable_resamples": 2,
    "stable_starts": 2,
}
QUICK_STABILITY_RESAMPLES = 3


def quick(config: RunConfig) -> RunConfig:
    """A copy of ``config`` with the quick profile on every dataset (a fixed k stays fixed)."""
    fast = config.model_copy(deep=True)
    for dataset in fast.datasets.values():
        for key, value in QUICK_CLUSTER.items():
            setattr(dataset.cluster, key, value)
        dataset.cluster.k_min = min(dataset.cluster.k_min, QUICK_CLUSTER["k_max"])
        if dataset.cluster.selection == "gap":
            dataset.cluster.selection = "auto"
    fast.stability.resamples = min(fast.stability.resamples, QUICK_STABILITY_RESAMPLES)
    return fast


def quick_preset(preset: str = "store") -> RunConfig:
    """A preset (``store`` or ``dfu``) with the quick profile."""
    return quick(load_config(preset))


def quick_config_file(folder: Path, preset: str = "store") -> Path:
    """The quick preset as a YAML file in ``folder``, for the CLI's --config."""
    path = folder / f"quick-{preset}.yml"
    path.write_text(quick_preset(preset).to_yaml(), encoding="utf-8")
    return path
