"""One run, stage by stage: validate and prepare, cluster, combine, describe, check
stability; ``run`` chains them for the CLI. Each stage is a function the app can call on its
own (and cache). The results are the dataclasses of ``clustering.results``; finding the
input tables is ``clustering.io.inputs``. This module only re-exports.
"""

from clustering.pipeline.cluster import cluster_dataset, cluster_warnings, dataset_metrics, final_model
from clustering.pipeline.combine import combine_segments
from clustering.pipeline.describe import explain_segments, one_feature_segments, with_segment_names
from clustering.pipeline.prepare import (
    check_preparation,
    check_sheets,
    dataset_tables,
    prepare_dataset,
    validate_tables,
)
from clustering.pipeline.run import assemble_result, run
from clustering.pipeline.stability import (
    assess_stability,
    check_stability,
    refit_function,
    stability_findings,
)

__all__ = [
    "assemble_result",
    "assess_stability",
    "check_preparation",
    "check_sheets",
    "check_stability",
    "cluster_dataset",
    "cluster_warnings",
    "combine_segments",
    "dataset_metrics",
    "dataset_tables",
    "explain_segments",
    "final_model",
    "one_feature_segments",
    "prepare_dataset",
    "refit_function",
    "run",
    "stability_findings",
    "validate_tables",
    "with_segment_names",
]
