#!/usr/bin/env python
"""Train one mini-zoo SFT base from scratch on CPU with TRL (DESIGN §1 demo).

A fresh Llama, Mistral or Qwen2 decoder learns the worked solutions of the given train splits
(plus arithmetic practice lines) under the zoo prompt template. Seeded and single-threaded:
the same arguments give identical weights. OUT becomes a standard Hugging Face model folder
(config, safetensors, tokenizer, zoo_training.json), written beside OUT and renamed into place.
"""

from __future__ import annotations

import argparse
import sys

from rlcircuits.cli import run_stage
from rlcircuits.options import ARCHITECTURES
from rlcircuits.zoo.training import ModelShape, SFTSettings, train_sft

SHAPE, SETTINGS = ModelShape("llama"), SFTSettings()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--architecture", required=True, choices=ARCHITECTURES, help="decoder family")
    parser.add_argument("--layers", type=int, default=SHAPE.layers, help=f"decoder layers (default: {SHAPE.layers})")
    parser.add_argument("--hidden", type=int, default=SHAPE.hidden, help=f"hidden size (default: {SHAPE.hidden})")
    parser.add_argument("--heads", type=int, default=SHAPE.heads, help=f"attention heads (default: {SHAPE.heads})")
    parser.add_argument(
        "--kv-heads", type=int, default=SHAPE.kv_heads, help=f"key/value heads (default: {SHAPE.kv_heads})"
    )
    parser.add_argument(
        "--intermediate", type=int, default=SHAPE.intermediate, help=f"MLP width (default: {SHAPE.intermediate})"
    )
    parser.add_argument("--train", required=True, nargs="+", help="train-split JSONL files from zoo_tasks.py")
    parser.add_argument(
        "--steps", type=int, default=SETTINGS.steps, help=f"optimiser steps (default: {SETTINGS.steps})"
    )
    parser.add_argument(
        "--batch-size", type=int, default=SETTINGS.batch_size, help=f"rows per step (default: {SETTINGS.batch_size})"
    )
    parser.add_argument(
        "--learning-rate",
        type=float,
        default=SETTINGS.learning_rate,
        help=f"peak AdamW rate (default: {SETTINGS.learning_rate})",
    )
    parser.add_argument(
        "--practice",
        type=int,
        default=SETTINGS.practice,
        help=f"arithmetic practice lines (default: {SETTINGS.practice})",
    )
    parser.add_argument(
        "--seed", type=int, default=SETTINGS.seed, help=f"initialisation and data seed (default: {SETTINGS.seed})"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: 1)")
    parser.add_argument("--out", required=True, help="output model folder")
    return parser.parse_args(argv)


def train(args: argparse.Namespace) -> None:
    shape = ModelShape(args.architecture, args.layers, args.hidden, args.heads, args.kv_heads, args.intermediate)
    settings = SFTSettings(
        steps=args.steps,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        practice=args.practice,
        seed=args.seed,
    )
    train_sft(shape, args.train, settings, args.out, threads=args.threads)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_stage("train_sft", lambda: train(args))


if __name__ == "__main__":
    sys.exit(main())
