"""Independent reference for edge scores: finite differences of the loss in float64.

An edge u -> v is removed from *only* destination v's branch by feeding that branch
H_v - delta * O_u while every other reader of the residual stream sees the clean value. The
derivative of the loss at delta = 0 is the EAP score of the edge. No code from
``rlcircuits.eap`` is used here: sources, branches and the loss are re-derived from the HF model.
"""

from __future__ import annotations

import re

import torch
from torch import nn


def _layers(model: nn.Module):
    return model.model.layers


def source_outputs(model: nn.Module, input_ids: torch.Tensor) -> dict[str, torch.Tensor]:
    """What each source adds to the residual stream in a clean run."""
    outputs: dict[str, torch.Tensor] = {}
    handles = [model.model.embed_tokens.register_forward_hook(lambda m, a, o: outputs.__setitem__("embed", o))]
    for index, layer in enumerate(_layers(model)):
        handles.append(
            layer.self_attn.register_forward_hook(lambda m, a, o, i=index: outputs.__setitem__(f"attn{i}", o[0]))
        )
        handles.append(layer.mlp.register_forward_hook(lambda m, a, o, i=index: outputs.__setitem__(f"mlp{i}", o)))
    with torch.no_grad():
        model(input_ids=input_ids)
    for handle in handles:
        handle.remove()
    return outputs


def loss(model: nn.Module, input_ids: list[int], targets: list[int], prompt_len: int) -> float:
    """Mean NLL of targets[j] predicted at position prompt_len - 1 + j, in float64."""
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([input_ids])).logits[0].double()
    logp = torch.log_softmax(logits, dim=-1)
    positions = torch.arange(len(targets)) + prompt_len - 1
    return float(-logp[positions, torch.tensor(targets)].mean())


def _perturbing_hook(model: nn.Module, dst: str, delta: torch.Tensor) -> list:
    """Install hooks that add ``delta`` to destination ``dst``'s own input only."""
    add = lambda m, args: (args[0] + delta, *args[1:])  # noqa: E731
    if dst == "logits":
        return [model.model.norm.register_forward_pre_hook(add)]
    match = re.fullmatch(r"(attn|mlp)(\d+)(?:\.([qkv]))?", dst)
    assert match, dst
    kind, layer, branch = match.group(1), _layers(model)[int(match.group(2))], match.group(3)
    if kind == "mlp":
        return [layer.post_attention_layernorm.register_forward_pre_hook(add)]
    if branch is None:
        return [layer.input_layernorm.register_forward_pre_hook(add)]
    # q/k/v: recompute the shared pre-norm on the perturbed residual for this projection only.
    residual: dict[str, torch.Tensor] = {}
    keep = layer.input_layernorm.register_forward_pre_hook(lambda m, args: residual.__setitem__("x", args[0]))
    proj = getattr(layer.self_attn, f"{branch}_proj")
    swap = proj.register_forward_pre_hook(lambda m, args: (layer.input_layernorm.forward(residual["x"] + delta),))
    return [keep, swap]


def edge_derivative(
    model: nn.Module, input_ids: list[int], targets: list[int], prompt_len: int, src: str, dst: str, h: float = 1e-2
) -> float:
    """d loss / d delta of removing delta * O_src from dst's branch, 6th-order central difference.

    The high order lets h be large enough that float64 rounding of the loss (~1e-16 / h) stays
    far below the 1e-6 tolerance even for edges whose score is a millionth of the loss.
    """
    source = source_outputs(model, torch.tensor([input_ids]))[src]

    def f(step: float) -> float:
        handles = _perturbing_hook(model, dst, -step * source)
        try:
            return loss(model, input_ids, targets, prompt_len)
        finally:
            for handle in handles:
                handle.remove()

    d1, d2, d3 = (f(k * h) - f(-k * h) for k in (1, 2, 3))
    return (45 * d1 - 9 * d2 + d3) / (60 * h)
