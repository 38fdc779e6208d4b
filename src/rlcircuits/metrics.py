"""The paper's circuit metrics (docs/DESIGN.md §4) under two conventions, vectorised over per-sample matrices.

Input everywhere: ``scores`` [N, n_src, n_dst] (one EAP matrix per sample) and ``edge_mask``
[n_src, n_dst] (real edges).

Conventions (every cell carries both):

- ``ours`` (the default, the one tested): real edges only. Information complexity is computed
  *per sample* — the entropy of that sample's own |W| histogram over [0, its own max] — and
  averaged over samples. Why: the paper's pooled histogram lets one question's largest edge set
  every bin (under heavy-tailed nulls a paired bootstrap of it rejected 11-15% at p < 0.05, and
  leaving one question out flipped the sign in 10 of the demo's 30 cells). Per sample, each
  question is one paired observation, bounded by log(bins), so no single question moves the
  mean by more than log(bins)/N, and the statistic is still scale-free.
- ``paper``: the paper's normalisation, kept to compare with its published numbers: the full
  n_src x n_dst matrix with its structural zeros for every metric, and information complexity
  of one histogram of all samples' pooled |W| over its [min, max] range.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from rlcircuits.errors import SettingsError
from rlcircuits.options import CONVENTIONS, KURTOSIS_OF, Convention, KurtosisOf


class DegenerateSample(ValueError):
    """A sample on which a metric is undefined; ``index`` is its row, the caller names the file."""

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(f"sample {index} {reason}")
        self.index, self.reason = index, reason


@dataclass(frozen=True)
class MetricOptions:
    """Open choices of the paper, with docs/DESIGN.md §4's defaults; the report prints them."""

    bins: int = 100  # histogram bins for information complexity
    kurtosis_of: KurtosisOf = "signed"  # "signed" W or "abs" |W|

    def __post_init__(self) -> None:
        if self.bins < 2:
            raise SettingsError(f"metrics bins must be at least 2, got {self.bins}")
        if self.kurtosis_of not in KURTOSIS_OF:
            raise SettingsError(f"unknown kurtosis_of {self.kurtosis_of!r}; choose one of {', '.join(KURTOSIS_OF)}")

    def as_dict(self) -> dict:
        return asdict(self)


def edge_values(scores: np.ndarray, edge_mask: np.ndarray, convention: Convention = "ours") -> np.ndarray:
    """[N, E] float64: each sample's scores on the entries the convention uses."""
    if scores.ndim != 3 or scores.shape[1:] != edge_mask.shape:
        raise ValueError(f"scores {scores.shape} do not match the edge mask {edge_mask.shape}")
    if convention == "paper":
        return np.where(edge_mask, scores, 0.0).reshape(len(scores), -1).astype(np.float64)
    if convention != "ours":
        raise SettingsError(f"unknown convention {convention!r}; choose one of {', '.join(CONVENTIONS)}")
    return scores[:, edge_mask].astype(np.float64)


def intensity_per_sample(values: np.ndarray) -> np.ndarray:
    """Mean |W| of each sample; the model's activation intensity is their mean."""
    return np.abs(values).mean(axis=1)


def scale_free_intensity_per_sample(values: np.ndarray) -> np.ndarray:
    """Each sample's mean |W| over its root-mean-square W: intensity with the sample's own scale divided out.

    Multiplying a sample's scores by any c > 0 (a more confident model's smaller gradients, larger
    activations) leaves it unchanged; it lies in [1/sqrt(E), 1], 1 when every edge carries the
    same |W|, small when a few edges carry the sample. A sample that is zero everywhere has none:
    DegenerateSample.
    """
    rms = np.sqrt(np.mean(np.square(values), axis=1))
    flat = np.flatnonzero(rms == 0)
    if flat.size:
        raise DegenerateSample(int(flat[0]), "is zero on every edge; its scale-free intensity is undefined")
    return np.abs(values).mean(axis=1) / rms


def kurtosis_per_sample(values: np.ndarray, options: MetricOptions = MetricOptions()) -> np.ndarray:
    """Fisher excess kurtosis of each sample's edge scores (signed by default).

    A sample whose scores are all equal has no kurtosis: DegenerateSample (the caller names the
    file), never a NaN that would flow silently into Table 1.
    """
    data = np.abs(values) if options.kurtosis_of == "abs" else values
    flat = np.flatnonzero(np.ptp(data, axis=1) == 0)
    if flat.size:
        raise DegenerateSample(int(flat[0]), "has identical scores on every edge; its kurtosis is undefined")
    return stats.kurtosis(data, axis=1, fisher=True, bias=True)


def complexity_per_sample(values: np.ndarray, options: MetricOptions = MetricOptions()) -> np.ndarray:
    """Entropy (nats) of each sample's own |W| histogram, bins over [0, that sample's max] (``ours``).

    A sample with |W| = 0 everywhere puts all mass in one bin: entropy 0.
    """
    magnitudes = np.abs(values)
    top = magnitudes.max(axis=1, keepdims=True)
    scaled = np.divide(magnitudes, top, out=np.zeros_like(magnitudes), where=top > 0)
    index = np.minimum((scaled * options.bins).astype(np.int64), options.bins - 1)
    offsets = index + options.bins * np.arange(len(values))[:, None]
    counts = np.bincount(offsets.ravel(), minlength=len(values) * options.bins).reshape(len(values), options.bins)
    p = counts / values.shape[1]
    return -np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0).sum(axis=1)


def pooled_complexity(values: np.ndarray, options: MetricOptions = MetricOptions()) -> float:
    """The paper's form: entropy (nats) of one histogram of all samples' |W| over [min, max]."""
    magnitudes = np.abs(values).ravel()
    low, high = float(magnitudes.min()), float(magnitudes.max())
    if high == low:
        return 0.0
    counts, _ = np.histogram(magnitudes, bins=options.bins, range=(low, high))
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
        raise DegenerateSample(int(flat[0]), "has identical |W| on every edge; its correlation is undefined")
    unit = centred / norms[:, None]
    return unit @ unit.T


def diversity(correlations: np.ndarray) -> float:
    """1 - mean Pearson correlation over pairs of distinct samples."""
    n = len(correlations)
    if n < 2:
        raise ValueError("diversity needs at least two samples")
    return float(1.0 - (correlations.sum() - np.trace(correlations)) / (n * (n - 1)))


def output_edge_entropy(scores: np.ndarray, edge_mask: np.ndarray) -> np.ndarray:
    """[n_src] entropy of each source's mean |W| over its out-edges, normalised to sum 1.

    NaN for a source with fewer than two out-edges (the last MLP feeds only the logits): its
    entropy is 0 by construction, so any change of it would be meaningless.
    """
    mean_abs = np.abs(scores).mean(axis=0)
    result = np.full(edge_mask.shape[0], np.nan)
    for source, edges in enumerate(edge_mask):
        if edges.sum() >= 2:
            result[source] = _entropy(mean_abs[source, edges]) if mean_abs[source, edges].sum() > 0 else 0.0
    return result


def relative_edge_change(base: np.ndarray, rl: np.ndarray, edge_mask: np.ndarray) -> np.ndarray:
    """[n_src, n_dst] (mean|W_rl| - mean|W_base|) / mean|W_base| on real edges, NaN elsewhere.

    A real edge whose base mean is 0 has no relative change: NaN there too (never inf); the
    caller counts such edges.
    """
    base_mean = np.abs(base).mean(axis=0)
    rl_mean = np.abs(rl).mean(axis=0)
    change = np.divide(rl_mean - base_mean, base_mean, out=np.full(base_mean.shape, np.nan), where=base_mean > 0)
    return np.where(edge_mask, change, np.nan)
