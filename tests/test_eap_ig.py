"""EAP-IG (inputs variant): exact against its definition in float64, EAP as its m = 1 case, completeness."""

import numpy as np
import pytest
import torch

import fd_reference
import tiny_models
from rlcircuits.eap import MethodSettings, attribute, truncated_loss_input
from rlcircuits.errors import SettingsError

ITEMS = [
    truncated_loss_input("long", [3, 5, 7, 9, 11, 13], [20, 21, 22, 23, 24, 25], t_cut=4),
    truncated_loss_input("short", [2, 4], [60, 61, 62], t_cut=3),
]


def _with_biases(model: torch.nn.Module) -> torch.nn.Module:
    """HF initialises biases to zero; random ones make o(0) != 0, as in a trained Qwen2."""
    generator = torch.Generator().manual_seed(1)
    for name, param in model.named_parameters():
        if name.endswith(".bias"):
            param.copy_(0.2 * torch.randn(param.shape, generator=generator, dtype=param.dtype))
    return model


def _exact_model(arch: str) -> torch.nn.Module:
    model = _with_biases(tiny_models.build(arch, layers=2, dtype=torch.float64))
    return tiny_models.exact_float64_norms(model)


def _baseline(model, kind: str, length: int) -> torch.Tensor:
    """x' written out independently: the mean embedding row (or zero) at each of ``length`` positions."""
    weight = model.model.embed_tokens.weight
    row = weight.mean(dim=0) if kind == "mean" else torch.zeros(weight.shape[1], dtype=weight.dtype)
    return row.repeat(1, length, 1)


# Llama (no biases, full attention) and Qwen2 (q/k/v biases, so o(0) != 0; grouped-query attention).
@pytest.mark.parametrize(("arch", "kind"), [("llama", "mean"), ("qwen2", "mean"), ("qwen2", "zero")])
def test_scores_equal_the_finite_difference_sum(arch, kind):
    model = _exact_model(arch)
    steps = 2
    result = attribute(model, ITEMS, method=MethodSettings("eap_ig", steps, kind), batch_tokens=10_000)
    graph = result.graph
    assert result.scores.dtype == np.float64
    edges = [(graph.src_names[u], graph.dst_names[v]) for u, v in zip(*np.nonzero(graph.edge_mask), strict=True)]
    for row, item in enumerate(ITEMS):
        baseline = _baseline(model, kind, len(item.input_ids))
        expected = fd_reference.ig_edge_scores(
            model, list(item.input_ids), list(item.targets), item.prompt_len, edges, baseline, steps
        )
        got = result.scores[row][graph.edge_mask]
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9 * np.abs(expected).max())
        assert result.baseline_losses[row] == pytest.approx(
            fd_reference.loss_at(model, baseline, list(item.targets), item.prompt_len), rel=1e-12
        )
        assert result.losses[row] == pytest.approx(
            fd_reference.loss(model, list(item.input_ids), list(item.targets), item.prompt_len), rel=1e-12
        )
    assert np.all(result.scores[:, ~graph.edge_mask] == 0)


def test_one_step_from_zero_is_eap_on_a_bias_free_model():
    """m = 1 is the clean gradient times o(x) - o(x'); from zero embeddings a bias-free model's
    sources all output zero, so that is EAP's own product."""
    model = tiny_models.build("llama", layers=3)
    eap = attribute(model, ITEMS)
    ig = attribute(model, ITEMS, method=MethodSettings("eap_ig", 1, "zero"))
    np.testing.assert_array_equal(ig.scores, eap.scores)
    np.testing.assert_array_equal(ig.losses, eap.losses)
    # Qwen2's q/k/v biases make o(0) non-zero: the two then differ, so the equality above can fail.
    qwen = _with_biases(tiny_models.build("qwen2", layers=3))
    ig_qwen = attribute(qwen, ITEMS, method=MethodSettings("eap_ig", 1, "zero")).scores
    assert not np.allclose(ig_qwen, attribute(qwen, ITEMS).scores, rtol=1e-3)


@pytest.mark.parametrize("arch", ["llama", "qwen2"])
def test_completeness_with_the_mean_baseline(arch):
    """The input node's outgoing scores are -grad L . (x - x') averaged along the path, so as m grows
    they sum to -(L(x) - L(x')); the right Riemann sum's gap shrinks like 1/m."""
    model = _exact_model(arch)
    item = ITEMS[:1]
    gaps = []
    for steps in (16, 64):
        result = attribute(model, item, method=MethodSettings("eap_ig", steps, "mean"))
        total = result.scores[0, 0].sum()
        change = -(result.losses[0] - result.baseline_losses[0])
        gaps.append(abs(total - change) / abs(change))
    assert gaps[1] < 0.01 and gaps[1] < gaps[0] / 2, gaps


def test_bfloat16_accumulates_in_float32():
    model = tiny_models.build("mistral", layers=2, dtype=torch.bfloat16)
    result = attribute(model, ITEMS, method=MethodSettings("eap_ig", 2, "mean"))
    assert result.scores.dtype == np.float32 and np.isfinite(result.scores).all()
    assert np.isfinite(result.baseline_losses).all()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (dict(name="ig"), "unknown method 'ig'; choose one of eap, eap_ig"),
        (dict(name="eap_ig", ig_steps=0), "ig_steps must be >= 1, got 0"),
        (dict(name="eap_ig", ig_baseline="blur"), "unknown ig_baseline 'blur'; choose one of mean, zero"),
    ],
)
def test_bad_settings_are_refused(settings, message):
    with pytest.raises(SettingsError, match=message):
        MethodSettings(**settings)
