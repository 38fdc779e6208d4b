import numpy as np
import pytest

from rlcircuits.eap import build_graph


@pytest.mark.parametrize("layers", [1, 2, 5, 32])
def test_paper_layout_sizes_match_design(layers):
    graph = build_graph(layers, "paper")
    assert len(graph.src_names) == 2 * layers + 1
    assert len(graph.dst_names) == 4 * layers + 1
    assert graph.edge_mask.sum() == graph.n_edges == 4 * layers**2 + 3 * layers + 1


@pytest.mark.parametrize("layers", [1, 3, 28])
def test_module_layout_sizes(layers):
    graph = build_graph(layers, "module")
    assert len(graph.dst_names) == 2 * layers + 1
    # attn{l} reads 1+2l sources, mlp{l} reads 2+2l, logits reads all 2L+1.
    assert graph.n_edges == sum(1 + 2 * i + 2 + 2 * i for i in range(layers)) + 2 * layers + 1


def test_names_and_forward_order():
    graph = build_graph(2, "paper")
    assert graph.src_names == ("embed", "attn0", "mlp0", "attn1", "mlp1")
    assert graph.dst_names == (
        "attn0.q",
        "attn0.k",
        "attn0.v",
        "mlp0",
        "attn1.q",
        "attn1.k",
        "attn1.v",
        "mlp1",
        "logits",
    )
    mask = graph.edge_mask
    src, dst = graph.src_names.index, graph.dst_names.index
    assert mask[src("embed"), dst("attn0.q")] and not mask[src("attn0"), dst("attn0.v")]
    assert mask[src("attn0"), dst("mlp0")] and not mask[src("mlp0"), dst("mlp0")]
    assert mask[src("mlp0"), dst("attn1.k")] and not mask[src("attn1"), dst("attn1.k")]
    assert mask[:, dst("logits")].all()
    # Every edge goes forward in time: a source is never read by a destination before it.
    assert np.array_equal(mask, np.arange(5)[:, None] < np.array(graph.n_upstream)[None])


def test_bad_layout_and_layers_are_refused():
    with pytest.raises(ValueError, match="unknown layout"):
        build_graph(2, "heads")
    with pytest.raises(ValueError, match="at least one layer"):
        build_graph(0)
