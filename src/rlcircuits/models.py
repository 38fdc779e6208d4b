"""Loading causal LMs and their tokenizers: a Hub id and a local folder take one code path.

What attribution needs to know about a loaded model's layers lives in rlcircuits.eap_adapter.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rlcircuits.cli import add_settings
from rlcircuits.errors import ModelLoadError, SettingsError
from rlcircuits.files import is_local_path
from rlcircuits.options import DTYPE_NAMES, Dtype

DTYPES: dict[Dtype, torch.dtype] = {
    "float32": torch.float32,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
    "float64": torch.float64,
}


def resolve_dtype(name: str) -> torch.dtype:
    """Map a config/CLI dtype name to a torch dtype, refusing unknown names."""
    try:
        return DTYPES[name]
    except KeyError:
        raise SettingsError(f"unknown dtype {name!r}; choose one of {', '.join(DTYPES)}") from None


def _dtype_kwarg() -> str:
    """transformers >= 4.56 takes `dtype`; the container's 4.52 (vLLM 0.9 pins it) `torch_dtype`."""
    import transformers
    from packaging.version import Version

    return "dtype" if Version(transformers.__version__) >= Version("4.56") else "torch_dtype"


@dataclass(frozen=True)
class LoadSettings:
    """How a model is put in memory for a stage: bfloat16, the paper models' own dtype, on CPU unless told."""

    dtype: Dtype = "bfloat16"
    device: str = "cpu"


def add_load_settings(parser: argparse.ArgumentParser) -> None:
    """A stage's --dtype and --device options, defaulted by LoadSettings (cli.add_settings)."""
    add_settings(
        parser,
        LoadSettings(),
        {"dtype": "model dtype", "device": "torch device, e.g. cpu or cuda"},
        choices={"dtype": DTYPE_NAMES},
    )


def load_model_from(args: argparse.Namespace) -> nn.Module:
    """The model a stage's options name (--model, --revision, add_load_settings' and --trust-remote-code)."""
    return load_model(
        args.model,
        dtype=args.dtype,
        device=args.device,
        revision=args.revision,
        trust_remote_code=args.trust_remote_code,
    )


def load_model(
    name_or_path: str,
    *,
    dtype: Dtype = LoadSettings.dtype,
    device: str = LoadSettings.device,
    revision: str | None = None,
    trust_remote_code: bool = False,
    local_files_only: bool = False,
) -> nn.Module:
    """Load a causal LM frozen and in eval mode, from a Hub id or a local folder alike."""
    from transformers import AutoModelForCausalLM

    if is_local_path(name_or_path) and not Path(name_or_path).expanduser().is_dir():
        raise ModelLoadError(f"model folder not found: {name_or_path}")
    try:
        model = AutoModelForCausalLM.from_pretrained(
            str(Path(name_or_path).expanduser()) if Path(name_or_path).expanduser().is_dir() else name_or_path,
            **{_dtype_kwarg(): resolve_dtype(dtype)},
            revision=revision,
            trust_remote_code=trust_remote_code,
            local_files_only=local_files_only,
        )
    except (OSError, ValueError, KeyError) as exc:
        raise ModelLoadError(f"cannot load model {name_or_path!r}: {exc}") from exc
    model.requires_grad_(False)
    model.eval()
    return model.to(device)


def load_tokenizer(name_or_path: str, *, revision: str | None = None, trust_remote_code: bool = False) -> Any:
    """Load the tokenizer saved with a model (same resolution rules as :func:`load_model`)."""
    from transformers import AutoTokenizer

    if is_local_path(name_or_path) and not Path(name_or_path).expanduser().is_dir():
        raise ModelLoadError(f"tokenizer folder not found: {name_or_path}")
    try:
        return AutoTokenizer.from_pretrained(name_or_path, revision=revision, trust_remote_code=trust_remote_code)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelLoadError(f"cannot load tokenizer {name_or_path!r}: {exc}") from exc
