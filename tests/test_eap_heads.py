"""Per-head graphs: exact against finite differences, and the module graph is their sum (linearity)."""

import numpy as np
import pytest
import torch

import fd_reference
import tiny_models
from rlcircuits.eap import MethodSettings, attribute, build_graph, truncated_loss_input
from rlcircuits.errors import SettingsError

ITEMS = [
    truncated_loss_input("long", [3, 5, 7, 9, 11, 13], [20, 21, 22, 23, 24, 25], t_cut=4),
    truncated_loss_input("short", [2, 4], [60, 61, 62], t_cut=3),
]


def _exact_model(arch: str) -> torch.nn.Module:
    return tiny_models.exact_float64_norms(tiny_models.build(arch, layers=2, dtype=torch.float64))


def _module_name(name: str) -> str:
    """attn1.h2.q -> attn1.q, attn1.h2 -> attn1: the module-level node a head-level node belongs to."""
    return ".".join(part for part in name.split(".") if not (part[0] == "h" and part[1:].isdigit()))


def test_head_edges_equal_finite_differences():
    """Llama (as many key/value heads as query heads): every head-level edge, both samples in one batch."""
    model = _exact_model("llama")
    result = attribute(model, ITEMS, granularity="head", batch_tokens=10_000)
    graph = result.graph
    assert graph.n_heads == 4 and "attn1.h3" in graph.src_names and "attn1.h3.k" in graph.dst_names
    for row, item in enumerate(ITEMS[:1]):
        for u, v in zip(*np.nonzero(graph.edge_mask), strict=True):
            reference = fd_reference.edge_derivative(
                model, list(item.input_ids), list(item.targets), item.prompt_len, graph.src_names[u], graph.dst_names[v]
            )
            assert result.scores[row, u, v] == pytest.approx(reference, rel=1e-6, abs=1e-10), (
                graph.src_names[u],
                graph.dst_names[v],
            )
    assert np.all(result.scores[:, ~graph.edge_mask] == 0)


# Qwen2 has grouped-query attention (2 key/value heads for 4 query heads): its k and v edges are
# split per query head, and must still add up to the module-level (finite-difference exact) edge.
@pytest.mark.parametrize("arch", ["llama", "qwen2"])
@pytest.mark.parametrize(
    ("layout", "method"),
    [("paper", MethodSettings()), ("module", MethodSettings()), ("paper", MethodSettings("eap_ig", 3, "mean"))],
)
def test_a_module_edge_is_the_sum_of_its_head_edges(arch, layout, method):
    model = _exact_model(arch)
    module = attribute(model, ITEMS, layout=layout, method=method)
    heads = attribute(model, ITEMS, layout=layout, method=method, granularity="head")
    summed = np.zeros_like(module.scores)
    src = [module.graph.src_names.index(_module_name(name)) for name in heads.graph.src_names]
    dst = [module.graph.dst_names.index(_module_name(name)) for name in heads.graph.dst_names]
    for u, uu in enumerate(src):
        for v, vv in enumerate(dst):
            summed[:, uu, vv] += heads.scores[:, u, v]
    np.testing.assert_allclose(summed, module.scores, rtol=1e-10, atol=1e-13)
    np.testing.assert_array_equal(heads.losses, module.losses)
    assert heads.graph.edge_mask.sum() > module.graph.edge_mask.sum()


def test_the_model_is_restored_after_ungrouping():
    model = tiny_models.build("qwen2", layers=2)
    groups = [layer.self_attn.num_key_value_groups for layer in model.model.layers]
    attribute(model, ITEMS, granularity="head")
    assert [layer.self_attn.num_key_value_groups for layer in model.model.layers] == groups == [2, 2]
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())


def test_unknown_granularity_is_refused():
    with pytest.raises(SettingsError, match="unknown granularity 'neuron'; choose one of module, head"):
        build_graph(2, "paper", "neuron")


def test_the_metrics_run_on_a_head_graph(tmp_path):
    """analyze_cell reads only scores, the edge mask and the node names: a head graph is analysed as is."""
    from rlcircuits.analysis import analyze_cell
    from rlcircuits.contracts import load_attribution, save_attribution

    items = [truncated_loss_input(f"q{k}", [3 + k, 5, 7, 9], [20 + k, 21, 22, 23, 24], t_cut=4) for k in range(6)]
    files = {}
    for role, seed in (("base", 0), ("rl", 1)):
        result = attribute(tiny_models.build("qwen2", seed=seed), items, granularity="head")
        save_attribution(tmp_path / f"{role}.npz", result, t_cut=4)
        files[role] = load_attribution(tmp_path / f"{role}.npz")
    record = analyze_cell(files["base"], files["rl"], label="tiny/heads", resamples=50)
    assert len(record["src_names"]) == 11 and len(record["output_edge_entropy"]["rl"]) == 11
    for name, metric in record["metrics"].items():
        assert np.isfinite(metric["rl"]) and np.isfinite(metric["base"]), name
