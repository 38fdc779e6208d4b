"""Significance machinery on synthetic data: planted effects are found, null ones at the nominal rate."""

import numpy as np
import pytest

from rlcircuits.metrics import information_complexity
from rlcircuits.stats import benjamini_hochberg, bootstrap_paired, wilcoxon_paired


def test_wilcoxon_finds_a_planted_shift_and_keeps_its_level_under_the_null():
    rng = np.random.default_rng(1)
    base = rng.normal(1.0, 0.2, 40)
    found = wilcoxon_paired(base, base * 1.1 + rng.normal(0, 0.02, 40))
    assert found.p_value < 1e-4 and found.difference > 0 and found.ci_low > 0
    rejections = 0
    for trial in range(300):
        noise = np.random.default_rng(100 + trial).normal(0, 0.1, (2, 30))
        rejections += wilcoxon_paired(1 + noise[0], 1 + noise[1], resamples=10).p_value < 0.05
    assert rejections / 300 <= 0.08


def _paired_samples(effect: float, seed: int, n: int = 24, edges: int = 60):
    """Per-question edge values; RL's heavier tail (effect > 0) changes the |W| histogram's shape."""
    rng = np.random.default_rng(seed)
    base = rng.standard_normal((n, edges))
    rl = rng.standard_normal((n, edges)) * (1 + effect * rng.exponential(1.0, (n, edges)))
    return base, rl


def _entropy_statistic(base, rl):
    return lambda weights: (information_complexity(base, weights=weights), information_complexity(rl, weights=weights))


def test_bootstrap_finds_a_planted_effect():
    base, rl = _paired_samples(effect=1.0, seed=3)
    result = bootstrap_paired(_entropy_statistic(base, rl), len(base), resamples=300, seed=0)
    assert result.p_value < 0.01 and not result.ci_low <= 0 <= result.ci_high
    assert result.difference == pytest.approx(result.rl - result.base)


def test_bootstrap_null_rejection_rate_is_near_nominal():
    rejections = 0
    trials = 60
    for trial in range(trials):
        base, rl = _paired_samples(effect=0.0, seed=1000 + trial)
        rejections += bootstrap_paired(_entropy_statistic(base, rl), len(base), resamples=200, seed=trial).p_value < 0.05
    assert rejections / trials <= 0.12


def test_bootstrap_is_seeded():
    base, rl = _paired_samples(effect=0.3, seed=5)
    one = bootstrap_paired(_entropy_statistic(base, rl), len(base), resamples=100, seed=7)
    two = bootstrap_paired(_entropy_statistic(base, rl), len(base), resamples=100, seed=7)
    assert one == two


def test_benjamini_hochberg_by_hand():
    q = benjamini_hochberg([0.01, 0.04, 0.03, 0.2, float("nan")])
    # sorted p: 0.01, 0.03, 0.04, 0.2 (m = 4): 0.04, 0.06, 0.0533, 0.2 -> monotone: 0.04, 0.0533, 0.0533, 0.2
    np.testing.assert_allclose(q[:4], [0.04, 0.16 / 3, 0.16 / 3, 0.2])
    assert np.isnan(q[4])
    assert np.isnan(benjamini_hochberg([float("nan")])).all()
