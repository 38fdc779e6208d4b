"""Paired significance for base vs RL (docs/DESIGN.md §4; the paper reports none).

One estimand per cell: the difference RL - base of the metric exactly as Table 1 shows it (a
mean over questions for intensity, complexity and kurtosis; diversity over all pairs of
questions). The direction (✓/✗), the estimate, its CI and the p-value are all about it.

The tests are *role-swap permutation tests*: under the null that a question's base and RL
matrices are exchangeable — the same law, paired by question, whatever its tails or
per-question scale — every swap of the two within a question is equally likely, so the test
holds its level exactly (Monte Carlo p-values with the +1 correction).

- Per-question metrics: a swap flips the sign of that question's difference, so the test is a
  sign-flip test of the mean difference. Its 95% CI is the set of shifts the same test (the same
  seeded sign flips) does not reject, so "p < 0.05" and "0 outside the CI" agree by
  construction. Why not Wilcoxon: it tests a location shift of the differences, not their mean
  (94 questions losing 5% and 6 gaining fourfold is a significant Wilcoxon "increase" of a mean
  that barely moved). Why not a paired t-test or a bootstrap CI: their coverage depends on the
  tails of the differences (on the demo, BCa intervals excluded 0 in cells the permutation test
  gave p = 0.2).
- Diversity is a statistic of pairs of questions: a swap moves the question's matrix to the
  other group and the pairwise correlations are recomputed (scipy.stats.permutation_test); the
  CI is a paired BCa bootstrap over questions (scipy.stats.bootstrap, ``paired=True``), pairs
  of copies of one question left out of a resample.
- Benjamini-Hochberg (scipy.stats.false_discovery_control) across the cells of Table 1.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

SIGN_FLIP = "sign-flip permutation of the mean, CI by test inversion"
ROLE_SWAP = "role-swap permutation, paired BCa bootstrap CI"


@dataclass(frozen=True)
class Comparison:
    """RL vs base for one metric: values, RL - base, its 95% CI and a two-sided p-value."""

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


# A statistic of one group of questions: indices into the 2N pooled samples (base 0..N-1, RL
# N..2N-1), shape [..., N], reduced over the last axis.
GroupStatistic = Callable[[np.ndarray], np.ndarray]


def compare(group_statistic: GroupStatistic, n: int, *, resamples: int, seed: int) -> Comparison:
    """Permutation p-value and bootstrap CI of group_statistic(RL) - group_statistic(base)."""
    if n < 2:
        raise ValueError("paired statistics need at least two questions")
    base_index, rl_index = np.arange(n), np.arange(n, 2 * n)

    def difference(base: np.ndarray, rl: np.ndarray, axis: int = -1) -> np.ndarray:
        return group_statistic(np.moveaxis(rl, axis, -1)) - group_statistic(np.moveaxis(base, axis, -1))

    base_value, rl_value = float(group_statistic(base_index)), float(group_statistic(rl_index))
    estimate = rl_value - base_value
    rng = np.random.default_rng(seed)
    permuted = stats.permutation_test(
        (base_index, rl_index),
        difference,
        permutation_type="samples",
        vectorized=True,
        n_resamples=resamples,
        alternative="two-sided",
        random_state=rng,
        batch=256,
    )
    p_value = float(min(1.0, permuted.pvalue))
    low, high = _bootstrap_ci(difference, base_index, rl_index, estimate, resamples, rng)
    return Comparison(ROLE_SWAP, base_value, rl_value, estimate, low, high, p_value, n)


def _bootstrap_ci(
    difference: Callable[..., np.ndarray],
    base_index: np.ndarray,
    rl_index: np.ndarray,
    estimate: float,
    resamples: int,
    rng: np.random.Generator,
) -> tuple[float, float]:
    """Paired BCa interval; a statistic that no resample moves has the point interval."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)  # handled below
        interval = stats.bootstrap(
            (base_index, rl_index),
            difference,
            paired=True,
            vectorized=True,
            n_resamples=resamples,
            method="BCa",
            random_state=rng,
            batch=256,
        ).confidence_interval
    if not (np.isfinite(interval.low) and np.isfinite(interval.high)):
        return estimate, estimate
    return float(interval.low), float(interval.high)


def diversity_statistic(correlations: np.ndarray) -> GroupStatistic:
    """1 - mean correlation over pairs of distinct questions of a group.

    ``correlations`` [2N, 2N]: Pearson correlations of all 2N samples' |W| (base then RL).
    A pair of two copies of one question (a bootstrap resample) is not counted.
    """

    def statistic(index: np.ndarray) -> np.ndarray:
        block = correlations[index[..., :, None], index[..., None, :]]
        distinct = (index[..., :, None] % (len(correlations) // 2)) != (index[..., None, :] % (len(correlations) // 2))
        return 1.0 - (block * distinct).sum(axis=(-2, -1)) / distinct.sum(axis=(-2, -1))

    return statistic


def paired_mean(base: np.ndarray, rl: np.ndarray, *, resamples: int = 9999, seed: int = 0) -> Comparison:
    """The mean difference of a per-question metric: sign-flip p-value and the CI that inverts it."""
    base, rl = np.asarray(base, dtype=np.float64), np.asarray(rl, dtype=np.float64)
    if base.shape != rl.shape or base.ndim != 1:
        raise ValueError("paired samples must be 1-D arrays of equal length")
    if len(base) < 2:
        raise ValueError("paired statistics need at least two questions")
    p_at = sign_flip_test(rl - base, resamples=resamples, seed=seed)
    estimate = float(np.mean(rl - base))
    low = _crossing(p_at, float(np.min(rl - base)), estimate)
    high = _crossing(p_at, float(np.max(rl - base)), estimate)
    return Comparison(SIGN_FLIP, float(base.mean()), float(rl.mean()), estimate, low, high, p_at(0.0), len(base))


def sign_flip_test(differences: np.ndarray, *, resamples: int, seed: int) -> Callable[[float], float]:
    """p(delta): two-sided sign-flip p-value of "the mean difference is delta", one fixed set of flips.

    Flipping the signs of (d - delta) gives means a_r - delta * b_r with a_r = s_r.d / n and
    b_r = sum(s_r) / n, so every delta reuses the same flips at O(resamples) cost.
    """
    d = np.asarray(differences, dtype=np.float64)
    signs = np.random.default_rng(seed).choice([-1.0, 1.0], size=(resamples, len(d)))
    a, b, mean = signs @ d / len(d), signs.mean(axis=1), float(d.mean())
    scale = float(np.abs(d).max()) or 1.0

    def p_at(delta: float) -> float:
        observed = abs(mean - delta)
        extreme = np.count_nonzero(np.abs(a - delta * b) >= observed - 1e-12 * scale)
        return (1 + extreme) / (resamples + 1)

    return p_at


def _crossing(p_at: Callable[[float], float], far: float, near: float, alpha: float = 0.05) -> float:
    """The shift between ``far`` (rejected) and ``near`` (the estimate, p = 1) where p crosses alpha."""
    if p_at(far) > alpha:
        return far  # too few questions to reject even the most extreme shift
    for _ in range(60):
        middle = 0.5 * (far + near)
        if p_at(middle) > alpha:
            near = middle
        else:
            far = middle
    return near


def benjamini_hochberg(p_values: Sequence[float]) -> np.ndarray:
    """BH-adjusted q-values, in the input order (NaN p-values stay NaN and are not counted)."""
    p = np.asarray(p_values, dtype=np.float64)
    q = np.full_like(p, np.nan)
    valid = ~np.isnan(p)
    if valid.any():
        q[valid] = stats.false_discovery_control(p[valid], method="bh")
    return q
