"""Regression tests for the known ways EAP goes silently wrong (docs/DESIGN.md §6)."""

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

import fd_reference
import tiny_models
from rlcircuits.eap import attribute, truncated_loss_input
from rlcircuits.errors import AttributionError


def _items(n: int, seed: int = 0) -> list:
    """n samples of different prompt and answer lengths."""
    rng = np.random.default_rng(seed)
    items = []
    for index in range(n):
        prompt = rng.integers(1, tiny_models.VOCAB, size=4 + 3 * index).tolist()
        answer = rng.integers(1, tiny_models.VOCAB, size=6 + 2 * index).tolist()
        items.append(truncated_loss_input(f"s{index}", prompt, answer, t_cut=5 + index))
    return items


def _residual_gradient_scores(model, item) -> list[list[float]]:
    """The pitfall: score mlp{l} with the gradient of the tensor HF passes to its pre-norm."""
    embeds = model.model.embed_tokens(torch.tensor([item.input_ids])).requires_grad_(True)
    sources, residuals = [embeds], []
    handles = []
    for layer in model.model.layers:
        handles.append(layer.self_attn.register_forward_hook(lambda m, a, o: sources.append(o[0])))
        handles.append(layer.mlp.register_forward_hook(lambda m, a, o: sources.append(o)))
        handles.append(layer.post_attention_layernorm.register_forward_pre_hook(lambda m, a: residuals.append(a[0])))
    logits = model(inputs_embeds=embeds).logits[0]
    for handle in handles:
        handle.remove()
    positions = torch.arange(len(item.targets)) + item.prompt_len - 1
    loss = -torch.log_softmax(logits, -1)[positions, torch.tensor(item.targets)].mean()
    grads = torch.autograd.grad(loss, residuals)
    # Sources in forward order: embed, attn0, mlp0, attn1, ...; mlp{l} reads the first 2 + 2l.
    return [[-(sources[u] * grads[i]).sum().item() for u in range(2 + 2 * i)] for i in range(len(grads))]


def test_whole_residual_gradient_is_detected():
    """Using the residual stream's gradient instead of the branch's is far from the FD truth,
    while the engine's branch gradient matches it: the exactness test can tell them apart."""
    model = tiny_models.exact_float64_norms(tiny_models.build("llama", layers=2, dtype=torch.float64))
    item = _items(1)[0]
    engine = attribute(model, [item]).scores[0]
    wrong = _residual_gradient_scores(model, item)
    src_names = ["embed", "attn0", "mlp0", "attn1"]
    worst_wrong = 0.0
    for layer, dst in enumerate(["mlp0", "mlp1"]):
        column = 4 * layer + 3
        for u in range(2 + 2 * layer):
            truth = fd_reference.edge_derivative(
                model, list(item.input_ids), list(item.targets), item.prompt_len, src_names[u], dst
            )
            assert engine[u, column] == pytest.approx(truth, rel=1e-6)
            worst_wrong = max(worst_wrong, abs(wrong[layer][u] - truth) / abs(truth))
    assert worst_wrong > 0.1


@pytest.mark.parametrize("arch", sorted(tiny_models.CONFIGS))
def test_batched_equals_one_at_a_time_float32(arch):
    model = tiny_models.build(arch, layers=3, dtype=torch.float32)
    items = _items(5)
    together = attribute(model, items, batch_tokens=100_000)
    alone = attribute(model, items, batch_tokens=1)
    scale = np.abs(alone.scores).max()
    np.testing.assert_allclose(together.scores, alone.scores, rtol=1e-5, atol=1e-5 * scale)
    np.testing.assert_allclose(together.losses, alone.losses, rtol=1e-6)
    assert together.scores.dtype == np.float32


def test_bfloat16_agrees_with_float32():
    model32 = tiny_models.build("mistral", layers=4, dtype=torch.float32)
    model16 = tiny_models.build("mistral", layers=4, dtype=torch.bfloat16)
    items = _items(3)
    full = attribute(model32, items)
    half = attribute(model16, items)
    assert half.scores.dtype == np.float32  # accumulated in float32 whatever the model dtype
    mask = full.graph.edge_mask
    for row in range(len(items)):
        rho = spearmanr(full.scores[row][mask], half.scores[row][mask]).statistic
        assert rho >= 0.99, (row, rho)


def test_model_is_left_as_it_was():
    model = tiny_models.build("qwen2", layers=2)
    ids = torch.tensor([[1, 2, 3, 4]])
    with torch.no_grad():
        before = model(input_ids=ids).logits
    model.lm_head.weight.requires_grad_(True)  # a caller's trainable parameter stays trainable
    attribute(model, _items(2))
    assert all(p.grad is None for p in model.parameters())
    assert model.lm_head.weight.requires_grad and not model.model.embed_tokens.weight.requires_grad
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())
    with torch.no_grad():
        assert torch.equal(model(input_ids=ids).logits, before)


def test_gradient_checkpointing_is_refused():
    model = tiny_models.build("llama")
    enable = getattr(model, "activation_checkpointing_enable", None) or model.gradient_checkpointing_enable
    enable()
    with pytest.raises(AttributionError, match="checkpointing"):
        attribute(model, _items(1))


def test_bad_inputs_are_refused_with_the_sample_named():
    model = tiny_models.build("llama")
    with pytest.raises(AttributionError, match="empty selection"):
        attribute(model, [])
    bad = truncated_loss_input("q-out", [1, 2], [3, tiny_models.VOCAB], t_cut=2)
    with pytest.raises(AttributionError, match=rf"q-out: token id {tiny_models.VOCAB} is outside"):
        attribute(model, [bad])


def test_non_finite_scores_are_refused():
    model = tiny_models.build("llama")
    model.model.embed_tokens.weight[50] = float("inf")  # read by the samples, not by the 4-token probe
    items = [truncated_loss_input(name, [7, 50, 8], [9, 10], 2) for name in ("x1", "x2")]
    with pytest.raises(AttributionError, match=r"non-finite scores or loss for 2 sample.*x1, x2"):
        attribute(model, items)


def test_a_branch_run_twice_is_refused():
    """Recomputation (as activation checkpointing does) would overwrite a captured node."""
    model = tiny_models.build("llama")
    layer = model.model.layers[0]

    def recomputing_forward(hidden_states, **kwargs):
        attn, _ = layer.self_attn(layer.input_layernorm(hidden_states), **kwargs)
        mid = hidden_states + attn
        normed = layer.post_attention_layernorm(mid)
        layer.mlp(normed)  # a wasted recomputation, as a checkpointed backward would do
        return tiny_models.layer_output(mid + layer.mlp(normed))

    layer.forward = recomputing_forward
    with pytest.raises(AttributionError, match="captured once per pass, got mlp0 x2"):
        attribute(model, _items(1))
