"""Every edge score equals the finite-difference effect of that edge (float64, rel. err <= 1e-6)."""

import numpy as np
import pytest
import torch

import fd_reference
import tiny_models
from rlcircuits.eap import attribute, truncated_loss_input

ITEMS = [
    truncated_loss_input("long", [3, 5, 7, 9, 11, 13], [20, 21, 22, 23, 24, 25], t_cut=4),
    truncated_loss_input("short", [2, 4], [60, 61, 62], t_cut=3),
]


@pytest.fixture(scope="module", params=sorted(tiny_models.CONFIGS))
def model(request):
    return tiny_models.exact_float64_norms(tiny_models.build(request.param, layers=2, dtype=torch.float64))


@pytest.mark.parametrize("layout", ["paper", "module"])
def test_scores_equal_finite_differences(model, layout):
    result = attribute(model, ITEMS, layout=layout, batch_tokens=10_000)  # both samples in one padded batch
    graph = result.graph
    assert result.scores.dtype == np.float64
    worst = 0.0
    for row, item in enumerate(ITEMS):
        for u, v in zip(*np.nonzero(graph.edge_mask), strict=True):
            reference = fd_reference.edge_derivative(
                model, list(item.input_ids), list(item.targets), item.prompt_len, graph.src_names[u], graph.dst_names[v]
            )
            error = abs(result.scores[row, u, v] - reference) / abs(reference)
            worst = max(worst, error)
            assert error <= 1e-6, (item.sample_id, graph.src_names[u], graph.dst_names[v], reference)
    assert worst > 0  # the comparison really ran on non-trivial numbers
    assert np.all(result.scores[:, ~graph.edge_mask] == 0)


def test_module_attention_is_sum_of_qkv(model):
    """The q/k/v branch gradients (mapped through the shared norm) add up to the module's."""
    paper = attribute(model, ITEMS, layout="paper")
    module = attribute(model, ITEMS, layout="module")
    for layer in range(paper.graph.n_layers):
        qkv = sum(paper.scores[:, :, paper.graph.dst_index(layer, s)] for s in "qkv")
        merged = module.scores[:, :, module.graph.dst_index(layer, "attn")]
        np.testing.assert_allclose(merged, qkv, rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(
            module.scores[:, :, module.graph.dst_index(layer, "mlp")],
            paper.scores[:, :, paper.graph.dst_index(layer, "mlp")],
            rtol=1e-12,
        )
