"""``run``: the declared stages (``pipeline.stages``) executed in an order that keeps both
cores busy, for the CLI, the integrations and the tests.

The schedule is derived from what the stages read: first the run-level stages that need no
dataset (the check of the inputs); then each dataset's chain of per-dataset stages, the
datasets side by side (in worker processes when the tables are large, else threads); then
the remaining run-level stages in independent branches side by side (the merge and its
explanation beside the stability check); last the stages that join branches (the result).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import Any

import pandas as pd

from clustering.config import RunConfig
from clustering.explain.labels import PreviousRun
from clustering.model.threads import in_parallel, in_processes, worth_processes
from clustering.pipeline.stages import Node, Stage, call, declaration, nodes, upstream
from clustering.results import RunResult


def run(config: RunConfig, sheets: dict[str, pd.DataFrame], previous: PreviousRun | None = None) -> RunResult:
    """Validate, prepare, cluster, merge, explain, name and check the stability of the segments.

    ``sheets`` holds the input tables by sheet name (see ``load_tables``); others are ignored.
    ``previous`` (the last run's assignments and analyst names) keeps names on the same
    entities across reruns.
    """
    values = execute(config, {"sheets": sheets, "previous": previous}, wanted=["result"])
    return values[("result", None)]


def execute(
    config: RunConfig,
    inputs: dict[str, Any],
    wanted: Iterable[str] | None = None,
    known: dict[Node, Any] | None = None,
    stages: tuple[Stage, ...] | None = None,
) -> dict[Node, Any]:
    """The values of the ``wanted`` stages (default: all) and of everything they read, by
    (stage, dataset); ``known`` values (an earlier command's files) are used, not recomputed."""
    stages = declaration(stages)
    values = dict(known or {})
    todo = _needed(config, stages, set(wanted or [s.name for s in stages]), values)
    cells = sum(frame.size for frame in (inputs.get("sheets") or {}).values())
    side_by_side = in_processes if worth_processes(cells) else in_parallel
    per_dataset = [s for s in stages if s.per_dataset and s.name in todo]
    before = [s for s in stages if not s.per_dataset and s.name in todo and not _after_datasets(s, stages)]
    after = [s for s in stages if not s.per_dataset and s.name in todo and _after_datasets(s, stages)]
    for declared in before:
        _call_unless_known(declared, config, values, inputs)
    if per_dataset:
        chains = {d: _task(per_dataset, config, d, values, inputs, stages) for d in config.datasets}
        for d, done in side_by_side(chains).items():
            values |= {(name, d): value for name, value in done.items()}
    branches, joins = _branches(after)
    if branches:
        tasks = {branch[0].name: _task(branch, config, None, values, inputs, stages) for branch in branches}
        for done in side_by_side(tasks).values():
            values |= {(name, None): value for name, value in done.items()}
    for declared in joins:
        _call_unless_known(declared, config, values, inputs)
    return values


def _needed(
    config: RunConfig, stages: tuple[Stage, ...], wanted: set[str], known: dict[Node, Any]
) -> set[str]:
    """The stages to compute: the wanted ones and what they read, less what is known."""
    needed, frontier = set(), [node for node in nodes(config, stages) if node[0] in wanted]
    while frontier:
        node = frontier.pop()
        if node[0] in needed or node in known:
            continue
        needed.add(node[0])
        frontier += upstream(node, config, stages)
    return needed


def _after_datasets(declared: Stage, stages: tuple[Stage, ...]) -> bool:
    """Whether a run-level stage reads a per-dataset stage, directly or through another."""
    by_name = {s.name: s for s in stages}
    reads = [by_name[r] for r in declared.reads if r in by_name]
    return any(r.per_dataset or _after_datasets(r, stages) for r in reads)


def _branches(after: list[Stage]) -> tuple[list[list[Stage]], list[Stage]]:
    """The run-level stages after the datasets' as independent branches (a stage joins the
    branch of the one stage it reads among them, or starts its own), and the stages that
    read two branches or more (or a stage that does), run last in order."""
    branch_of: dict[str, int] = {}
    branches: list[list[Stage]] = []
    joins: list[Stage] = []
    for declared in after:
        reached = {branch_of[r] for r in declared.reads if r in branch_of}
        if len(reached) > 1 or any(r in {j.name for j in joins} for r in declared.reads):
            joins.append(declared)
            continue
        index = reached.pop() if reached else len(branches)
        if index == len(branches):
            branches.append([])
        branches[index].append(declared)
        branch_of[declared.name] = index
    return branches, joins


def _call_unless_known(
    declared: Stage, config: RunConfig, values: dict[Node, Any], inputs: dict[str, Any]
) -> None:
    if (declared.name, None) not in values:
        values[(declared.name, None)] = call(declared, config, None, values, inputs)


def _task(
    chain: list[Stage],
    config: RunConfig,
    dataset: str | None,
    values: dict[Node, Any],
    inputs: dict[str, Any],
    stages: tuple[Stage, ...],
) -> partial:
    """One chain as a task carrying only what it reads from outside (a worker process is sent
    nothing more) and its own known values."""
    inside = {s.name for s in chain}
    heads = [(s.name, d) for s in chain for d in ([dataset] if s.per_dataset else [None])]
    read = {n for node in heads for n in upstream(node, config, stages) if n[0] not in inside}
    mine = {n: v for n, v in values.items() if n in read or n in heads}
    used = {r for s in chain for r in s.reads}
    return partial(_chain, chain, config, dataset, mine, {k: v for k, v in inputs.items() if k in used})


def _chain(
    chain: list[Stage],
    config: RunConfig,
    dataset: str | None,
    values: dict[Node, Any],
    inputs: dict[str, Any],
) -> dict[str, Any]:
    """Stages one after the other (one dataset's, or one branch), each reading the ones before."""
    values, done = dict(values), {}
    for declared in chain:
        if (declared.name, dataset) in values:
            done[declared.name] = values[(declared.name, dataset)]
            continue
        done[declared.name] = values[(declared.name, dataset)] = call(
            declared, config, dataset, values, inputs
        )
    return done
