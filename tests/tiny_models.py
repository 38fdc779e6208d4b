"""Tiny random-weight decoders built from configs (no downloads), shared by the tests."""

from __future__ import annotations

import types
from pathlib import Path

import torch
import transformers
from torch import nn
from transformers import AutoModelForCausalLM, LlamaConfig, MistralConfig, Qwen2Config

VOCAB = 96

# Small but not degenerate: several heads, grouped-query attention where the family has it,
# q/k/v biases for Qwen2, weights large enough that the network is visibly non-linear.
CONFIGS = {
    "llama": lambda layers: LlamaConfig(num_attention_heads=4, num_key_value_heads=4, **_common(layers)),
    "mistral": lambda layers: MistralConfig(
        num_attention_heads=4, num_key_value_heads=2, sliding_window=None, **_common(layers)
    ),
    "qwen2": lambda layers: Qwen2Config(num_attention_heads=4, num_key_value_heads=2, **_common(layers)),
}


def _common(layers: int) -> dict:
    return dict(
        vocab_size=VOCAB,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=layers,
        max_position_embeddings=256,
        initializer_range=0.2,
        tie_word_embeddings=False,
    )


def build(arch: str, layers: int = 2, dtype: torch.dtype = torch.float32, seed: int = 0) -> nn.Module:
    """A frozen, eval-mode random model of the named family."""
    torch.manual_seed(seed)
    config = CONFIGS[arch](layers)
    config._attn_implementation = "sdpa"  # eager upcasts softmax to float32; sdpa keeps float64
    model = AutoModelForCausalLM.from_config(config).to(dtype)
    return model.eval().requires_grad_(False)


def layer_output(hidden_states: torch.Tensor):
    """What a replaced decoder layer's forward returns: a tensor in transformers 5, a 1-tuple in 4.x
    (the image's 4.52.3), whose decoder reads ``layer_outputs[0]``."""
    return hidden_states if int(transformers.__version__.split(".")[0]) >= 5 else (hidden_states,)


def save(model: nn.Module, folder: Path) -> Path:
    model.save_pretrained(folder)
    return folder


def exact_float64_norms(model: nn.Module) -> nn.Module:
    """HF RMSNorms compute in float32 even in a float64 model (docs/DESIGN.md §6); make them float64.

    Only for float64 finite-difference references: the engine itself treats the norm as a black
    box, so this changes the precision of the model under test, not what is being tested.
    """

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        variance = hidden_states.pow(2).mean(-1, keepdim=True)
        return self.weight * (hidden_states * torch.rsqrt(variance + self.variance_epsilon))

    for module in model.modules():
        if type(module).__name__.endswith("RMSNorm"):
            module.forward = types.MethodType(forward, module)
    return model
