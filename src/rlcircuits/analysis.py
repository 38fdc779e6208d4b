"""One Table 1 cell: every metric of base and RL on the same questions, under both conventions.

Reads the two attribution files of a pair x dataset x alpha and returns the record written to
``metrics/{pair}/{dataset}/alpha{alpha}.json`` (docs/DESIGN.md §3). The default convention (``ours``)
carries the paired tests (rlcircuits.stats); the ``paper`` convention carries the values in the
paper's normalisation, to set beside its published numbers (rlcircuits.metrics).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rlcircuits.contracts import AttributionFile
from rlcircuits.errors import InputFormatError
from rlcircuits.metrics import (
    DegenerateSample,
    MetricOptions,
    complexity_per_sample,
    correlation_matrix,
    diversity,
    edge_values,
    intensity_per_sample,
    kurtosis_per_sample,
    output_edge_entropy,
    pooled_complexity,
    relative_edge_change,
    scale_free_intensity_per_sample,
)
from rlcircuits.stats import ResampleSettings, paired_diversity, paired_mean
from rlcircuits.vocabulary import EXPECTED_DIRECTION

PER_SAMPLE = ("intensity", "scale_free_intensity", "complexity", "kurtosis")


def _check_pair(base: AttributionFile, rl: AttributionFile, label: str) -> None:
    """Base and RL must be scored on the same questions, in the same order, on the same graph."""
    for key in ("sample_ids", "src_names", "dst_names", "edge_mask"):
        if not np.array_equal(getattr(base, key), getattr(rl, key)):
            raise InputFormatError(f"{label}: base and RL attribution files differ in {key}")
    # Both graphs must come from one attribution variant (the robustness audit's variants sit side by side).
    for key in ("method", "granularity", "loss", "ig_steps", "ig_baseline", "layout"):
        if getattr(base, key) != getattr(rl, key):
            raise InputFormatError(
                f"{label}: base and RL attribution files differ in {key} ({getattr(base, key)} vs {getattr(rl, key)})"
            )


def _per_sample(values: np.ndarray, options: MetricOptions, ids: np.ndarray, where: str) -> dict[str, np.ndarray]:
    """Intensity (raw and scale-free), robust complexity and kurtosis of each sample; a degenerate sample is named."""
    try:
        kurtosis = kurtosis_per_sample(values, options)
        correlation_matrix(values)  # diversity needs every sample to vary too
    except DegenerateSample as exc:
        raise InputFormatError(f"{where}: sample {ids[exc.index]!s} {exc.reason}") from None
    return {
        "intensity": intensity_per_sample(values),
        "scale_free_intensity": scale_free_intensity_per_sample(values),
        "complexity": complexity_per_sample(values, options),
        "kurtosis": kurtosis,
    }


def paper_convention(
    base_scores: np.ndarray,
    rl_scores: np.ndarray,
    mask: np.ndarray,
    options: MetricOptions,
    ids: np.ndarray,
    label: str,
) -> dict[str, dict[str, float]]:
    """Base and RL values in the paper's normalisation (full matrices, pooled [min, max] histogram)."""
    result: dict[str, dict[str, float]] = {name: {} for name in EXPECTED_DIRECTION}
    for role, scores in (("base", base_scores), ("rl", rl_scores)):
        values = edge_values(scores, mask, "paper")
        per_sample = _per_sample(values, options, ids, f"{label} ({role}, paper convention)")
        for name in ("intensity", "scale_free_intensity"):
            result[name][role] = float(per_sample[name].mean())
        result["kurtosis"][role] = float(per_sample["kurtosis"].mean())
        result["complexity"][role] = pooled_complexity(values, options)
        result["diversity"][role] = diversity(correlation_matrix(values))
    return result


def analyze_cell(
    base: AttributionFile,
    rl: AttributionFile,
    *,
    label: str,
    options: MetricOptions = MetricOptions(),
    resamples: int = ResampleSettings.resamples,
    seed: int = ResampleSettings.seed,
) -> dict[str, Any]:
    """Metrics of both conventions, paired comparisons and per-sample arrays for one cell."""
    _check_pair(base, rl, label)
    mask, ids = base.edge_mask, base.sample_ids
    if len(ids) < 2:
        raise InputFormatError(f"{label}: at least two samples are needed for the paired statistics")
    values = {role: edge_values(record.scores, mask) for role, record in (("base", base), ("rl", rl))}
    per_sample = {role: _per_sample(v, options, ids, f"{label} ({role})") for role, v in values.items()}
    n = len(ids)
    comparisons = {
        name: paired_mean(per_sample["base"][name], per_sample["rl"][name], resamples=resamples, seed=seed)
        for name in PER_SAMPLE
    }
    pooled = correlation_matrix(np.concatenate([values["base"], values["rl"]]))
    comparisons["diversity"] = paired_diversity(pooled, resamples=resamples, seed=seed)
    paper = paper_convention(base.scores, rl.scores, mask, options, ids, label)
    change = relative_edge_change(base.scores, rl.scores, mask)
    return {
        "options": options.as_dict(),
        "resamples": resamples,
        "seed": seed,
        "n_samples": n,
        "sample_ids": ids.tolist(),
        "t_cut": int(base.t_cut),
        "src_names": base.src_names.tolist(),
        "dst_names": base.dst_names.tolist(),
        "metrics": {name: {**comparison.as_dict(), "paper": paper[name]} for name, comparison in comparisons.items()},
        "per_sample": {
            **{name: {role: v[name].tolist() for role, v in per_sample.items()} for name in PER_SAMPLE},
            "loss": {"base": base.losses.tolist(), "rl": rl.losses.tolist()},
        },
        "output_edge_entropy": {
            role: _nullable(output_edge_entropy(record.scores, mask)) for role, record in (("base", base), ("rl", rl))
        },
        "relative_edge_change": [_nullable(row) for row in change],
        "undefined_edge_changes": int((mask & np.isnan(change)).sum()),
    }


def _nullable(values: np.ndarray) -> list[float | None]:
    """JSON-safe floats: NaN (undefined) becomes null."""
    return [None if np.isnan(x) else float(x) for x in values]
