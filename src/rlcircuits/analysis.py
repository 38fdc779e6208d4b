"""One Table 1 cell: every metric of base and RL on the same questions, with paired tests.

Reads the two attribution files of a pair x dataset x alpha and returns the record written to
``metrics/{pair}/{dataset}/alpha{alpha}.json`` (DESIGN §3).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rlcircuits.contracts import AttributionFile
from rlcircuits.errors import InputFormatError
from rlcircuits.metrics import (
    MetricOptions,
    correlation_matrix,
    diversity,
    edge_values,
    information_complexity,
    intensity_per_sample,
    kurtosis_per_sample,
    output_edge_entropy,
    relative_edge_change,
)
from rlcircuits.stats import bootstrap_paired, wilcoxon_paired

# The paper's claims for online RL: which way each metric moves from base to RL.
EXPECTED_DIRECTION = {"intensity": 1, "complexity": 1, "kurtosis": -1, "diversity": 1}


def _check_pair(base: AttributionFile, rl: AttributionFile, label: str) -> None:
    """Base and RL must be scored on the same questions, in the same order, on the same graph."""
    for key in ("sample_ids", "src_names", "dst_names", "edge_mask"):
        if not np.array_equal(getattr(base, key), getattr(rl, key)):
            raise InputFormatError(f"{label}: base and RL attribution files differ in {key}")


def analyze_cell(
    base: AttributionFile,
    rl: AttributionFile,
    *,
    label: str,
    options: MetricOptions = MetricOptions(),
    resamples: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Metrics, paired comparisons and per-sample arrays for one cell (``label`` for messages)."""
    _check_pair(base, rl, label)
    mask = base.edge_mask
    values = {"base": edge_values(base.scores, mask, options), "rl": edge_values(rl.scores, mask, options)}
    if len(values["base"]) < 2:
        raise InputFormatError(f"{label}: at least two samples are needed for the paired statistics")
    intensity = {role: intensity_per_sample(v) for role, v in values.items()}
    kurtosis = {role: kurtosis_per_sample(v, options) for role, v in values.items()}
    correlations = {role: correlation_matrix(v) for role, v in values.items()}
    comparisons = {
        "intensity": wilcoxon_paired(intensity["base"], intensity["rl"], seed=seed),
        "kurtosis": wilcoxon_paired(kurtosis["base"], kurtosis["rl"], seed=seed),
        "complexity": bootstrap_paired(
            lambda w: (information_complexity(values["base"], options, w), information_complexity(values["rl"], options, w)),
            len(intensity["base"]), resamples=resamples, seed=seed,
        ),
        "diversity": bootstrap_paired(
            lambda w: (diversity(correlations["base"], w), diversity(correlations["rl"], w)),
            len(intensity["base"]), resamples=resamples, seed=seed,
        ),
    }
    change = relative_edge_change(base.scores, rl.scores, mask)
    return {
        "options": options.as_dict(),
        "resamples": resamples,
        "seed": seed,
        "n_samples": len(intensity["base"]),
        "sample_ids": base.sample_ids.tolist(),
        "t_cut": int(base.t_cut),
        "src_names": base.src_names.tolist(),
        "dst_names": base.dst_names.tolist(),
        "metrics": {name: comparison.as_dict() for name, comparison in comparisons.items()},
        "per_sample": {
            "intensity": {role: v.tolist() for role, v in intensity.items()},
            "kurtosis": {role: v.tolist() for role, v in kurtosis.items()},
            "loss": {"base": base.losses.tolist(), "rl": rl.losses.tolist()},
        },
        "output_edge_entropy": {
            "base": output_edge_entropy(base.scores, mask).tolist(),
            "rl": output_edge_entropy(rl.scores, mask).tolist(),
        },
        "relative_edge_change": [[None if np.isnan(x) else float(x) for x in row] for row in change],
    }
