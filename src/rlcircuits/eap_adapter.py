"""Attribution's view of a Hugging Face decoder: where its pre-norm branches are, and a check that they are.

The attribution graph of docs/DESIGN.md §4 assumes a pre-norm decoder: every layer reads the residual
stream x and adds ``attn(norm1(x))`` and then ``mlp(norm2(x + attn_out))`` back to it.
:func:`find_decoder` finds those modules by their Hugging Face names and :func:`verify_prenorm`
then *checks numerically* that the model really computes that, so an architecture that merely
shares the names (for example post-norm Gemma-2) is refused instead of silently mis-attributed.
The hook helpers read and replace the hidden-states argument however a module was called.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from rlcircuits.errors import UnsupportedArchitecture

# Module names of the Llama-style pre-norm decoder layer (Llama, Mistral, Qwen2, Qwen3, ...).
_ATTN, _MLP, _ATTN_NORM, _MLP_NORM = "self_attn", "mlp", "input_layernorm", "post_attention_layernorm"
_QKV = ("q_proj", "k_proj", "v_proj")


@dataclass(frozen=True)
class LayerParts:
    """The modules of one pre-norm decoder layer that the attribution graph hooks."""

    attn: nn.Module
    mlp: nn.Module
    attn_norm: nn.Module
    mlp_norm: nn.Module
    qkv: tuple[nn.Module, nn.Module, nn.Module]


@dataclass(frozen=True)
class DecoderParts:
    """Where a causal LM keeps its embedding, layers and final norm."""

    architecture: str
    embed: nn.Module
    layers: tuple[LayerParts, ...]
    final_norm: nn.Module
    hidden_size: int
    vocab_size: int


def _architecture(model: nn.Module) -> str:
    config = getattr(model, "config", None)
    return f"{getattr(config, 'model_type', '?')} ({type(model).__name__})"


def _child(parent: nn.Module, name: str, arch: str, where: str) -> nn.Module:
    module = getattr(parent, name, None)
    if not isinstance(module, nn.Module):
        raise UnsupportedArchitecture(
            f"{arch}: {where} has no `{name}` module; attribution needs a pre-norm decoder "
            "(input_layernorm -> self_attn with q_proj/k_proj/v_proj, post_attention_layernorm -> mlp), "
            "as in Llama, Mistral and Qwen2"
        )
    return module


def find_decoder(model: nn.Module) -> DecoderParts:
    """Locate the branches by name; :func:`verify_prenorm` then checks the computation itself."""
    arch = _architecture(model)
    base = getattr(model, getattr(model, "base_model_prefix", "model"), None)
    if not isinstance(base, nn.Module):
        raise UnsupportedArchitecture(f"{arch}: no base decoder module found")
    layer_list = _child(base, "layers", arch, "the base model")
    layers = []
    for index, layer in enumerate(layer_list):
        where = f"decoder layer {index}"
        extra_norms = sorted(
            name
            for name, child in layer.named_children()
            if "norm" in type(child).__name__.lower() and name not in (_ATTN_NORM, _MLP_NORM)
        )
        if extra_norms:
            raise UnsupportedArchitecture(
                f"{arch}: {where} has extra normalisation modules ({', '.join(extra_norms)}), i.e. a "
                "post-norm or sandwich-norm layer; attribution supports pre-norm decoders only"
            )
        attn = _child(layer, _ATTN, arch, where)
        layers.append(
            LayerParts(
                attn=attn,
                mlp=_child(layer, _MLP, arch, where),
                attn_norm=_child(layer, _ATTN_NORM, arch, where),
                mlp_norm=_child(layer, _MLP_NORM, arch, where),
                qkv=tuple(_child(attn, name, arch, f"{where}.{_ATTN}") for name in _QKV),  # type: ignore[arg-type]
            )
        )
    if not layers:
        raise UnsupportedArchitecture(f"{arch}: the decoder has no layers")
    embed = model.get_input_embeddings()
    return DecoderParts(
        architecture=arch,
        embed=embed,
        layers=tuple(layers),
        final_norm=_child(base, "norm", arch, "the base model"),
        hidden_size=int(embed.weight.shape[1]),
        vocab_size=int(embed.weight.shape[0]),
    )


def first_input(args: tuple, kwargs: dict) -> torch.Tensor:
    """The hidden-states tensor a module was called with, positionally or by keyword."""
    if args:
        return args[0]
    for key in ("hidden_states", "input", "x"):
        if key in kwargs:
            return kwargs[key]
    raise RuntimeError("module called without a hidden-states argument")


def with_first_input(args: tuple, kwargs: dict, tensor: torch.Tensor) -> tuple[tuple, dict]:
    """Return (args, kwargs) with the hidden-states argument replaced, for pre-hooks."""
    if args:
        return (tensor, *args[1:]), kwargs
    for key in ("hidden_states", "input", "x"):
        if key in kwargs:
            return args, {**kwargs, key: tensor}
    raise RuntimeError("module called without a hidden-states argument")


def output_tensor(output: Any) -> torch.Tensor:
    """Attention modules return (output, weights); MLPs and layers may return a bare tensor."""
    return output[0] if isinstance(output, tuple) else output


_VERIFIED: weakref.WeakSet[nn.Module] = weakref.WeakSet()


def verify_prenorm(model: nn.Module, parts: DecoderParts, probe_tokens: int = 4) -> None:
    """Run a short probe and check the residual-stream algebra the graph relies on.

    Checks: layer 0 reads the embedding; each attention pre-norm reads the layer input x; each
    MLP pre-norm reads x + attn_out; q/k/v read the attention pre-norm's output; the layer
    returns x + attn_out + mlp_out; the final norm reads the last layer's output. Anything else
    (embedding scaling, post-norms, parallel blocks) is refused, naming the architecture.
    A model that passed is remembered, so repeated calls cost nothing.
    """
    if model in _VERIFIED:
        return
    seen: dict[str, torch.Tensor] = {}
    handles = []

    def save_input(key: str):
        def hook(_module, args, kwargs):
            seen[key] = first_input(args, kwargs).detach()

        return hook

    def save_output(key: str):
        def hook(_module, _args, output):
            seen[key] = output_tensor(output).detach()

        return hook

    base = getattr(model, getattr(model, "base_model_prefix", "model"))
    for index, (layer_module, layer) in enumerate(zip(base.layers, parts.layers, strict=True)):
        pre = {"in": layer_module, "attn_norm_in": layer.attn_norm, "mlp_norm_in": layer.mlp_norm}
        post = {"out": layer_module, "attn": layer.attn, "mlp": layer.mlp, "attn_norm_out": layer.attn_norm}
        for key, module in pre.items():
            handles.append(module.register_forward_pre_hook(save_input(f"{index}.{key}"), with_kwargs=True))
        for key, module in post.items():
            handles.append(module.register_forward_hook(save_output(f"{index}.{key}")))
        for name, module in zip(_QKV, layer.qkv, strict=True):
            handles.append(module.register_forward_pre_hook(save_input(f"{index}.{name}"), with_kwargs=True))
    handles.append(parts.final_norm.register_forward_pre_hook(save_input("final_in"), with_kwargs=True))
    device = parts.embed.weight.device
    ids = torch.arange(probe_tokens, device=device).remainder(parts.vocab_size)[None]
    try:
        with torch.no_grad():
            embeds = parts.embed(ids)
            model(inputs_embeds=embeds, use_cache=False)
    finally:
        for handle in handles:
            handle.remove()

    broken = [key for key, value in seen.items() if not torch.isfinite(value).all()]
    if broken:
        raise UnsupportedArchitecture(
            f"{parts.architecture}: non-finite activations in a 4-token probe (first at {sorted(broken)[0]}); "
            "check the model weights"
        )
    tol = (
        {"atol": 1e-2, "rtol": 1e-2}
        if embeds.dtype in (torch.bfloat16, torch.float16)
        else {"atol": 1e-5, "rtol": 1e-5}
    )

    def require(ok: bool, what: str) -> None:
        if not ok:
            raise UnsupportedArchitecture(
                f"{parts.architecture}: not a pre-norm residual decoder ({what}); "
                "attribution supports Llama/Mistral/Qwen2-style layers only"
            )

    def close(a: torch.Tensor, b: torch.Tensor) -> bool:
        return a.shape == b.shape and torch.allclose(a.float(), b.float(), **tol)

    require(close(seen["0.in"], embeds), "layer 0 does not read the raw token embedding")
    for index in range(len(parts.layers)):
        x = seen[f"{index}.in"]
        mid = x + seen[f"{index}.attn"]
        require(close(seen[f"{index}.attn_norm_in"], x), f"layer {index}: attention norm does not read the residual")
        require(close(seen[f"{index}.mlp_norm_in"], mid), f"layer {index}: MLP norm does not read x + attention")
        require(close(seen[f"{index}.out"], mid + seen[f"{index}.mlp"]), f"layer {index}: output is not x + attn + mlp")
        for name in _QKV:
            require(
                close(seen[f"{index}.{name}"], seen[f"{index}.attn_norm_out"]),
                f"layer {index}: {name} does not read the attention norm's output",
            )
        if index + 1 < len(parts.layers):
            require(close(seen[f"{index + 1}.in"], seen[f"{index}.out"]), f"layer {index + 1} input")
    require(close(seen["final_in"], seen[f"{len(parts.layers) - 1}.out"]), "final norm input")
    _VERIFIED.add(model)
