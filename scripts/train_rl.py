#!/usr/bin/env python
"""Tune one mini-zoo SFT base with TRL on CPU: GRPO, RLOO, offline DPO or online DPO.

The reward is the real grader's verdict on each sampled answer. Offline DPO samples its
preference pairs once from the base (chosen: graded correct, rejected: graded wrong); online
DPO samples fresh pairs at every step with the same settings otherwise. Seeded and
single-threaded: the same arguments give identical weights. OUT becomes a standard Hugging Face
model folder, written beside OUT and renamed into place.
"""

from __future__ import annotations

import argparse
import sys

from rlcircuits.cli import run_stage
from rlcircuits.options import ALGORITHMS
from rlcircuits.zoo.rl import RLSettings, train_rl

DEFAULTS = RLSettings()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--algorithm", required=True, choices=ALGORITHMS, help="tuning algorithm")
    parser.add_argument("--base", required=True, help="SFT model folder from train_sft.py")
    parser.add_argument("--train", required=True, nargs="+", help="train-split JSONL files from zoo_tasks.py")
    parser.add_argument(
        "--steps", type=int, default=DEFAULTS.steps, help=f"optimiser steps (default: {DEFAULTS.steps})"
    )
    parser.add_argument(
        "--prompts-per-step",
        type=int,
        default=DEFAULTS.prompts_per_step,
        help=f"questions (DPO: pairs) per step (default: {DEFAULTS.prompts_per_step})",
    )
    parser.add_argument(
        "--generations",
        type=int,
        default=DEFAULTS.generations,
        help=f"samples per question: GRPO/RLOO group, offline DPO's one-off samples (default: {DEFAULTS.generations})",
    )
    parser.add_argument(
        "--learning-rate",
        type=float,
        default=DEFAULTS.learning_rate,
        help=f"AdamW rate (default: {DEFAULTS.learning_rate})",
    )
    parser.add_argument(
        "--warmup-ratio",
        type=float,
        default=DEFAULTS.warmup_ratio,
        help=f"share of the steps the rate warms up over, then cosine decay (default: {DEFAULTS.warmup_ratio})",
    )
    parser.add_argument("--beta", type=float, default=DEFAULTS.beta, help=f"KL / DPO beta (default: {DEFAULTS.beta})")
    parser.add_argument(
        "--temperature",
        type=float,
        default=DEFAULTS.temperature,
        help=f"sampling temperature (default: {DEFAULTS.temperature})",
    )
    parser.add_argument(
        "--max-completion-length",
        type=int,
        default=DEFAULTS.max_completion_length,
        help=f"sampled answer cap in tokens (default: {DEFAULTS.max_completion_length})",
    )
    parser.add_argument(
        "--seed", type=int, default=DEFAULTS.seed, help=f"sampling and data seed (default: {DEFAULTS.seed})"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: 1)")
    parser.add_argument("--out", required=True, help="output model folder")
    return parser.parse_args(argv)


def train(args: argparse.Namespace) -> None:
    settings = RLSettings(
        steps=args.steps,
        prompts_per_step=args.prompts_per_step,
        generations=args.generations,
        learning_rate=args.learning_rate,
        warmup_ratio=args.warmup_ratio,
        beta=args.beta,
        temperature=args.temperature,
        max_completion_length=args.max_completion_length,
        seed=args.seed,
    )
    train_rl(args.algorithm, args.base, args.train, settings, args.out, threads=args.threads)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_stage("train_rl", lambda: train(args))


if __name__ == "__main__":
    sys.exit(main())
