"""Edge Attribution Patching (EAP) on Hugging Face pre-norm decoders, as pinned in docs/DESIGN.md §4.

Score of edge u -> v for one sample: W[u, v] = -sum_{positions, hidden} O_u * dL/dH_v, where
O_u is what source u adds to the residual stream and H_v is destination v's *own* pre-norm copy
of the residual stream. One forward and one backward per batch give every matrix:

* forward hooks copy each source's output into a buffer O [B, n_src, T, d];
* forward pre-hooks hand each destination branch a private view of its input, and a tensor
  hook on that view copies the branch gradient into a buffer G [B, n_dst, T, d]. Reading the
  gradient of the tensor HF passes in would give the whole residual stream's gradient;
* q, k and v share one pre-norm, so their private views sit on the norm's *output*; their
  gradients are mapped back to the residual stream with the norm's exact vector-Jacobian
  product;
* one contraction S = -O . G per batch (at least float32) gives all edges of all samples.

EAP-IG (docs/DESIGN.md §4, inputs variant) runs the same hooked pass at m points of the straight path
from a baseline input x' (per position the mean embedding row, or zero) to the clean input x:
O becomes the difference of source outputs o_u(x) - o_u(x') (one extra forward at x', no
backward) and G the mean branch gradient over the points x' + (k/m)(x - x'), k = 1..m.

At head granularity each attention head is a source (its slice of o_proj's input through its
columns of o_proj) and each head's q, k and v are destinations: a forward hook on each
projection captures its output gradient per head, which goes back through that head's rows of
the projection and then the norm's VJP. Grouped-query attention is run ungrouped for the pass
(each key/value head repeated once per query head of its group, as the attention kernel itself
does), so that each query head's k and v gradients come apart; by linearity a module-level
edge is the sum of its head-level edges.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from rlcircuits.eap_adapter import (
    DecoderParts,
    find_decoder,
    first_input,
    output_tensor,
    verify_prenorm,
    with_first_input,
)
from rlcircuits.errors import AttributionError, SettingsError
from rlcircuits.options import (
    GRANULARITIES,
    IG_BASELINES,
    LAYOUTS,
    METHODS,
    Granularity,
    IgBaseline,
    Layout,
    LossText,
    Method,
)

_QKV_SUFFIXES = ("q", "k", "v")
# Upper bound, in bytes, of the float32 temporaries of one block of the score contraction.
_CONTRACTION_BLOCK_BYTES = 256 * 2**20


@dataclass(frozen=True)
class AttributionSettings:
    """Which graph is scored against which answer, and how many tokens go through one forward.

    ``loss`` names whose answer the truncated loss reads (the caller builds the inputs from it):
    each model its own (the paper's), or the base's for both models of a pair.
    """

    layout: Layout = "paper"
    granularity: Granularity = "module"
    loss: LossText = "own_answer"
    batch_tokens: int = 4096  # rows x padded length per forward


@dataclass(frozen=True)
class Graph:
    """Nodes and edges of the attribution graph; destination v reads sources 0..n_upstream[v]-1."""

    layout: Layout
    n_layers: int
    src_names: tuple[str, ...]
    dst_names: tuple[str, ...]
    n_upstream: tuple[int, ...]
    granularity: Granularity = AttributionSettings.granularity
    n_heads: int = 1  # attention heads per layer that are nodes of their own (1 at module granularity)

    @property
    def edge_mask(self) -> np.ndarray:
        """bool [n_src, n_dst]: u -> v is a real edge iff u is computed before v."""
        return np.arange(len(self.src_names))[:, None] < np.asarray(self.n_upstream)[None, :]

    @property
    def n_edges(self) -> int:
        return int(sum(self.n_upstream))

    def dst_index(self, layer: int, branch: str, head: int | None = None) -> int:
        """Column of a layer's destination; branch is q/k/v/mlp (paper) or attn/mlp (module); ``head`` at
        head granularity."""
        attn = f"attn{layer}" if head is None else f"attn{layer}.h{head}"
        if branch in _QKV_SUFFIXES:
            return self.dst_names.index(f"{attn}.{branch}")
        return self.dst_names.index(attn if branch == "attn" else f"{branch}{layer}")

    def src_index(self, layer: int, branch: str, head: int | None = None) -> int:
        """Row of a layer's source: attn (or one of its heads) or mlp."""
        if branch == "mlp":
            return self.src_names.index(f"mlp{layer}")
        return self.src_names.index(f"attn{layer}" if head is None else f"attn{layer}.h{head}")


def build_graph(
    n_layers: int,
    layout: Layout = AttributionSettings.layout,
    granularity: Granularity = AttributionSettings.granularity,
    n_heads: int = 1,
) -> Graph:
    """Sources embed, attn{l} (or its heads attn{l}.h{i}), mlp{l}; destinations per layout, in forward order."""
    if layout not in LAYOUTS:
        raise SettingsError(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
    if granularity not in GRANULARITIES:
        raise SettingsError(f"unknown granularity {granularity!r}; choose one of {', '.join(GRANULARITIES)}")
    if n_layers < 1:
        raise ValueError("a graph needs at least one layer")
    heads = [f".h{i}" for i in range(n_heads)] if granularity == "head" else [""]
    src = ["embed"]
    dst: list[str] = []
    upstream: list[int] = []
    for layer in range(n_layers):
        before_attn = len(src)
        suffixes = [f".{s}" for s in _QKV_SUFFIXES] if layout == "paper" else [""]
        attn_dsts = [f"attn{layer}{h}{s}" for h in heads for s in suffixes]
        dst += attn_dsts
        upstream += [before_attn] * len(attn_dsts)
        src += [f"attn{layer}{h}" for h in heads]
        dst.append(f"mlp{layer}")
        upstream.append(len(src))
        src.append(f"mlp{layer}")
    dst.append("logits")
    upstream.append(len(src))
    return Graph(layout, n_layers, tuple(src), tuple(dst), tuple(upstream), granularity, len(heads))


@dataclass(frozen=True)
class LossInput:
    """One sample's truncated self-entropy problem: targets[j] is predicted at prompt_len - 1 + j."""

    sample_id: str
    input_ids: tuple[int, ...]
    targets: tuple[int, ...]
    prompt_len: int


def truncated_loss_input(sample_id: str, prompt_ids: Sequence[int], answer_ids: Sequence[int], t_cut: int) -> LossInput:
    """Input = prompt + answer[:T_cut-1], targets = answer[:T_cut] (docs/DESIGN.md §4)."""
    if not prompt_ids:
        raise AttributionError(f"sample {sample_id}: empty prompt_token_ids")
    if not answer_ids:
        raise AttributionError(f"sample {sample_id}: empty answer_token_ids")
    if t_cut < 1:
        raise ValueError(f"t_cut must be >= 1, got {t_cut}")
    return LossInput(
        sample_id=str(sample_id),
        input_ids=tuple(int(t) for t in prompt_ids) + tuple(int(t) for t in answer_ids[: t_cut - 1]),
        targets=tuple(int(t) for t in answer_ids[:t_cut]),
        prompt_len=len(prompt_ids),
    )


@dataclass(frozen=True)
class PaddedBatch:
    """Right-padded token ids, attention mask, and targets laid out over the kept logit rows."""

    input_ids: torch.Tensor  # long [B, T]
    attention_mask: torch.Tensor  # long [B, T]
    keep: torch.Tensor  # long [K], positions whose logits the loss reads
    targets: torch.Tensor  # long [B, K], -100 where a row has no target
    n_targets: torch.Tensor  # long [B]


def pad_batch(batch: Sequence[LossInput], device: torch.device | str) -> PaddedBatch:
    """Right padding keeps every real position's computation identical to an unpadded run."""
    width = max(len(item.input_ids) for item in batch)
    ids = torch.zeros(len(batch), width, dtype=torch.long)
    mask = torch.zeros(len(batch), width, dtype=torch.long)
    first = min(item.prompt_len - 1 for item in batch)
    last = max(item.prompt_len - 1 + len(item.targets) for item in batch)
    targets = torch.full((len(batch), last - first), -100, dtype=torch.long)
    for row, item in enumerate(batch):
        ids[row, : len(item.input_ids)] = torch.tensor(item.input_ids)
        mask[row, : len(item.input_ids)] = 1
        start = item.prompt_len - 1 - first
        targets[row, start : start + len(item.targets)] = torch.tensor(item.targets)
    return PaddedBatch(
        input_ids=ids.to(device),
        attention_mask=mask.to(device),
        keep=torch.arange(first, last, device=device),
        targets=targets.to(device),
        n_targets=torch.tensor([len(item.targets) for item in batch], device=device),
    )


def truncated_nll(model: nn.Module, embeds: torch.Tensor, batch: PaddedBatch) -> torch.Tensor:
    """Per-sample mean NLL of the targets, in float32 (float64 for float64 models)."""
    logits = model(
        inputs_embeds=embeds, attention_mask=batch.attention_mask, logits_to_keep=batch.keep, use_cache=False
    ).logits
    logits = logits.to(torch.promote_types(logits.dtype, torch.float32))
    nll = F.cross_entropy(logits.transpose(1, 2), batch.targets, ignore_index=-100, reduction="none")
    return nll.sum(dim=1) / batch.n_targets


def plan_batches(lengths: Sequence[int], batch_tokens: int) -> list[list[int]]:
    """Group sample indices, longest first, so that rows x padded width <= batch_tokens."""
    if batch_tokens < 1:
        raise SettingsError("batch_tokens must be positive")
    batches: list[list[int]] = []
    for index in sorted(range(len(lengths)), key=lambda i: (-lengths[i], i)):
        current = batches[-1] if batches else None
        if current is not None and (len(current) + 1) * lengths[current[0]] <= batch_tokens:
            current.append(index)
        else:
            batches.append([index])
    return batches


class _BatchHooks:
    """Hooks that fill O (source outputs) and G (branch gradients) for one padded batch."""

    def __init__(self, parts: DecoderParts, graph: Graph, n_rows: int, width: int, dtype: torch.dtype, device) -> None:
        # Uninitialised on purpose: every slot is written once per pass, and `check_complete`
        # refuses a pass in which some hook did not fire or fired twice.
        self.sources = torch.empty((n_rows, len(graph.src_names), width, parts.hidden_size), dtype=dtype, device=device)
        self.grads = torch.empty((n_rows, len(graph.dst_names), width, parts.hidden_size), dtype=dtype, device=device)
        self._fired_src: Counter[int] = Counter()
        self._fired_dst: Counter[int] = Counter()
        self.attn_norm_inputs: list[torch.Tensor | None] = [None] * graph.n_layers
        self._parts, self._graph = parts, graph
        self._handles: list = []
        # Head granularity: each projection's output gradient, per query head ([B, T, H, head_dim]).
        self.projection_grads: dict[tuple[int, str], torch.Tensor] = {}
        self._regrouped: list[tuple[nn.Module, int]] = []
        self._fired_projections: Counter[tuple[int, str]] = Counter()

    @contextlib.contextmanager
    def installed(self, *, grads: bool = True) -> Iterator[None]:
        """Register the hooks for one pass, then remove them; ``grads=False`` captures source outputs only
        (a forward without backward, as EAP-IG's baseline pass is)."""
        parts, graph = self._parts, self._graph
        self._fired_src.clear()
        self._fired_dst.clear()
        self._fired_projections.clear()
        try:
            for layer, modules in enumerate(parts.layers):
                if graph.granularity == "head":
                    self._on_head_outputs(modules.attn, layer)
                else:
                    self._on_output(modules.attn, graph.src_index(layer, "attn"))
                self._on_output(modules.mlp, graph.src_index(layer, "mlp"))
                if not grads:
                    continue
                self._private_input(modules.mlp_norm, graph.dst_index(layer, "mlp"))
                if graph.granularity == "head":
                    self._keep_input(modules.attn_norm, layer)
                    self._ungroup(modules.attn)
                    for suffix, proj in zip(_QKV_SUFFIXES, modules.qkv, strict=True):
                        self._on_projection(proj, layer, suffix)
                elif graph.layout == "module":
                    self._private_input(modules.attn_norm, graph.dst_index(layer, "attn"))
                else:
                    self._keep_input(modules.attn_norm, layer)
                    for suffix, proj in zip(_QKV_SUFFIXES, modules.qkv, strict=True):
                        self._private_input(proj, graph.dst_index(layer, suffix))
            if grads:
                self._private_input(parts.final_norm, len(graph.dst_names) - 1)
            yield
        finally:
            for handle in self._handles:
                handle.remove()
            self._handles.clear()
            for attn, groups in self._regrouped:
                attn.num_key_value_groups = groups
            self._regrouped.clear()

    def store_source(self, src: int, output: torch.Tensor) -> None:
        self.sources[:, src].copy_(output.detach())
        self._fired_src[src] += 1

    def check_complete(self, *, grads: bool = True) -> None:
        """Every source output (and branch gradient, with ``grads``) must be captured exactly once per pass
        (a module run twice, e.g. by activation checkpointing, would corrupt the buffers)."""
        counts = [(name, self._fired_src[i]) for i, name in enumerate(self._graph.src_names)]
        if grads and self._graph.granularity == "head":  # a head's q/k/v gradients come from its projections
            counts += [(name, self._fired_dst[i]) for i, name in enumerate(self._graph.dst_names) if ".h" not in name]
            counts += [
                (f"attn{layer}.{suffix}_proj", self._fired_projections[(layer, suffix)])
                for layer in range(self._graph.n_layers)
                for suffix in _QKV_SUFFIXES
            ]
        elif grads:
            counts += [(name, self._fired_dst[i]) for i, name in enumerate(self._graph.dst_names)]
        wrong = [f"{name} x{count}" for name, count in counts if count != 1]
        if wrong:
            raise AttributionError(
                f"{self._parts.architecture}: each node must be captured once per pass, got {', '.join(wrong[:8])}"
            )

    def _on_output(self, module: nn.Module, src: int) -> None:
        def hook(_module, _args, output) -> None:
            self.store_source(src, output_tensor(output))

        self._handles.append(module.register_forward_hook(hook))

    def _on_head_outputs(self, attn: nn.Module, layer: int) -> None:
        """Each head's share of the attention output: o_proj's input slice of head i times W_o's columns."""
        o_proj = attn.o_proj
        if getattr(o_proj, "bias", None) is not None:
            raise AttributionError(
                f"{self._parts.architecture}: o_proj has a bias, which no single head owns; use granularity module"
            )
        first = self._graph.src_index(layer, "attn", 0)
        n_heads = self._graph.n_heads

        def hook(_module, args, kwargs) -> None:
            mixed = first_input(args, kwargs)
            per_head = mixed.reshape(*mixed.shape[:-1], n_heads, -1)
            weight = o_proj.weight.reshape(o_proj.weight.shape[0], n_heads, -1)
            self.sources[:, first : first + n_heads].copy_(torch.einsum("bthe,dhe->bhtd", per_head.detach(), weight))
            for head in range(n_heads):
                self._fired_src[first + head] += 1

        self._handles.append(o_proj.register_forward_pre_hook(hook, with_kwargs=True))

    def _ungroup(self, attn: nn.Module) -> None:
        """Grouped-query attention is run with one key/value head per query head (the projection hooks
        repeat each key/value head), so that each query head's k and v gradients come apart."""
        groups = int(getattr(attn, "num_key_value_groups", 1))
        if groups > 1:
            self._regrouped.append((attn, groups))
            attn.num_key_value_groups = 1

    def _on_projection(self, proj: nn.Module, layer: int, suffix: str) -> None:
        """Capture a q/k/v projection's output gradient per query head (key/value heads repeated per group)."""
        n_heads = self._graph.n_heads
        head_dim = self._parts.layers[layer].qkv[0].out_features // n_heads
        heads_here = proj.out_features // head_dim

        def store(grad: torch.Tensor) -> None:  # must return None
            self.projection_grads[(layer, suffix)] = grad.reshape(*grad.shape[:-1], n_heads, -1).clone()
            self._fired_projections[(layer, suffix)] += 1

        def hook(_module, _args, output: torch.Tensor) -> torch.Tensor:
            if heads_here == n_heads:
                expanded = output.view_as(output)
            else:  # one copy of each key/value head per query head of its group
                grouped = output.reshape(*output.shape[:-1], heads_here, head_dim)
                expanded = grouped.repeat_interleave(n_heads // heads_here, dim=-2).reshape(output.shape[:-1] + (-1,))
            expanded.register_hook(store)
            return expanded

        self._handles.append(proj.register_forward_hook(hook))

    def heads_to_residual(self) -> None:
        """Each head's q/k/v gradient through its own rows of the projection, then through the shared
        norm (exact VJP); at layout module a head's q, k and v add up to one destination."""
        n_heads = self._graph.n_heads
        for layer, modules in enumerate(self._parts.layers):
            norm_input = self.attn_norm_inputs[layer]
            assert norm_input is not None, "attention pre-norm was not run"
            _, vjp = torch.func.vjp(modules.attn_norm, norm_input)
            merged: dict[int, torch.Tensor] = {}
            for suffix, proj in zip(_QKV_SUFFIXES, modules.qkv, strict=True):
                grad = self.projection_grads.pop((layer, suffix))
                heads_here = proj.out_features // grad.shape[-1]
                weight = proj.weight.reshape(heads_here, grad.shape[-1], -1)
                weight = weight.repeat_interleave(n_heads // heads_here, dim=0)
                through_rows = torch.einsum("bthe,hed->bhtd", grad, weight)
                for head in range(n_heads):
                    if self._graph.layout == "paper":
                        self.grads[:, self._graph.dst_index(layer, suffix, head)] = vjp(through_rows[:, head])[0]
                    else:
                        merged[head] = merged.get(head, 0) + through_rows[:, head]
            for head, grad in merged.items():
                self.grads[:, self._graph.dst_index(layer, "attn", head)] = vjp(grad)[0]
            self.attn_norm_inputs[layer] = None

    def finish_backward(self) -> None:
        """Map gradients captured past the attention norm back to the residual stream."""
        if self._graph.granularity == "head":
            self.heads_to_residual()
        elif self._graph.layout == "paper":
            self.qkv_to_residual()

    def _keep_input(self, module: nn.Module, layer: int) -> None:
        def hook(_module, args, kwargs) -> None:
            self.attn_norm_inputs[layer] = first_input(args, kwargs).detach()

        self._handles.append(module.register_forward_pre_hook(hook, with_kwargs=True))

    def _private_input(self, module: nn.Module, dst: int) -> None:
        def store(grad: torch.Tensor) -> None:  # must return None: a returned tensor would replace the gradient
            self.grads[:, dst].copy_(grad)
            self._fired_dst[dst] += 1

        def hook(_module, args, kwargs):
            shared = first_input(args, kwargs)
            private = shared.view_as(shared)
            private.register_hook(store)
            return with_first_input(args, kwargs, private)

        self._handles.append(module.register_forward_pre_hook(hook, with_kwargs=True))

    def qkv_to_residual(self) -> None:
        """Map the q/k/v gradients from the norm's output back to its input (exact VJP)."""
        for layer, modules in enumerate(self._parts.layers):
            norm_input = self.attn_norm_inputs[layer]
            assert norm_input is not None, "attention pre-norm was not run"
            _, vjp = torch.func.vjp(modules.attn_norm, norm_input)
            for suffix in _QKV_SUFFIXES:
                column = self._graph.dst_index(layer, suffix)
                self.grads[:, column] = vjp(self.grads[:, column])[0]
            self.attn_norm_inputs[layer] = None


def _contract(sources: torch.Tensor, grads: torch.Tensor, acc_dtype: torch.dtype) -> torch.Tensor:
    """S[b, u, v] = -sum_{t, h} O[b, u, t, h] G[b, v, t, h], accumulated in ``acc_dtype``.

    Inputs of a narrower dtype are upcast block by block along the summed axis, which bounds
    the temporaries without changing the result beyond float rounding of the block sums.
    """
    n_rows, n_src = sources.shape[:2]
    n_dst = grads.shape[1]
    flat_o = sources.reshape(n_rows, n_src, -1)
    flat_g = grads.reshape(n_rows, n_dst, -1)
    if sources.dtype == acc_dtype:
        return -torch.bmm(flat_o, flat_g.transpose(1, 2))
    block = max(1, _CONTRACTION_BLOCK_BYTES // (n_rows * (n_src + n_dst) * torch.finfo(acc_dtype).bits // 8))
    scores = torch.zeros(n_rows, n_src, n_dst, dtype=acc_dtype, device=sources.device)
    for start in range(0, flat_o.shape[-1], block):
        stop = start + block
        scores -= torch.bmm(
            flat_o[..., start:stop].to(acc_dtype), flat_g[..., start:stop].to(acc_dtype).transpose(1, 2)
        )
    return scores


@dataclass(frozen=True)
class MethodSettings:
    """How edges are scored: ``eap`` (docs/DESIGN.md §4's default) or ``eap_ig`` with its steps and baseline."""

    name: Method = "eap"
    ig_steps: int = 32
    ig_baseline: IgBaseline = "mean"

    def __post_init__(self) -> None:
        if self.name not in METHODS:
            raise SettingsError(f"unknown method {self.name!r}; choose one of {', '.join(METHODS)}")
        if self.ig_baseline not in IG_BASELINES:
            raise SettingsError(f"unknown ig_baseline {self.ig_baseline!r}; choose one of {', '.join(IG_BASELINES)}")
        if self.ig_steps < 1:
            raise SettingsError(f"ig_steps must be >= 1, got {self.ig_steps}")


def _gradient_pass(model: nn.Module, graph: Graph, hooks: _BatchHooks, point: torch.Tensor, padded) -> torch.Tensor:
    """One forward + backward at input embeddings ``point``: fills hooks.sources and hooks.grads; losses [B]."""
    with torch.enable_grad(), hooks.installed():
        embeds = point.detach().requires_grad_(True)
        hooks.store_source(0, embeds)
        losses = truncated_nll(model, embeds, padded)
        torch.autograd.grad(losses.sum(), embeds)
    hooks.check_complete()
    hooks.finish_backward()
    return losses.detach()


def _source_pass(model: nn.Module, hooks: _BatchHooks, point: torch.Tensor, padded) -> torch.Tensor:
    """One forward without gradients at ``point``: fills hooks.sources only; losses [B]."""
    with torch.no_grad(), hooks.installed(grads=False):
        hooks.store_source(0, point)
        losses = truncated_nll(model, point, padded)
    hooks.check_complete(grads=False)
    return losses


def ig_baseline(embed: nn.Module, embeds: torch.Tensor, kind: IgBaseline) -> torch.Tensor:
    """x' of EAP-IG: the embedding matrix's mean row at every position, or zeros; same shape as ``embeds``."""
    if kind == "zero":
        return torch.zeros_like(embeds)
    weight = embed.weight
    mean_row = weight.to(torch.promote_types(weight.dtype, torch.float32)).mean(dim=0).to(weight.dtype)
    return mean_row.expand_as(embeds).clone()


def _integrated_gradients(
    model: nn.Module, parts: DecoderParts, graph: Graph, hooks: _BatchHooks, embeds, padded, method: MethodSettings
):
    """EAP-IG's O = o(x) - o(x') and G = mean_k dL/dH at x' + (k/m)(x - x'), in the accumulation dtype;
    also the losses at x and at x'."""
    acc_dtype = torch.promote_types(embeds.dtype, torch.float32)
    baseline = ig_baseline(parts.embed, embeds, method.ig_baseline)
    baseline_losses = _source_pass(model, hooks, baseline, padded)
    baseline_sources = hooks.sources.to(acc_dtype, copy=True)
    grads = torch.zeros(hooks.grads.shape, dtype=acc_dtype, device=embeds.device)
    steps = method.ig_steps
    for k in range(1, steps + 1):
        point = embeds if k == steps else baseline + (k / steps) * (embeds - baseline)  # step m is x itself
        losses = _gradient_pass(model, graph, hooks, point, padded)
        grads += hooks.grads
    grads /= steps
    return hooks.sources.to(acc_dtype) - baseline_sources, grads, losses, baseline_losses


def _attribute_batch(
    model: nn.Module, parts: DecoderParts, graph: Graph, batch: Sequence[LossInput], method: MethodSettings
):
    """Per-sample score matrices [B, n_src, n_dst], losses [B] and (EAP-IG) baseline losses [B] or None."""
    device = parts.embed.weight.device
    dtype = parts.embed.weight.dtype
    padded = pad_batch(batch, device)
    hooks = _BatchHooks(parts, graph, len(batch), padded.input_ids.shape[1], dtype, device)
    embeds = parts.embed(padded.input_ids).detach()
    if method.name == "eap":
        losses = _gradient_pass(model, graph, hooks, embeds, padded)
        sources, grads, baseline_losses = hooks.sources, hooks.grads, None
    else:
        sources, grads, losses, baseline_losses = _integrated_gradients(
            model, parts, graph, hooks, embeds, padded, method
        )
    if not bool(padded.attention_mask.all()):  # exclude padding from the sums, whatever it holds
        padding = (padded.attention_mask == 0)[:, None, :, None]
        sources.masked_fill_(padding, 0)
        grads.masked_fill_(padding, 0)
    acc_dtype = torch.promote_types(dtype, torch.float32)
    scores = _contract(sources, grads, acc_dtype)
    scores.masked_fill_(~torch.as_tensor(graph.edge_mask, device=device), 0)
    return scores, losses, baseline_losses


@dataclass(frozen=True)
class Attribution:
    """Per-sample EAP matrices (float32, or float64 for a float64 model) in the input order."""

    graph: Graph
    scores: np.ndarray  # [N, n_src, n_dst], zero on non-edges
    losses: np.ndarray  # [N] mean NLL of each sample's targets
    sample_ids: tuple[str, ...]
    n_targets: np.ndarray  # [N] targets actually scored (answers shorter than T_cut give fewer)
    method: MethodSettings = MethodSettings()
    baseline_losses: np.ndarray | None = None  # [N] EAP-IG: the loss at the baseline input x'


@contextlib.contextmanager
def frozen_eval(model: nn.Module) -> Iterator[None]:
    """Eval mode, no parameter gradients; restores the caller's settings afterwards."""
    was_training = model.training
    trainable = [p for p in model.parameters() if p.requires_grad]
    model.eval()
    for param in trainable:
        param.requires_grad_(False)
    try:
        yield
    finally:
        for param in trainable:
            param.requires_grad_(True)
        model.train(was_training)


def check_inputs(inputs: Sequence[LossInput], vocab_size: int) -> None:
    """Refuse an empty sample list or a token id outside the model's vocabulary, naming the sample."""
    if not inputs:
        raise AttributionError("no samples to attribute (empty selection)")
    for item in inputs:
        bad = [t for t in (*item.input_ids, *item.targets) if not 0 <= t < vocab_size]
        if bad:
            raise AttributionError(
                f"sample {item.sample_id}: token id {bad[0]} is outside the model's vocabulary [0, {vocab_size})"
            )


def attribute(
    model: nn.Module,
    inputs: Sequence[LossInput],
    *,
    layout: Layout = AttributionSettings.layout,
    method: MethodSettings = MethodSettings(),
    granularity: Granularity = AttributionSettings.granularity,
    batch_tokens: int = AttributionSettings.batch_tokens,
    progress: bool = False,
) -> Attribution:
    """EAP (or EAP-IG) score matrices for every sample; batches of mixed lengths give one-at-a-time results."""
    if _checkpointing(model):
        raise AttributionError("disable gradient checkpointing: it re-runs the forward hooks")
    parts = find_decoder(model)
    n_heads = int(getattr(model.config, "num_attention_heads", 1)) if granularity == "head" else 1
    graph = build_graph(len(parts.layers), layout, granularity, n_heads)
    check_inputs(inputs, parts.vocab_size)
    acc_dtype = torch.promote_types(parts.embed.weight.dtype, torch.float32)
    scores = np.zeros((len(inputs), len(graph.src_names), len(graph.dst_names)), dtype=_numpy_dtype(acc_dtype))
    losses = np.zeros(len(inputs), dtype=np.float64)
    baseline_losses = np.zeros(len(inputs), dtype=np.float64) if method.name == "eap_ig" else None
    plan = plan_batches([len(item.input_ids) for item in inputs], batch_tokens)
    with frozen_eval(model):
        verify_prenorm(model, parts)
        bar = _progress_bar(len(inputs), progress)
        started, tokens = time.perf_counter(), 0
        for indices in plan:
            batch = [inputs[i] for i in indices]
            batch_scores, batch_losses, batch_baseline_losses = _attribute_batch(model, parts, graph, batch, method)
            scores[indices] = batch_scores.cpu().numpy()
            losses[indices] = batch_losses.double().cpu().numpy()
            if baseline_losses is not None:
                baseline_losses[indices] = batch_baseline_losses.double().cpu().numpy()
            tokens += sum(len(item.input_ids) for item in batch)
            if bar is not None:
                bar.update(len(batch))
                bar.set_postfix(tokens_per_s=f"{tokens / (time.perf_counter() - started):.0f}")
        if bar is not None:
            bar.close()
    bad = [inputs[i].sample_id for i in np.flatnonzero(~np.isfinite(scores).all(axis=(1, 2)))]
    bad += [inputs[i].sample_id for i in np.flatnonzero(~np.isfinite(losses)) if inputs[i].sample_id not in bad]
    if bad:
        raise AttributionError(f"non-finite scores or loss for {len(bad)} sample(s): {', '.join(bad[:10])}")
    return Attribution(
        graph=graph,
        scores=scores,
        losses=losses,
        sample_ids=tuple(item.sample_id for item in inputs),
        n_targets=np.array([len(item.targets) for item in inputs], dtype=np.int64),
        method=method,
        baseline_losses=baseline_losses,
    )


def _checkpointing(model: nn.Module) -> bool:
    """Whether activation checkpointing is on (the property was renamed in transformers 5)."""
    for name in ("is_activation_checkpointing", "is_gradient_checkpointing"):
        if hasattr(type(model), name):
            return bool(getattr(model, name))
    return False


def _numpy_dtype(dtype: torch.dtype) -> np.dtype:
    return np.dtype(str(dtype).removeprefix("torch."))


def _progress_bar(total: int, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="sample", desc="attribute")
