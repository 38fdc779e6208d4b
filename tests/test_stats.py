"""Table 1's tests on synthetic cells: nominal size under heavy-tailed nulls, power, one estimand, BH."""

import numpy as np
import pytest
from scipy import stats

from rlcircuits.metrics import (
    complexity_per_sample,
    correlation_matrix,
    diversity,
    intensity_per_sample,
    kurtosis_per_sample,
)
from rlcircuits.stats import (
    benjamini_hochberg,
    compare,
    diversity_statistic,
    paired_mean,
    sign_flip_test,
)

TRIALS = 200
QUESTIONS, EDGES = 100, 400  # the demo graphs have 23 real edges, the 7B ones about 4000


def _t3_null(rng, n=QUESTIONS, edges=EDGES):
    """Student-t(3) scores, a log-normal scale per edge and per question, shared by base and RL."""
    edge_scale = rng.lognormal(0.0, 1.0, edges)
    question_scale = rng.lognormal(0.0, 1.0, (n, 1))
    return [question_scale * edge_scale * rng.standard_t(3, (n, edges)) for _ in range(2)]


def _lognormal_null(rng, n=QUESTIONS, edges=EDGES):
    """Log-normal magnitudes (sigma 1.5) with random signs, question scales from a Pareto(1.5) law."""
    question_scale = 1.0 + rng.pareto(1.5, (n, 1))
    return [
        question_scale * rng.lognormal(0.0, 1.5, (n, edges)) * rng.choice([-1.0, 1.0], (n, edges)) for _ in range(2)
    ]


NULLS = {"t3 x log-normal scales": _t3_null, "log-normal x Pareto scales": _lognormal_null}
PER_SAMPLE = {"intensity": intensity_per_sample, "complexity": complexity_per_sample, "kurtosis": kurtosis_per_sample}


@pytest.mark.parametrize("metric", PER_SAMPLE)
@pytest.mark.parametrize("null", NULLS)
def test_per_question_metrics_hold_their_size_under_heavy_tailed_nulls(null, metric):
    rng = np.random.default_rng(11)
    rejections = 0
    for trial in range(TRIALS):
        base, rl = NULLS[null](rng)
        rejections += (
            paired_mean(PER_SAMPLE[metric](base), PER_SAMPLE[metric](rl), resamples=199, seed=trial).p_value < 0.05
        )
    assert rejections / TRIALS <= 0.07, rejections


@pytest.mark.parametrize("null", NULLS)
def test_diversity_holds_its_size_under_heavy_tailed_nulls(null):
    rng = np.random.default_rng(12)
    rejections = 0
    for trial in range(TRIALS):
        base, rl = NULLS[null](rng, n=20, edges=30)
        pooled = correlation_matrix(np.concatenate([base, rl]))
        rejections += compare(diversity_statistic(pooled), 20, resamples=99, seed=trial).p_value < 0.05
    assert rejections / TRIALS <= 0.07, rejections


def test_a_planted_ten_percent_intensity_increase_is_found():
    rng = np.random.default_rng(13)
    found = 0
    for trial in range(50):
        base, rl = _t3_null(rng)
        result = paired_mean(intensity_per_sample(base), intensity_per_sample(1.1 * rl), resamples=999, seed=trial)
        found += result.p_value < 0.05 and result.difference > 0
    assert found >= 45, found


def test_direction_estimate_ci_and_p_value_are_about_the_mean():
    """94 questions lose 5% and 6 gain: the mean does not move, though Wilcoxon calls it a shift."""
    base = np.random.default_rng(15).lognormal(0.0, 0.2, 100)
    gain = 1 + 94 * 0.05 / 6
    rl = base * np.where(np.arange(100) < 94, 0.95, 1.0) + np.where(np.arange(100) < 94, 0.0, (gain - 1) * base.mean())
    result = paired_mean(base, rl, resamples=2999)
    assert result.difference == pytest.approx(np.mean(rl - base)) and result.rl - result.base == pytest.approx(
        result.difference
    )
    assert result.ci_low <= result.difference <= result.ci_high and result.ci_low < 0 < result.ci_high
    assert result.p_value > 0.2
    assert stats.wilcoxon(rl, base).pvalue < 1e-6  # the old test's verdict on the same data


def test_sign_flip_p_matches_scipys_exact_permutation_test():
    rng = np.random.default_rng(17)
    for _ in range(5):
        base, rl = rng.standard_t(3, 10), rng.standard_t(3, 10) + 0.8
        exact = stats.permutation_test(
            (base, rl), lambda x, y, axis: np.mean(y - x, axis=axis), vectorized=True, permutation_type="samples"
        ).pvalue  # 2^10 swaps: exact
        assert sign_flip_test(rl - base, resamples=40000, seed=0)(0.0) == pytest.approx(exact, abs=0.01)


def test_the_ci_is_the_set_of_shifts_the_test_does_not_reject():
    rng = np.random.default_rng(18)
    for trial in range(40):
        base = rng.lognormal(0.0, 1.0, 60)
        rl = base * rng.lognormal(0.05 * (trial % 3), 0.5, 60)
        result = paired_mean(base, rl, resamples=999, seed=trial)
        assert result.ci_low <= result.difference <= result.ci_high
        assert (result.p_value <= 0.05) == (not result.ci_low <= 0 <= result.ci_high), (trial, result)
        p_at = sign_flip_test(rl - base, resamples=999, seed=trial)
        width = result.ci_high - result.ci_low
        assert p_at(result.ci_low - 0.01 * width) <= 0.05 < p_at(result.ci_low + 0.01 * width)


def test_diversity_statistic_matches_the_metric_and_skips_copies():
    rng = np.random.default_rng(16)
    base, rl = rng.standard_normal((6, 12)), rng.standard_normal((6, 12))
    statistic = diversity_statistic(correlation_matrix(np.concatenate([base, rl])))
    assert statistic(np.arange(6)) == pytest.approx(diversity(correlation_matrix(base)))
    assert statistic(np.arange(6, 12)) == pytest.approx(diversity(correlation_matrix(rl)))
    # A resample with question 0 twice: the pair (0, 0) is not counted.
    corr = correlation_matrix(base)
    expected = 1 - np.mean([corr[i, j] for i in (0, 0, 1) for j in (0, 0, 1) if i != j])
    assert statistic(np.array([0, 0, 1])) == pytest.approx(expected)


def test_seeded_and_degenerate_inputs():
    base = np.linspace(1, 2, 30)
    one = paired_mean(base, base * 1.01, resamples=199, seed=7)
    assert one == paired_mean(base, base * 1.01, resamples=199, seed=7)
    same = paired_mean(base, base.copy(), resamples=199)
    assert same.difference == 0 and same.p_value == 1.0 and same.ci_low == same.ci_high == 0
    with pytest.raises(ValueError, match="two questions"):
        paired_mean(base[:1], base[:1])


def test_benjamini_hochberg_by_hand():
    q = benjamini_hochberg([0.01, 0.04, 0.03, 0.2, float("nan")])
    # sorted p: 0.01, 0.03, 0.04, 0.2 (m = 4): 0.04, 0.06, 0.0533, 0.2 -> monotone: 0.04, 0.0533, 0.0533, 0.2
    np.testing.assert_allclose(q[:4], [0.04, 0.16 / 3, 0.16 / 3, 0.2])
    assert np.isnan(q[4])
    assert np.isnan(benjamini_hochberg([float("nan")])).all()
