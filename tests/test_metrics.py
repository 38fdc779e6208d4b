"""Metrics of DESIGN §4: hand-computed values and the invariances they must have."""

import math

import numpy as np
import pytest
from scipy import stats

from rlcircuits.eap import build_graph
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

MASK = build_graph(2, "paper").edge_mask


def _random_scores(seed: int = 0, n: int = 6) -> np.ndarray:
    rng = np.random.default_rng(seed)
    scores = rng.standard_t(3, size=(n, *MASK.shape)) * 1e-3
    return np.where(MASK, scores, 0.0)


def test_hand_computed_values():
    values = np.array([[-1.0, 1.0, -1.0, 1.0], [0.0, 2.0, 0.0, 2.0]])
    np.testing.assert_allclose(intensity_per_sample(values), [1.0, 1.0])
    # Two-point symmetric distributions have excess kurtosis 1 - 3 = -2.
    np.testing.assert_allclose(kurtosis_per_sample(values), [-2.0, -2.0])
    # Pooled |W|: 0 twice, 1 four times, 2 twice; over [0, 2] in 100 bins they land in three
    # different bins (the last bin includes the maximum).
    counts = {0.0: 2, 1.0: 4, 2.0: 2}
    expected = -sum(c / 8 * math.log(c / 8) for c in counts.values())
    assert information_complexity(values) == pytest.approx(expected)
    # Identical |W| patterns correlate perfectly; a flipped pattern anti-correlates.
    same = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0]])
    assert diversity(correlation_matrix(same)) == pytest.approx(0.0)
    flipped = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    assert diversity(correlation_matrix(flipped)) == pytest.approx(2.0)


def test_bootstrap_weights_skip_copies_of_one_sample():
    corr = np.array([[1.0, 0.2, 0.4], [0.2, 1.0, 0.6], [0.4, 0.6, 1.0]])
    assert diversity(corr) == pytest.approx(1 - (0.2 + 0.4 + 0.6) / 3)
    # Sample 0 twice, sample 2 once: distinct-question pairs (0,2) x2 -> mean 0.4.
    assert diversity(corr, np.array([2.0, 0.0, 1.0])) == pytest.approx(1 - 0.4)
    with pytest.raises(ValueError, match="two distinct"):
        diversity(corr, np.array([0.0, 1.0, 0.0]))


def test_output_edge_entropy_and_relative_change_by_hand():
    mask = np.array([[True, True, True], [False, True, True]])
    scores = np.array([[[1.0, 1.0, 1.0], [9.0, 1.0, 3.0]], [[-1.0, 1.0, -1.0], [9.0, 1.0, 1.0]]])
    entropy = output_edge_entropy(scores, mask)
    assert entropy[0] == pytest.approx(math.log(3))  # uniform over 3 out-edges
    assert entropy[1] == pytest.approx(-(1 / 3) * math.log(1 / 3) - (2 / 3) * math.log(2 / 3))  # means 1 and 2
    change = relative_edge_change(scores, 2 * scores, mask)
    assert np.isnan(change[1, 0]) and np.allclose(change[mask], 1.0)


def test_intensity_scales_linearly_and_the_rest_is_scale_free():
    scores = _random_scores()
    values = edge_values(scores, MASK)
    scaled = edge_values(-7.5 * scores, MASK)
    np.testing.assert_allclose(intensity_per_sample(scaled), 7.5 * intensity_per_sample(values))
    np.testing.assert_allclose(kurtosis_per_sample(scaled), kurtosis_per_sample(values))
    assert information_complexity(scaled) == pytest.approx(information_complexity(values))
    assert diversity(correlation_matrix(scaled)) == pytest.approx(diversity(correlation_matrix(values)))
    np.testing.assert_allclose(output_edge_entropy(-7.5 * scores, MASK), output_edge_entropy(scores, MASK))


def test_non_edges_never_contribute():
    scores = _random_scores()
    polluted = np.where(MASK, scores, 1e6)
    for options in (MetricOptions(), MetricOptions(kurtosis_of="abs", bins=20)):
        clean, dirty = edge_values(scores, MASK, options), edge_values(polluted, MASK, options)
        np.testing.assert_array_equal(clean, dirty)
    assert edge_values(scores, MASK).shape == (6, MASK.sum())
    np.testing.assert_allclose(output_edge_entropy(polluted * MASK, MASK), output_edge_entropy(scores, MASK))


def test_options():
    scores = _random_scores()
    with_zeros = edge_values(scores, MASK, MetricOptions(structural_zeros=True))
    assert with_zeros.shape == (6, MASK.size) and (with_zeros == 0).sum() >= 6 * (~MASK).sum()
    values = edge_values(scores, MASK)
    np.testing.assert_allclose(
        kurtosis_per_sample(values, MetricOptions(kurtosis_of="abs")), stats.kurtosis(np.abs(values), axis=1)
    )
    with pytest.raises(ValueError):
        MetricOptions(kurtosis_of="squared")
    with pytest.raises(ValueError, match="do not match"):
        edge_values(scores[:, :-1], MASK)


def test_constant_sample_is_refused_in_diversity():
    values = np.array([[1.0, 1.0, 1.0], [1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match="sample 0 has identical"):
        correlation_matrix(values)
