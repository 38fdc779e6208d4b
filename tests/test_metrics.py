"""Metrics of docs/DESIGN.md §4: hand-computed values, numpy references, both conventions, invariances."""

import math

import numpy as np
import pytest
from scipy import stats

from rlcircuits.eap import build_graph
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

MASK = build_graph(2, "paper").edge_mask


def _random_scores(seed: int = 0, n: int = 6) -> np.ndarray:
    rng = np.random.default_rng(seed)
    scores = rng.standard_t(3, size=(n, *MASK.shape)) * 1e-3
    return np.where(MASK, scores, 0.0)


def _histogram_entropy(magnitudes: np.ndarray, bins: int, low: float, high: float) -> float:
    """Independent reference: numpy's histogram, then Shannon entropy in nats."""
    counts, _ = np.histogram(magnitudes, bins=bins, range=(low, high))
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def test_hand_computed_values():
    values = np.array([[-1.0, 1.0, -1.0, 1.0], [0.0, 2.0, 0.0, 2.0]])
    np.testing.assert_allclose(intensity_per_sample(values), [1.0, 1.0])
    # Two-point symmetric distributions have excess kurtosis 1 - 3 = -2.
    np.testing.assert_allclose(kurtosis_per_sample(values), [-2.0, -2.0])
    # Per sample, bins over [0, own max]: sample 0 has every |W| in the last bin (entropy 0),
    # sample 1 half in the first and half in the last (log 2).
    np.testing.assert_allclose(complexity_per_sample(values), [0.0, math.log(2)])
    # Pooled over [min, max] = [0, 2]: 0 twice, 1 four times, 2 twice -> three bins.
    counts = {0.0: 2, 1.0: 4, 2.0: 2}
    assert pooled_complexity(values) == pytest.approx(-sum(c / 8 * math.log(c / 8) for c in counts.values()))
    # Identical |W| patterns correlate perfectly; a flipped pattern anti-correlates.
    same = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0]])
    assert diversity(correlation_matrix(same)) == pytest.approx(0.0)
    flipped = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    assert diversity(correlation_matrix(flipped)) == pytest.approx(2.0)


def test_complexities_match_numpy_histograms():
    values = edge_values(_random_scores(n=8), MASK)
    options = MetricOptions(bins=17)
    expected = [_histogram_entropy(np.abs(row), 17, 0.0, np.abs(row).max()) for row in values]
    np.testing.assert_allclose(complexity_per_sample(values, options), expected)
    pooled = np.abs(values).ravel()
    assert pooled_complexity(values, options) == pytest.approx(
        _histogram_entropy(pooled, 17, pooled.min(), pooled.max())
    )
    assert complexity_per_sample(np.zeros((2, 5))).tolist() == [0.0, 0.0] and pooled_complexity(np.ones((2, 3))) == 0.0


def test_the_paper_convention_normalises_by_the_full_matrix_with_its_zeros():
    mask = np.array([[True, True, False], [True, False, False]])
    scores = np.array([[[2.0, -4.0, 99.0], [6.0, 99.0, 99.0]]])
    ours, paper = edge_values(scores, mask), edge_values(scores, mask, "paper")
    assert intensity_per_sample(ours)[0] == pytest.approx(12.0 / 3)  # real edges only
    assert intensity_per_sample(paper)[0] == pytest.approx(12.0 / 6)  # the 3 non-edges count as zeros
    np.testing.assert_allclose(kurtosis_per_sample(paper), stats.kurtosis([2.0, -4.0, 0.0, 6.0, 0.0, 0.0]))
    np.testing.assert_allclose(kurtosis_per_sample(ours), stats.kurtosis([2.0, -4.0, 6.0]))
    with pytest.raises(ValueError, match="convention"):
        edge_values(scores, mask, "pooled")


def test_robust_complexity_survives_any_single_question():
    """One base question with a huge edge set every bin of the old pooled [0, max] histogram."""
    rng = np.random.default_rng(4)
    base = rng.exponential(1.0, (100, 200))
    rl = rng.lognormal(0.0, 1.0, (100, 200))  # a wider shape on every question
    base[53, 0] = 1e4
    old = lambda v: _histogram_entropy(np.abs(v).ravel(), 100, 0.0, np.abs(v).max())  # noqa: E731
    drop = np.arange(100) != 53
    assert np.sign(old(rl) - old(base)) != np.sign(old(rl[drop]) - old(base[drop]))  # the old form flips
    full = complexity_per_sample(rl).mean() - complexity_per_sample(base).mean()
    for left_out in range(100):
        keep = np.arange(100) != left_out
        without = complexity_per_sample(rl[keep]).mean() - complexity_per_sample(base[keep]).mean()
        assert np.sign(without) == np.sign(full) and abs(without - full) <= 2 * math.log(100) / 99


def test_degenerate_samples_are_named_not_nan():
    values = np.array([[1.0, 2.0, 3.0], [5.0, 5.0, 5.0]])
    with pytest.raises(DegenerateSample, match="sample 1 has identical scores") as caught:
        kurtosis_per_sample(values)
    assert caught.value.index == 1
    with pytest.raises(DegenerateSample, match="sample 0 has identical"):
        correlation_matrix(np.array([[1.0, 1.0, 1.0], [1.0, 2.0, 3.0]]))


def test_output_edge_entropy_and_relative_change_by_hand():
    mask = np.array([[True, True, True], [False, True, True]])
    scores = np.array([[[1.0, 1.0, 1.0], [9.0, 1.0, 3.0]], [[-1.0, 1.0, -1.0], [9.0, 1.0, 1.0]]])
    entropy = output_edge_entropy(scores, mask)
    assert entropy[0] == pytest.approx(math.log(3))  # uniform over 3 out-edges
    assert entropy[1] == pytest.approx(-(1 / 3) * math.log(1 / 3) - (2 / 3) * math.log(2 / 3))  # means 1 and 2
    change = relative_edge_change(scores, 2 * scores, mask)
    assert np.isnan(change[1, 0]) and np.allclose(change[mask], 1.0)


def test_a_single_out_edge_has_no_entropy_and_a_zero_base_edge_no_relative_change():
    entropy = output_edge_entropy(_random_scores(), MASK)
    assert MASK[-1].sum() == 1 and np.isnan(entropy[-1])  # mlp1 feeds only the logits
    assert np.isfinite(entropy[:-1]).all()
    base = _random_scores()
    base[:, 0, 0] = 0.0  # a real edge (embed -> attn0.q) that base never uses
    change = relative_edge_change(base, _random_scores(seed=1), MASK)
    assert MASK[0, 0] and np.isnan(change[0, 0]) and not np.isinf(change).any()


def test_intensity_scales_linearly_and_the_rest_is_scale_free():
    scores = _random_scores()
    values = edge_values(scores, MASK)
    scaled = edge_values(-7.5 * scores, MASK)
    np.testing.assert_allclose(intensity_per_sample(scaled), 7.5 * intensity_per_sample(values))
    np.testing.assert_allclose(kurtosis_per_sample(scaled), kurtosis_per_sample(values))
    np.testing.assert_allclose(complexity_per_sample(scaled), complexity_per_sample(values))
    assert pooled_complexity(scaled) == pytest.approx(pooled_complexity(values))
    assert diversity(correlation_matrix(scaled)) == pytest.approx(diversity(correlation_matrix(values)))
    np.testing.assert_allclose(output_edge_entropy(-7.5 * scores, MASK), output_edge_entropy(scores, MASK))


def test_scale_free_intensity_by_hand():
    values = np.array([[-1.0, 1.0, -1.0, 1.0], [0.0, 2.0, 0.0, 2.0], [0.0, 0.0, 0.0, 3.0]])
    # mean |W| / sqrt(mean W^2): equal magnitudes 1; half the edges 1 / sqrt(2); one edge of four 1 / 2.
    np.testing.assert_allclose(scale_free_intensity_per_sample(values), [1.0, 1 / math.sqrt(2), 0.5])
    with pytest.raises(DegenerateSample, match="sample 1 is zero on every edge"):
        scale_free_intensity_per_sample(np.array([[1.0, 2.0], [0.0, 0.0]]))


def test_rescaling_each_sample_moves_raw_intensity_only():
    """A model whose gradients or activations are only rescaled (by its own factor per question): our
    convention's scale-free intensity, complexity, kurtosis and diversity do not move; raw intensity
    scales with the factor; the paper's pooled complexity is scale-free for one common factor only."""
    scores = _random_scores(n=8)
    factors = np.random.default_rng(5).lognormal(0.0, 2.0, (8, 1, 1))
    values, scaled = edge_values(scores, MASK), edge_values(factors * scores, MASK)
    np.testing.assert_allclose(intensity_per_sample(scaled), factors.ravel() * intensity_per_sample(values))
    for metric in (scale_free_intensity_per_sample, complexity_per_sample, kurtosis_per_sample):
        np.testing.assert_allclose(metric(scaled), metric(values), err_msg=metric.__name__)
    assert diversity(correlation_matrix(scaled)) == pytest.approx(diversity(correlation_matrix(values)))
    assert pooled_complexity(scaled) != pytest.approx(pooled_complexity(values), rel=1e-3)
    common = edge_values(0.01 * scores, MASK)
    assert pooled_complexity(common) == pytest.approx(pooled_complexity(values))
    np.testing.assert_allclose(scale_free_intensity_per_sample(-common), scale_free_intensity_per_sample(values))


def test_non_edges_never_contribute_to_our_convention():
    scores = _random_scores()
    polluted = np.where(MASK, scores, 1e6)
    np.testing.assert_array_equal(edge_values(scores, MASK), edge_values(polluted, MASK))
    np.testing.assert_array_equal(edge_values(scores, MASK, "paper"), edge_values(polluted, MASK, "paper"))
    assert edge_values(scores, MASK).shape == (6, MASK.sum()) and edge_values(scores, MASK, "paper").shape == (
        6,
        MASK.size,
    )
    np.testing.assert_allclose(output_edge_entropy(polluted * MASK, MASK), output_edge_entropy(scores, MASK))


def test_options():
    values = edge_values(_random_scores(), MASK)
    np.testing.assert_allclose(
        kurtosis_per_sample(values, MetricOptions(kurtosis_of="abs")), stats.kurtosis(np.abs(values), axis=1)
    )
    with pytest.raises(ValueError):
        MetricOptions(kurtosis_of="squared")
    with pytest.raises(ValueError):
        MetricOptions(bins=1)
    with pytest.raises(ValueError, match="do not match"):
        edge_values(_random_scores()[:, :-1], MASK)
