# Shared names, paths and helpers of every rule. Rules hold no logic: each calls one script.
import os
import re
import shlex
import sys

# The library's own definitions (torch-free modules only: this runs at parse time, on the host).
sys.path.insert(0, f"{workflow.basedir}/src")
from rlcircuits.contracts import ROLES
from rlcircuits.files import is_local_path

RUN = config["run_name"]
OUT = f"results/{RUN}"
LOGS = f"logs/{RUN}"
BENCH = f"benchmarks/{RUN}"
PAIRS = list(config["pairs"])
DATASETS = list(config["datasets"])
ALPHAS = [str(alpha) for alpha in config["alphas"]]
GPU = 1 if config["device"] == "cuda" else 0
for _pair, _spec in config["pairs"].items():
    if "ablation_of" in _spec and _spec["ablation_of"] not in set(PAIRS) - {_pair}:
        raise ValueError(
            f"config pairs.{_pair}.ablation_of: {_spec['ablation_of']!r} is not another pair"
            f" ({', '.join(PAIRS)})"
        )
# pair=algorithm labels of Table 1 (shell-quoted where used: "online DPO" has a space).
ALGORITHM_LABELS = [
    f"{pair}={spec['algorithm']}" for pair, spec in config["pairs"].items()
]


def _choice(names):
    return "|".join(re.escape(name) for name in names)


wildcard_constraints:
    pair=_choice(PAIRS),
    dataset=_choice(DATASETS),
    alpha=_choice(ALPHAS),
    role=_choice(ROLES),


def model_spec(wildcards):
    """The configured model (Hub id or local folder) of a pair's role."""
    return config["pairs"][wildcards.pair][wildcards.role]


def model_path(pair, role):
    """Where a model's files live: a fetched Hub snapshot, or the configured local folder."""
    model = config["pairs"][pair][role]["model"]
    if is_local_path(model):
        return model
    return f"models/{pair}/{role}"


def model_dir(wildcards):
    return model_path(wildcards.pair, wildcards.role)


def dataset_file(wildcards):
    """A local dataset's file (an input of the jobs that read it); none for the Hub."""
    spec = config["datasets"][wildcards.dataset]
    return [spec["path"]] if spec["source"] == "local" else []


def dataset_args(wildcards):
    """The data-source flags of generate.py for a dataset."""
    spec = config["datasets"][wildcards.dataset]
    args = f"--dataset {wildcards.dataset} --data-source {spec['source']}"
    if spec["source"] == "local":
        args += f" --data-path {spec['path']}"
    if "format" in spec:
        args += f" --data-format {spec['format']}"
    if "limit" in spec:
        args += f" --limit {spec['limit']}"
    return args


def halved(value):
    """Attempt-aware back-off: a job retried after running out of memory asks for half as much."""
    return lambda wildcards, attempt: max(value // 2 ** (attempt - 1), 1)


def grown_mem_mb(base_mb):
    return lambda wildcards, attempt: base_mb * attempt
