"""Faithfulness of attribution graphs: what zero-ablating their edges does to the loss (docs/DESIGN.md §4).

Zero-ablating edge u -> v (the paper's baseline) feeds destination v its input minus u's output,
H_v - O_u, while every other reader of the residual stream keeps its own input. With a set of
edges ablated at once, each O_u is u's output *in the ablated run* (upstream ablations change it),
so keeping no edge feeds every destination zero and keeping every edge is the clean run. Two
checks per model (rlcircuits.audit.FaithfulnessRecord):

* the curve: keep each sample's top fraction f of edges by |score|, ablate the rest; the fraction
  of the clean-versus-all-ablated loss gap recovered, (L_all - L_f) / (L_all - L_clean), is 0 at
  f = 0 and 1 at f = 1 by construction;
* single-edge ablations (cheap on the mini zoo only): the exact loss change of ablating each edge
  alone, which an edge's score W = -O_u · dL/dH_v approximates to first order, against the scores
  by Spearman rank correlation per sample.

Module-granularity graphs only; the q/k/v destinations of the paper layout each see the shared
pre-norm recomputed on their own ablated residual.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from scipy import stats
from torch import nn

from rlcircuits.eap import (
    AttributionSettings,
    Graph,
    LossInput,
    build_graph,
    check_inputs,
    frozen_eval,
    pad_batch,
    plan_batches,
    truncated_nll,
)
from rlcircuits.eap_adapter import (
    DecoderParts,
    find_decoder,
    first_input,
    output_tensor,
    verify_prenorm,
    with_first_input,
)
from rlcircuits.errors import AttributionError
from rlcircuits.options import Layout

_QKV = ("q", "k", "v")


class _AblationHooks:
    """Hooks that remove the ablated sources' outputs from each destination's own input, per sample."""

    def __init__(self, parts: DecoderParts, graph: Graph, ablate: torch.Tensor, embeds: torch.Tensor) -> None:
        self._parts, self._graph = parts, graph
        self._ablate = ablate.to(embeds.dtype)  # [B, n_src, n_dst], 1 where the edge is removed
        self._any = ablate.any(dim=0)  # [n_src, n_dst]
        self._sources: list[torch.Tensor | None] = [embeds] + [None] * (len(graph.src_names) - 1)
        self._attn_inputs: list[torch.Tensor | None] = [None] * graph.n_layers

    def _removed(self, dst: int) -> torch.Tensor | None:
        """Σ_u ablate[b, u, dst] · O_u [B, T, d], or None when no sample ablates an edge into ``dst``."""
        upstream = self._graph.n_upstream[dst]
        if not bool(self._any[:upstream, dst].any()):
            return None
        outputs = self._sources[:upstream]
        assert all(o is not None for o in outputs), "a source ran after its reader"
        stacked = torch.stack(outputs, dim=1)  # type: ignore[arg-type]  # [B, upstream, T, d]
        return torch.einsum("bu,butd->btd", self._ablate[:, :upstream, dst], stacked)

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        graph, handles = self._graph, []

        def keep_output(src: int):
            def hook(_module, _args, output) -> None:
                self._sources[src] = output_tensor(output)

            return hook

        def subtract(dst: int):
            def hook(_module, args, kwargs):
                removed = self._removed(dst)
                if removed is None:
                    return None
                return with_first_input(args, kwargs, first_input(args, kwargs) - removed)

            return hook

        def keep_attn_input(layer: int):
            def hook(_module, args, kwargs) -> None:
                self._attn_inputs[layer] = first_input(args, kwargs)

            return hook

        def renormed(layer: int, dst: int, norm: nn.Module):
            def hook(_module, args, kwargs):
                removed = self._removed(dst)
                if removed is None:
                    return None
                residual = self._attn_inputs[layer]
                assert residual is not None, "attention pre-norm was not run"
                return with_first_input(args, kwargs, norm.forward(residual - removed))  # forward: no hooks

            return hook

        try:
            for layer, modules in enumerate(self._parts.layers):
                handles.append(modules.attn.register_forward_hook(keep_output(graph.src_index(layer, "attn"))))
                handles.append(modules.mlp.register_forward_hook(keep_output(graph.src_index(layer, "mlp"))))
                mlp_dst = graph.dst_index(layer, "mlp")
                handles.append(modules.mlp_norm.register_forward_pre_hook(subtract(mlp_dst), with_kwargs=True))
                if graph.layout == "module":
                    attn_dst = graph.dst_index(layer, "attn")
                    handles.append(modules.attn_norm.register_forward_pre_hook(subtract(attn_dst), with_kwargs=True))
                    continue
                handles.append(modules.attn_norm.register_forward_pre_hook(keep_attn_input(layer), with_kwargs=True))
                for suffix, proj in zip(_QKV, modules.qkv, strict=True):
                    hook = renormed(layer, graph.dst_index(layer, suffix), modules.attn_norm)
                    handles.append(proj.register_forward_pre_hook(hook, with_kwargs=True))
            logits = len(graph.dst_names) - 1
            handles.append(self._parts.final_norm.register_forward_pre_hook(subtract(logits), with_kwargs=True))
            yield
        finally:
            for handle in handles:
                handle.remove()


class Ablator:
    """One model's losses on fixed inputs under any per-sample set of zero-ablated edges."""

    def __init__(
        self,
        model: nn.Module,
        inputs: Sequence[LossInput],
        *,
        layout: Layout = "paper",
        batch_tokens: int = AttributionSettings.batch_tokens,
    ) -> None:
        self.parts = find_decoder(model)
        check_inputs(inputs, self.parts.vocab_size)
        self.graph = build_graph(len(self.parts.layers), layout)
        self.model, self.inputs = model, list(inputs)
        self._plan = plan_batches([len(item.input_ids) for item in inputs], batch_tokens)
        with frozen_eval(model):
            verify_prenorm(model, self.parts)

    def losses(self, ablate: np.ndarray) -> np.ndarray:
        """Per-sample mean NLL [N] (float64) with ``ablate[j]`` (bool [n_src, n_dst]) removed for sample j."""
        ablate = np.asarray(ablate, dtype=bool)
        expected = (len(self.inputs), len(self.graph.src_names), len(self.graph.dst_names))
        if ablate.shape != expected:
            raise ValueError(f"ablation masks must have shape {expected}, got {ablate.shape}")
        if (ablate & ~self.graph.edge_mask).any():
            raise ValueError("ablation masks name a non-edge")
        device = self.parts.embed.weight.device
        out = np.zeros(len(self.inputs), dtype=np.float64)
        with frozen_eval(self.model), torch.no_grad():
            for indices in self._plan:
                padded = pad_batch([self.inputs[i] for i in indices], device)
                embeds = self.parts.embed(padded.input_ids)
                hooks = _AblationHooks(self.parts, self.graph, torch.as_tensor(ablate[indices], device=device), embeds)
                with hooks.installed():
                    out[indices] = truncated_nll(self.model, embeds, padded).double().cpu().numpy()
        return out

    def single_edge_effects(self, clean: np.ndarray) -> np.ndarray:
        """[N, E]: the loss change of ablating each real edge alone (edges in row-major order)."""
        edges = np.flatnonzero(self.graph.edge_mask.ravel())
        effects = np.zeros((len(self.inputs), len(edges)))
        for column, edge in enumerate(edges):
            mask = np.zeros((len(self.inputs), self.graph.edge_mask.size), dtype=bool)
            mask[:, edge] = True
            effects[:, column] = self.losses(mask.reshape(len(self.inputs), *self.graph.edge_mask.shape)) - clean
        return effects


def kept_masks(scores: np.ndarray, edge_mask: np.ndarray, fraction: float) -> np.ndarray:
    """bool [N, n_src, n_dst]: the edges ablated when each sample keeps its top ``fraction`` of real edges
    by |score| (round(fraction · E) of them; ties go to the earlier edge)."""
    edges = np.flatnonzero(edge_mask.ravel())
    values = np.abs(scores.reshape(len(scores), -1)[:, edges])
    keep = round(fraction * len(edges))
    order = np.argsort(-values, axis=1, kind="stable")
    ablate = np.zeros((len(scores), edge_mask.size), dtype=bool)
    ablate[:, edges] = True
    rows = np.arange(len(scores))[:, None]
    ablate[rows, edges[order[:, :keep]]] = False
    return ablate.reshape(scores.shape)


def recovery_curve(ablator: Ablator, scores: np.ndarray, fractions: Sequence[float], clean: np.ndarray) -> np.ndarray:
    """[F, N]: each sample's fraction of the clean-versus-all-ablated gap recovered at each kept fraction."""
    mask = ablator.graph.edge_mask
    everything = ablator.losses(np.broadcast_to(mask, scores.shape).copy())
    gap = everything - clean
    flat = np.flatnonzero(np.abs(gap) <= 1e-12 * np.maximum(1.0, np.abs(clean)))
    if flat.size:
        raise AttributionError(
            f"sample {ablator.inputs[flat[0]].sample_id}: ablating every edge leaves the loss unchanged, "
            "so no fraction of a gap can be recovered"
        )
    curve = np.zeros((len(fractions), len(scores)))
    for row, fraction in enumerate(fractions):
        losses = ablator.losses(kept_masks(scores, mask, fraction))  # f = 0 and 1 too: a check, not a shortcut
        curve[row] = (everything - losses) / gap
    return curve


def spearman_per_sample(scores: np.ndarray, edge_mask: np.ndarray, effects: np.ndarray) -> list[float | None]:
    """Rank correlation over real edges of each sample's scores with its exact single-edge effects
    (None where either side is constant)."""
    edges = np.flatnonzero(edge_mask.ravel())
    values = scores.reshape(len(scores), -1)[:, edges]
    found: list[float | None] = []
    for row, effect in zip(values, effects, strict=True):
        if np.ptp(row) == 0 or np.ptp(effect) == 0:
            found.append(None)
            continue
        rho = float(stats.spearmanr(row, effect).statistic)
        found.append(rho if np.isfinite(rho) else None)
    return found
