# Shared names and Snakemake helpers of every rule. Rules hold no logic: each calls one script, and
# takes its paths and grid from the run plan (src/rlcircuits/run_plan.py, docs/DESIGN.md §2).
import os
import re
import shlex

from rlcircuits.contracts import ROLES
from rlcircuits.run_plan import (
    FIGURES,
    ZOO_TASKS,
    RunPlan,
    effective_config_text,
    training_priority,
    write_run_config,
)

PLAN = RunPlan.from_config(config)
OUT = PLAN.out
LOGS = PLAN.logs
BENCH = PLAN.benchmarks
GPU = 1 if config["device"] == "cuda" else 0


def _choice(names):
    return "|".join(re.escape(name) for name in names)


wildcard_constraints:
    model=_choice(PLAN.models),
    pair=_choice(PLAN.pairs),
    dataset=_choice(PLAN.datasets),
    alpha=_choice(PLAN.alphas),
    role=_choice(ROLES),


# The local datasets' files (inputs of the generate jobs, which read every dataset).
DATA_FILES = [
    spec["path"] for spec in config["datasets"].values() if spec["source"] == "local"
]


def dataset_args(outputs, names=None):
    """generate.py's flags for every dataset (or those ``names``), each followed by its output file."""
    args = []
    chosen = config["datasets"] if names is None else names
    for name, out in zip(chosen, outputs, strict=True):
        spec = config["datasets"][name]
        args.append(f"--dataset {name} --data-source {spec['source']}")
        if spec["source"] == "local":
            args.append(f"--data-path {spec['path']}")
        if "format" in spec:
            args.append(f"--data-format {spec['format']}")
        if "limit" in spec:
            args.append(f"--limit {spec['limit']}")
        args.append(f"--out {out}")
    return " ".join(args)


def halved(value):
    """Attempt-aware back-off: a job retried after running out of memory asks for half as much."""
    return lambda wildcards, attempt: max(value // 2 ** (attempt - 1), 1)


def grown_mem_mb(base_mb):
    return lambda wildcards, attempt: base_mb * attempt
