"""``python -m rlcircuits.smoke``: the image's CMD, so that ``docker run`` without a GPU shows it works.

It imports the engine and attributes one sample on a tiny random Llama built from a config (no
download, no GPU), then checks what every attribution file promises: one finite float32 matrix of
the graph's shape, zero off the real edges and not all zero on them. Exit status 0 means the
installed torch and transformers run the engine; 1 names the check that failed.
"""

from __future__ import annotations

import sys
from importlib import metadata

import numpy as np
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from rlcircuits import __version__
from rlcircuits.eap import attribute, truncated_loss_input

_LAYERS = 2
_REAL_EDGES = 4 * _LAYERS**2 + 3 * _LAYERS + 1  # the paper layout's count (docs/DESIGN.md §4, Graph)
_PACKAGES = ("torch", "transformers", "vllm")


def _versions() -> str:
    """Installed versions, read from the package metadata (importing vLLM is slow and needs no check here)."""
    found = []
    for name in _PACKAGES:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} absent")
    return ", ".join(found)


def run() -> list[str]:
    """Attribute one sample on CPU; the failed checks (an empty list when the engine works)."""
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=64,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=_LAYERS,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=64,
    )
    model = LlamaForCausalLM(config).eval()
    sample = truncated_loss_input("smoke", prompt_ids=[1, 5, 9, 13], answer_ids=[21, 34, 55, 2], t_cut=3)
    result = attribute(model, [sample], layout="paper")
    scores, mask = result.scores, result.graph.edge_mask
    checks = {
        f"scores shape {scores.shape}, expected (1, {2 * _LAYERS + 1}, {4 * _LAYERS + 1})": scores.shape
        == (1, 2 * _LAYERS + 1, 4 * _LAYERS + 1),
        f"scores dtype {scores.dtype}, expected float32": scores.dtype == np.float32,
        f"{result.graph.n_edges} real edges, expected 4L²+3L+1 = {_REAL_EDGES}": result.graph.n_edges == _REAL_EDGES,
        "scores are finite": bool(np.isfinite(scores).all()),
        "scores are zero off the real edges": not scores[0][~mask].any(),
        "scores are not all zero on the real edges": bool(scores[0][mask].any()),
        "loss is finite and positive": bool(np.isfinite(result.losses).all() and result.losses[0] > 0),
    }
    return [name for name, ok in checks.items() if not ok]


def main() -> int:
    print(f"rl-circuits {__version__} smoke test on CPU ({_versions()})")
    failed = run()
    for name in failed:
        print(f"smoke: FAILED: {name}", file=sys.stderr)
    if not failed:
        print(f"smoke: OK: attributed one sample of a random {_LAYERS}-layer Llama ({_REAL_EDGES} edges)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
