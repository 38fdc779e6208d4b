# Shared names, paths and helpers of every rule. Rules hold no logic: each calls one script.
import os
import re
import shlex
import sys

# The library's own definitions (torch-free modules only: this runs at parse time, on the host).
sys.path.insert(0, f"{workflow.basedir}/src")
from rlcircuits.contracts import ROLES
from rlcircuits.model_names import configured_models, model_of

RUN = config["run_name"]
OUT = f"results/{RUN}"
LOGS = f"logs/{RUN}"
BENCH = f"benchmarks/{RUN}"
PAIRS = list(config["pairs"])
DATASETS = list(config["datasets"])
ALPHAS = [str(alpha) for alpha in config["alphas"]]
# Distinct models by name ({model} of generations/ and graded/): one per local folder or Hub id
# + revision, however many pairs share it.
MODELS = configured_models(config["pairs"])
MODEL_OF = model_of(config["pairs"])
GPU = 1 if config["device"] == "cuda" else 0
# The config file the run was started with (the report and the study read it whole).
CONFIG_FILE = workflow.configfiles[-1] if workflow.configfiles else "config/paper.yaml"
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
    model=_choice(MODELS),
    pair=_choice(PAIRS),
    dataset=_choice(DATASETS),
    alpha=_choice(ALPHAS),
    role=_choice(ROLES),


def model_path(name):
    """Where a model's files live: the configured local folder, or its fetched Hub snapshot."""
    model = MODELS[name]
    return model.model if model.local else f"models/{name}"


def pair_model_path(pair, role):
    return model_path(MODEL_OF[pair, role])


def graded_file(pair, role, dataset):
    """A pair's role reads its model's graded answers (graded once per model, DESIGN §3)."""
    return f"{OUT}/graded/{MODEL_OF[pair, role]}/{dataset}.jsonl"


# The local datasets' files (inputs of the generate jobs, which read every dataset).
DATA_FILES = [
    spec["path"] for spec in config["datasets"].values() if spec["source"] == "local"
]


def dataset_args(outputs):
    """generate.py's flags for every dataset, each followed by its output file."""
    args = []
    for (name, spec), out in zip(config["datasets"].items(), outputs, strict=True):
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
