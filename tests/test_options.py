"""Named option sets: one Literal each, the same values in the config schema, the CLIs and the runtime checks."""

from pathlib import Path

import numpy as np
import pytest
import yaml

from rlcircuits import options
from rlcircuits.datasets import DATASETS, load_questions
from rlcircuits.eap import build_graph
from rlcircuits.generation.backends import resolve_backend
from rlcircuits.metrics import MetricOptions, edge_values
from rlcircuits.models import DTYPES, resolve_dtype

SCHEMA = yaml.safe_load((Path(__file__).parents[1] / "schemas" / "config.schema.yaml").read_text(encoding="utf-8"))


def _enum(*path: str) -> tuple[str, ...]:
    node = SCHEMA
    for key in path:
        node = node[key]
    return tuple(node["enum"])


@pytest.mark.parametrize(
    ("path", "values"),
    [
        (("properties", "device"), options.DEVICES),
        (("properties", "datasets", "additionalProperties", "properties", "source"), options.DATA_SOURCES),
        (("properties", "datasets", "additionalProperties", "properties", "format"), options.DATA_FORMATS),
        (("properties", "generation", "properties", "backend"), options.BACKEND_NAMES),
        (("properties", "attribution", "properties", "layout"), options.LAYOUTS),
        (("properties", "attribution", "properties", "method"), options.METHODS),
        (("properties", "attribution", "properties", "ig_baseline"), options.IG_BASELINES),
        (("properties", "attribution", "properties", "loss"), options.LOSS_TEXTS),
        (("properties", "attribution", "properties", "granularity"), options.GRANULARITIES),
        (("properties", "metrics", "properties", "kurtosis_of"), options.KURTOSIS_OF),
        (
            ("properties", "zoo", "properties", "sft", "additionalProperties", "properties", "architecture"),
            options.ARCHITECTURES,
        ),
        (
            ("properties", "zoo", "properties", "rl", "additionalProperties", "properties", "algorithm"),
            options.ALGORITHMS,
        ),
        (("$defs", "hub_rl_settings", "properties", "reward"), options.REWARDS),
        (("$defs", "hub_rl_settings", "properties", "optimizer"), options.OPTIMIZERS),
        (("$defs", "hub_rl_settings", "properties", "loss_type"), options.GRPO_LOSSES),
        (("properties", "hub_rl", "properties", "train", "properties", "source"), options.DATA_SOURCES),
    ],
)
def test_the_schema_offers_exactly_the_named_options(path, values):
    assert sorted(_enum(*path)) == sorted(values)


@pytest.mark.parametrize("stage", ["generation", "attribution"])
def test_the_schema_dtypes_are_model_dtypes(stage):
    """A stage's config offers a subset (no float16 attribution, no float64 generation); the CLIs take all."""
    assert set(_enum("properties", stage, "properties", "dtype")) < set(options.DTYPE_NAMES)


def test_the_runtime_tables_cover_their_option_set():
    assert tuple(DTYPES) == options.DTYPE_NAMES
    assert (*DATASETS, "qa") == options.DATA_FORMATS


@pytest.mark.parametrize(
    ("check", "message"),
    [
        (lambda: build_graph(2, "heads"), "unknown layout 'heads'; choose one of paper, module"),
        (lambda: MetricOptions(kurtosis_of="both"), "unknown kurtosis_of 'both'; choose one of signed, abs"),
        (
            lambda: edge_values(np.zeros((1, 2, 2)), np.eye(2, dtype=bool), "mine"),
            "unknown convention 'mine'; choose one of ours, paper",
        ),
        (lambda: resolve_backend("tgi", "cpu"), "unknown backend 'tgi'; choose one of auto, vllm, transformers"),
        (lambda: resolve_dtype("float8"), "unknown dtype 'float8'; choose one of float32, bfloat16, float16, float64"),
        (lambda: load_questions("gsm8k", source="ftp"), "unknown data source 'ftp'; choose one of local, hub"),
    ],
)
def test_runtime_checks_refuse_values_outside_the_set(check, message):
    with pytest.raises(ValueError, match=message):
        check()
