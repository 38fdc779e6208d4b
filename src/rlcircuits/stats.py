"""Paired significance for base vs RL (DESIGN §4; the paper reports none).

Base and RL are scored on the same question ids, so per-sample metrics are compared with the
Wilcoxon signed-rank test, and pooled metrics (entropy, diversity) with a seeded paired
bootstrap over questions: every resample draws the same question ids for both models.
Benjamini-Hochberg controls the false discovery rate across the cells of Table 1.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Comparison:
    """RL vs base for one metric: values, RL - base, its 95% interval and a two-sided p-value."""

    test: str
    base: float
    rl: float
    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    n: int

    def as_dict(self) -> dict:
        return asdict(self)


def wilcoxon_paired(base: np.ndarray, rl: np.ndarray, *, resamples: int = 2000, seed: int = 0) -> Comparison:
    """Wilcoxon signed-rank on per-sample values; the CI is a bootstrap of the mean difference."""
    base, rl = np.asarray(base, dtype=np.float64), np.asarray(rl, dtype=np.float64)
    if base.shape != rl.shape or base.ndim != 1:
        raise ValueError("paired samples must be 1-D arrays of equal length")
    diff = rl - base
    p_value = 1.0 if np.all(diff == 0) else float(stats.wilcoxon(rl, base).pvalue)
    draws = _resample_weights(len(diff), resamples, seed)
    means = draws @ diff / len(diff)
    low, high = np.percentile(means, [2.5, 97.5])
    return Comparison("wilcoxon", float(base.mean()), float(rl.mean()), float(diff.mean()), float(low), float(high), p_value, len(diff))


def _resample_weights(n: int, resamples: int, seed: int) -> np.ndarray:
    """[resamples, n] counts of each question in each bootstrap resample."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n, size=(resamples, n))
    return np.apply_along_axis(np.bincount, 1, draws, minlength=n).astype(np.float64)


def bootstrap_paired(
    statistic: Callable[[np.ndarray | None], tuple[float, float]],
    n: int,
    *,
    resamples: int = 1000,
    seed: int = 0,
) -> Comparison:
    """Paired bootstrap of a pooled metric.

    ``statistic(weights)`` returns (base value, RL value) computed with each question counted
    ``weights[i]`` times (``None``: the original sample). p-value: twice the smaller tail of
    the resampled differences around 0, with the +1 correction so it is never 0.
    """
    if n < 2:
        raise ValueError("the bootstrap needs at least two questions")
    base, rl = statistic(None)
    draws = _resample_weights(n, resamples, seed)
    diffs = np.empty(resamples)
    for index, weights in enumerate(draws):
        b, r = statistic(weights)
        diffs[index] = r - b
    low, high = np.percentile(diffs, [2.5, 97.5])
    tail = min((diffs <= 0).sum(), (diffs >= 0).sum())
    p_value = min(1.0, 2 * (tail + 1) / (resamples + 1))
    return Comparison("bootstrap", float(base), float(rl), float(rl - base), float(low), float(high), p_value, n)


def benjamini_hochberg(p_values: Sequence[float]) -> np.ndarray:
    """BH-adjusted q-values, in the input order (NaN p-values stay NaN and are not counted)."""
    p = np.asarray(p_values, dtype=np.float64)
    q = np.full_like(p, np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    if valid.size == 0:
        return q
    order = valid[np.argsort(p[valid], kind="stable")]
    ranked = p[order] * valid.size / np.arange(1, valid.size + 1)
    q[order] = np.minimum(1.0, np.minimum.accumulate(ranked[::-1])[::-1])
    return q
