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


def source_outputs(model: nn.Module, embeds: torch.Tensor) -> dict[str, torch.Tensor]:
    """What each source adds to the residual stream in a run from input embeddings ``embeds`` [1, T, d]."""
    outputs: dict[str, torch.Tensor] = {"embed": embeds}
    handles = []
    for index, layer in enumerate(_layers(model)):
        handles.append(
            layer.self_attn.register_forward_hook(lambda m, a, o, i=index: outputs.__setitem__(f"attn{i}", o[0]))
        )
        handles.append(layer.mlp.register_forward_hook(lambda m, a, o, i=index: outputs.__setitem__(f"mlp{i}", o)))
    with torch.no_grad():
        model(inputs_embeds=embeds)
    for handle in handles:
        handle.remove()
    return outputs


def embeddings(model: nn.Module, input_ids: list[int]) -> torch.Tensor:
    """[1, T, d] input embeddings of a token sequence."""
    with torch.no_grad():
        return model.model.embed_tokens(torch.tensor([input_ids]))


def loss_at(model: nn.Module, embeds: torch.Tensor, targets: list[int], prompt_len: int) -> float:
    """Mean NLL of targets[j] predicted at position prompt_len - 1 + j from input embeddings, in float64."""
    with torch.no_grad():
        logits = model(inputs_embeds=embeds).logits[0].double()
    logp = torch.log_softmax(logits, dim=-1)
    positions = torch.arange(len(targets)) + prompt_len - 1
    return float(-logp[positions, torch.tensor(targets)].mean())


def loss(model: nn.Module, input_ids: list[int], targets: list[int], prompt_len: int) -> float:
    """Mean NLL of targets[j] predicted at position prompt_len - 1 + j, in float64."""
    return loss_at(model, embeddings(model, input_ids), targets, prompt_len)


def _perturbing_hook(model: nn.Module, dst: str, delta: torch.Tensor) -> list:
    """Install hooks that add ``delta`` to destination ``dst``'s own input only."""
    add = lambda m, args: (args[0] + delta, *args[1:])  # noqa: E731
    if dst == "logits":
        return [model.model.norm.register_forward_pre_hook(add)]
    head_match = re.fullmatch(r"attn(\d+)\.h(\d+)\.([qkv])", dst)
    if head_match:
        return _perturb_one_head(
            model, _layers(model)[int(head_match.group(1))], int(head_match.group(2)), head_match.group(3), delta
        )
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


def _perturb_one_head(model: nn.Module, layer: nn.Module, head: int, branch: str, delta: torch.Tensor) -> list:
    """Head ``head``'s rows of q/k/v_proj read norm(x + delta); every other row reads norm(x).
    Only for models whose key/value heads are as many as the query heads (no grouping)."""
    attn = layer.self_attn
    assert attn.num_key_value_groups == 1, "the reference perturbs one head of an ungrouped model"
    residual: dict[str, torch.Tensor] = {}
    keep = layer.input_layernorm.register_forward_pre_hook(lambda m, args: residual.__setitem__("x", args[0]))
    proj = getattr(attn, f"{branch}_proj")
    width = attn.head_dim

    def swap(module, args, output):
        perturbed = module.forward(layer.input_layernorm.forward(residual["x"] + delta))
        rows = slice(head * width, (head + 1) * width)
        return torch.cat([output[..., : rows.start], perturbed[..., rows], output[..., rows.stop :]], dim=-1)

    return [keep, proj.register_forward_hook(swap)]


def head_outputs(model: nn.Module, embeds: torch.Tensor) -> dict[str, torch.Tensor]:
    """Each attention head's share of its layer's attention output: its slice of o_proj's input through
    its columns of o_proj's weight (o_proj has no bias in the tested families)."""
    outputs: dict[str, torch.Tensor] = {}
    handles = []
    for index, layer in enumerate(_layers(model)):
        attn = layer.self_attn

        def keep(m, args, i=index, attn=attn):
            width = attn.head_dim
            for head in range(args[0].shape[-1] // width):
                cols = slice(head * width, (head + 1) * width)
                outputs[f"attn{i}.h{head}"] = args[0][..., cols] @ m.weight[:, cols].T

        handles.append(attn.o_proj.register_forward_pre_hook(keep))
    with torch.no_grad():
        model(inputs_embeds=embeds)
    for handle in handles:
        handle.remove()
    return outputs


def branch_derivative(
    model: nn.Module,
    embeds: torch.Tensor,
    targets: list[int],
    prompt_len: int,
    dst: str,
    direction: torch.Tensor,
    h: float = 1e-2,
) -> float:
    """d loss / d delta of removing delta * ``direction`` from dst's branch alone, at input ``embeds``.

    A 6th-order central difference: the high order lets h be large enough that float64 rounding of
    the loss (~1e-16 / h) stays far below the 1e-6 tolerance even for edges whose score is a
    millionth of the loss.
    """

    def f(step: float) -> float:
        handles = _perturbing_hook(model, dst, -step * direction)
        try:
            return loss_at(model, embeds, targets, prompt_len)
        finally:
            for handle in handles:
                handle.remove()

    d1, d2, d3 = (f(k * h) - f(-k * h) for k in (1, 2, 3))
    return (45 * d1 - 9 * d2 + d3) / (60 * h)


def edge_derivative(
    model: nn.Module, input_ids: list[int], targets: list[int], prompt_len: int, src: str, dst: str, h: float = 1e-2
) -> float:
    """The EAP score of src -> dst: the derivative of removing the source's clean output from dst's branch."""
    embeds = embeddings(model, input_ids)
    sources = source_outputs(model, embeds) | head_outputs(model, embeds)
    return branch_derivative(model, embeds, targets, prompt_len, dst, sources[src], h)


def ig_edge_scores(
    model: nn.Module,
    input_ids: list[int],
    targets: list[int],
    prompt_len: int,
    edges: list[tuple[str, str]],
    baseline: torch.Tensor,
    steps: int,
    h: float = 2e-3,
) -> list[float]:
    """EAP-IG scores of ``edges`` from their definition: the mean over k = 1..m of the derivative, at input
    x' + (k/m)(x - x'), of removing delta * (o_src(x) - o_src(x')) from dst's branch.

    The loss is more curved at the path's points near x' than at x: h = 1e-2 leaves a truncation
    error of up to 4e-6 there on the tiny models, h = 3e-3 one of 3e-9.
    """
    clean = embeddings(model, input_ids)
    at_clean, at_baseline = source_outputs(model, clean), source_outputs(model, baseline)
    points = [baseline + (k / steps) * (clean - baseline) for k in range(1, steps + 1)]
    return [
        sum(
            branch_derivative(model, point, targets, prompt_len, dst, at_clean[src] - at_baseline[src], h)
            for point in points
        )
        / steps
        for src, dst in edges
    ]
