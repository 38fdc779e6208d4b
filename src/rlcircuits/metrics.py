"""The paper's circuit metrics (DESIGN §4), vectorised over per-sample score matrices.

Input everywhere: ``scores`` [N, n_src, n_dst] (one EAP matrix per sample) and ``edge_mask``
[n_src, n_dst] (real edges). Only real edges enter a metric unless the options say to count
structural zeros. Choices the paper left open are :class:`MetricOptions` with DESIGN's defaults.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from rlcircuits.options import KURTOSIS_OF, KurtosisOf


@dataclass(frozen=True)
class MetricOptions:
    """Open choices of the paper, with DESIGN §4's defaults; the report prints them."""

    bins: int = 100  # histogram bins for information complexity
    kurtosis_of: KurtosisOf = "signed"  # "signed" W or "abs" |W|
    structural_zeros: bool = False  # count non-edges as zero-valued edges

    def __post_init__(self) -> None:
        if self.bins < 2:
            raise ValueError("bins must be at least 2")
        if self.kurtosis_of not in KURTOSIS_OF:
            raise ValueError("kurtosis_of must be 'signed' or 'abs'")

    def as_dict(self) -> dict:
        return asdict(self)


def edge_values(scores: np.ndarray, edge_mask: np.ndarray, options: MetricOptions = MetricOptions()) -> np.ndarray:
    """[N, E] float64: each sample's scores on the edges the metrics use."""
    if scores.ndim != 3 or scores.shape[1:] != edge_mask.shape:
        raise ValueError(f"scores {scores.shape} do not match the edge mask {edge_mask.shape}")
    if options.structural_zeros:
        return np.where(edge_mask, scores, 0.0).reshape(len(scores), -1).astype(np.float64)
    return scores[:, edge_mask].astype(np.float64)


def intensity_per_sample(values: np.ndarray) -> np.ndarray:
    """Mean |W| of each sample; the model's activation intensity is their mean."""
    return np.abs(values).mean(axis=1)


def kurtosis_per_sample(values: np.ndarray, options: MetricOptions = MetricOptions()) -> np.ndarray:
    """Fisher excess kurtosis of each sample's edge scores (signed by default)."""
    data = np.abs(values) if options.kurtosis_of == "abs" else values
    return stats.kurtosis(data, axis=1, fisher=True, bias=True)


def information_complexity(values: np.ndarray, options: MetricOptions = MetricOptions(), weights: np.ndarray | None = None) -> float:
    """Entropy (nats) of the histogram of pooled |W| over [0, max]: the shape, not the scale.

    ``weights`` [N] counts each sample (a bootstrap resample); samples with weight 0 are out.
    """
    magnitudes = np.abs(values)
    sample_weights = np.ones(len(values)) if weights is None else np.asarray(weights, dtype=np.float64)
    top = magnitudes[sample_weights > 0].max()
    if top == 0:
        return 0.0
    counts, _ = np.histogram(
        magnitudes, bins=options.bins, range=(0.0, top), weights=np.repeat(sample_weights, values.shape[1]).reshape(values.shape)
    )
    return _entropy(counts)


def _entropy(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def correlation_matrix(values: np.ndarray) -> np.ndarray:
    """[N, N] Pearson correlations between the samples' |W| vectors."""
    magnitudes = np.abs(values)
    centred = magnitudes - magnitudes.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(centred, axis=1)
    flat = np.flatnonzero(norms == 0)
    if flat.size:
        raise ValueError(f"sample {flat[0]} has identical |W| on every edge; its correlation is undefined")
    unit = centred / norms[:, None]
    return unit @ unit.T


def diversity(correlations: np.ndarray, weights: np.ndarray | None = None) -> float:
    """1 - mean Pearson correlation over pairs of distinct samples (weighted for resamples).

    With bootstrap ``weights`` (copies of each sample), pairs of copies of one sample are not
    counted: they would add correlations of exactly 1 that no two questions have.
    """
    n = len(correlations)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    off = correlations - np.diag(np.diag(correlations))
    pairs = w.sum() ** 2 - (w**2).sum()
    if pairs <= 0:
        raise ValueError("diversity needs at least two distinct samples")
    return float(1.0 - (w @ off @ w) / pairs)


def output_edge_entropy(scores: np.ndarray, edge_mask: np.ndarray) -> np.ndarray:
    """[n_src] entropy of each source's mean |W| over its out-edges, normalised to sum 1."""
    mean_abs = np.abs(scores).mean(axis=0)
    result = np.zeros(edge_mask.shape[0])
    for source, edges in enumerate(edge_mask):
        result[source] = _entropy(mean_abs[source, edges])
    return result


def relative_edge_change(base: np.ndarray, rl: np.ndarray, edge_mask: np.ndarray) -> np.ndarray:
    """[n_src, n_dst] (mean|W_rl| - mean|W_base|) / mean|W_base| on real edges, NaN elsewhere."""
    base_mean = np.abs(base).mean(axis=0)
    rl_mean = np.abs(rl).mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        change = (rl_mean - base_mean) / base_mean
    return np.where(edge_mask, change, np.nan)
