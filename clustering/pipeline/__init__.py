"""One run, stage by stage: validate and prepare, cluster, combine, describe, check
stability. The stages are declared once (``stages.STAGES``); ``run`` executes them, and the
app's caches, the CLI's stage commands and Dagster's assets are derived from the declaration. The results are the dataclasses of ``clustering.results``; finding the
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
from clustering.pipeline.result import assemble_result
from clustering.pipeline.run import execute, run
from clustering.pipeline.stability import (
    assess_stability,
    check_stability,
    refit_function,
    stability_findings,
)
from clustering.pipeline.stages import STAGES, Stage, stage_keys

__all__ = [
    "STAGES",
    "Stage",
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
    "execute",
    "explain_segments",
    "final_model",
    "one_feature_segments",
    "prepare_dataset",
    "refit_function",
    "run",
    "stability_findings",
    "stage_keys",
    "validate_tables",
    "with_segment_names",
]
