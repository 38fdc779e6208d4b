"""Paired significance for base vs RL (docs/DESIGN.md §4; the paper reports none).

One estimand per cell: the difference RL - base of the metric exactly as Table 1 shows it (a
mean over questions for intensity, scale-free intensity, complexity and kurtosis; diversity over
all pairs of questions). The direction (✓/✗), the estimate, its CI and the p-value are all about it.

Intervals are *studentized bootstrap* (bootstrap-t) intervals over questions, resampled in pairs
(a question keeps its base and its RL matrix together): the set of δ whose t(δ) = (estimate - δ)
/ se lies inside the equal-tailed 95% range of the bootstrap's (estimate* - estimate) / se*. The
standard error is the jackknife's: sd / sqrt(n) for a mean over questions; for diversity, a
statistic of pairs of questions (a U-statistic), its leave-one-question-out jackknife. Why the
bootstrap-t: its coverage holds on skewed paired differences, where inverting a sign-flip test
(which needs differences symmetric about their mean) under-covers, and a BCa interval covers
less than it does (docs/benchmarks.md measures the three).

p-values:
- Per-question metrics: the *sign-flip permutation test* of the mean difference. Under the null
  that a question's base and RL matrices are exchangeable (the same law, paired by question,
  whatever its tails or per-question scale) a swap flips the sign of that question's difference,
  so the test holds its level exactly, where the bootstrap-t's own test rejects up to about twice
  as often as it should under heavy-tailed nulls (docs/benchmarks.md). The two can disagree on a
  cell at the margin (p just under 0.05 with 0 just inside the CI, or the reverse); the p-value
  decides significance, and the page says so.
- Diversity: the bootstrap-t's own test, so that "p < 0.05" and "0 outside the CI" agree by
  construction; its size under the heavy-tailed nulls stays at the level (docs/benchmarks.md).

Benjamini-Hochberg (scipy.stats.false_discovery_control) across the cells of Table 1.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

BOOTSTRAP_T = "studentized bootstrap (bootstrap-t) over questions; p-value and CI from the same bootstrap"
SIGN_FLIP_AND_BOOTSTRAP_T = "sign-flip permutation p-value of the mean; studentized bootstrap (bootstrap-t) CI"
LEVEL = 0.05  # the CI is 1 - LEVEL


@dataclass(frozen=True)
class ResampleSettings:
    """How many seeded resamples (bootstrap and sign flips) every test of a cell draws."""

    resamples: int = 9999
    seed: int = 0


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


# A studentized statistic of resampled questions: index rows [B, n] -> (estimates [B], standard
# errors [B]); a row of arange(n) is the observed sample.
Studentized = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class BootstrapT:
    """The sorted bootstrap t values of one statistic, and the test and CI they give."""

    estimate: float
    se: float
    t: np.ndarray  # sorted (estimate* - estimate) / se* over the resamples where both are defined

    def p_at(self, delta: float) -> float:
        """Two-sided equal-tailed p-value of "the difference is delta"."""
        t0 = _ratio(np.array([self.estimate - delta]), np.array([self.se]))[0]
        upper = len(self.t) - np.searchsorted(self.t, t0, side="left")
        lower = np.searchsorted(self.t, t0, side="right")
        return float(min(1.0, 2 * (1 + min(upper, lower)) / (len(self.t) + 1)))

    def interval(self, level: float = LEVEL) -> tuple[float, float]:
        """The deltas p_at does not reject at ``level``: the ends are order statistics of t."""
        if self.se == 0:
            return self.estimate, self.estimate
        m = int(np.ceil(level * (len(self.t) + 1) / 2 - 1))
        if m < 1:  # too few resamples to reject anything
            return -np.inf, np.inf
        return self.estimate - self.t[len(self.t) - m] * self.se, self.estimate - self.t[m - 1] * self.se


def _ratio(numerator: np.ndarray, se: np.ndarray) -> np.ndarray:
    """numerator / se, with x / 0 = ±inf and 0 / 0 = 0 (a resample that cannot move)."""
    out = np.where(numerator == 0, 0.0, np.copysign(np.inf, numerator))
    return np.divide(numerator, se, out=out, where=se > 0)


def bootstrap_t(statistic: Studentized, n: int, *, resamples: int, seed: int, batch: int = 64) -> BootstrapT:
    """Resample n questions with replacement ``resamples`` times (seeded) and studentize each resample.

    Resamples on which the statistic or its standard error is undefined (possible only with a
    handful of questions) are left out.
    """
    if n < 2:
        raise ValueError("paired statistics need at least two questions")
    if resamples < 2 / LEVEL - 1:
        raise ValueError(f"a {1 - LEVEL:.0%} bootstrap-t interval needs at least {2 / LEVEL - 1:.0f} resamples")
    estimate, se = (float(v[0]) for v in statistic(np.arange(n)[None, :]))
    rng = np.random.default_rng(seed)
    found = []
    for start in range(0, resamples, batch):
        estimates, errors = statistic(rng.integers(0, n, (min(batch, resamples - start), n)))
        found.append(_ratio(estimates - estimate, errors))
    t = np.concatenate(found)
    return BootstrapT(estimate, se, np.sort(t[~np.isnan(t)]))


def _comparison(result: BootstrapT, base: float, rl: float, n: int, test: str, p_value: float) -> Comparison:
    low, high = result.interval()
    return Comparison(test, base, rl, result.estimate, float(low), float(high), p_value, n)


def mean_difference(differences: np.ndarray) -> Studentized:
    """The mean of the per-question differences, with its standard error sd / sqrt(n)."""

    def statistic(index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        drawn = differences[index]
        return drawn.mean(axis=1), drawn.std(axis=1, ddof=1) / np.sqrt(index.shape[1])

    return statistic


def paired_mean(
    base: np.ndarray, rl: np.ndarray, *, resamples: int = ResampleSettings.resamples, seed: int = ResampleSettings.seed
) -> Comparison:
    """The mean difference of a per-question metric: exact sign-flip p-value, bootstrap-t CI."""
    base, rl = np.asarray(base, dtype=np.float64), np.asarray(rl, dtype=np.float64)
    if base.shape != rl.shape or base.ndim != 1:
        raise ValueError("paired samples must be 1-D arrays of equal length")
    result = bootstrap_t(mean_difference(rl - base), len(base), resamples=resamples, seed=seed)
    p_value = sign_flip_p(rl - base, resamples=resamples, seed=seed)
    return _comparison(result, float(base.mean()), float(rl.mean()), len(base), SIGN_FLIP_AND_BOOTSTRAP_T, p_value)


def sign_flip_p(differences: np.ndarray, *, resamples: int, seed: int) -> float:
    """Two-sided Monte Carlo sign-flip p-value of "the mean difference is 0" (with the +1 correction)."""
    d = np.asarray(differences, dtype=np.float64)
    signs = np.random.default_rng(seed).choice([-1.0, 1.0], size=(resamples, len(d)))
    observed = abs(float(d.mean()))
    tolerance = 1e-12 * (float(np.abs(d).max()) or 1.0)  # ties with the observed mean count as extreme
    extreme = np.count_nonzero(np.abs(signs @ d / len(d)) >= observed - tolerance)
    return (1 + extreme) / (resamples + 1)


def diversity_difference(correlations: np.ndarray) -> Studentized:
    """Diversity(RL) - diversity(base) over pairs of distinct questions, with its jackknife standard error.

    ``correlations`` [2N, 2N]: Pearson correlations of all 2N samples' |W| (base then RL). The
    difference is the mean over pairs of questions (i, j) of corr_base(i, j) - corr_rl(i, j); in a
    resample, pairs of two copies of one question are not counted, and the jackknife leaves out
    one drawn question (all its pairs) at a time.
    """
    n = len(correlations) // 2
    kernel = correlations[:n, :n] - correlations[n:, n:]

    def statistic(index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        distinct = index[:, :, None] != index[:, None, :]
        values = np.where(distinct, kernel[index[:, :, None], index[:, None, :]], 0.0)
        total, count = values.sum(axis=(1, 2)), distinct.sum(axis=(1, 2))
        with np.errstate(divide="ignore", invalid="ignore"):
            left_out = (total[:, None] - 2 * values.sum(axis=2)) / (count[:, None] - 2 * distinct.sum(axis=2))
            spread = ((left_out - left_out.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
            return total / count, np.sqrt((index.shape[1] - 1) / index.shape[1] * spread)

    return statistic


def paired_diversity(
    correlations: np.ndarray, *, resamples: int = ResampleSettings.resamples, seed: int = ResampleSettings.seed
) -> Comparison:
    """Diversity of RL vs base from the pooled correlations: bootstrap-t p-value and CI (NaN under 3 questions)."""
    n = len(correlations) // 2
    off = ~np.eye(n, dtype=bool)
    base, rl = (1.0 - float(block[off].mean()) for block in (correlations[:n, :n], correlations[n:, n:]))
    if n < 3:  # one pair of questions: its jackknife has nothing left to compare
        return Comparison(BOOTSTRAP_T, base, rl, rl - base, np.nan, np.nan, np.nan, n)
    result = bootstrap_t(diversity_difference(correlations), n, resamples=resamples, seed=seed)
    return _comparison(result, base, rl, n, BOOTSTRAP_T, result.p_at(0.0))


def benjamini_hochberg(p_values: Sequence[float]) -> np.ndarray:
    """BH-adjusted q-values, in the input order (NaN p-values stay NaN and are not counted)."""
    p = np.asarray(p_values, dtype=np.float64)
    q = np.full_like(p, np.nan)
    valid = ~np.isnan(p)
    if valid.any():
        q[valid] = stats.false_discovery_control(p[valid], method="bh")
    return q
