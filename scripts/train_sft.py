#!/usr/bin/env python
"""Train one mini-zoo SFT base from scratch on CPU with TRL (docs/DESIGN.md §1 demo).

A fresh Llama, Mistral or Qwen2 decoder learns the worked solutions of the given train splits
(plus arithmetic practice lines) under the zoo prompt template. Seeded and single-threaded:
the same arguments give identical weights. OUT becomes a standard Hugging Face model folder
(config, safetensors, tokenizer, zoo_training.json), written beside OUT and renamed into place.
"""

from __future__ import annotations

import argparse
import sys

from rlcircuits.cli import add_settings, run_stage, settings_from
from rlcircuits.options import ARCHITECTURES
from rlcircuits.zoo.training import ModelShape, SFTSettings, train_sft

SHAPE, SETTINGS = ModelShape("llama"), SFTSettings()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--architecture", required=True, choices=ARCHITECTURES, help="decoder family")
    add_settings(
        parser,
        SHAPE,
        {
            "layers": "decoder layers",
            "hidden": "hidden size",
            "heads": "attention heads",
            "kv_heads": "key/value heads",
            "intermediate": "MLP width",
        },
    )
    parser.add_argument("--train", required=True, nargs="+", help="train-split JSONL files from zoo_tasks.py")
    add_settings(
        parser,
        SETTINGS,
        {
            "steps": "optimiser steps",
            "batch_size": "rows per step",
            "learning_rate": "peak AdamW rate",
            "practice": "arithmetic practice lines",
            "seed": "initialisation and data seed",
        },
    )
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: 1)")
    parser.add_argument("--out", required=True, help="output model folder")
    return parser.parse_args(argv)


def train(args: argparse.Namespace) -> None:
    shape, settings = settings_from(args, ModelShape), settings_from(args, SFTSettings)
    train_sft(shape, args.train, settings, args.out, threads=args.threads)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_stage("train_sft", lambda: train(args))


if __name__ == "__main__":
    sys.exit(main())
