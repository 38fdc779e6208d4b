#!/usr/bin/env python
"""Tune one mini-zoo SFT base with TRL on CPU: GRPO, RLOO, offline DPO, online DPO or continued SFT.

The reward is the real grader's verdict on each sampled answer. Offline DPO samples its
preference pairs once from the base (chosen: graded correct, rejected: graded wrong); online
DPO samples fresh pairs at every step with the same settings otherwise. Continued SFT, the
controlled study's no-RL control, trains on the worked solutions of the same number of questions
per step, steps and learning rate. Seeded and
single-threaded: the same arguments give identical weights. OUT becomes a standard Hugging Face
model folder, written beside OUT and renamed into place; with --checkpoint-every N it holds the
model every N steps too (OUT/checkpoints/step-NNNNNN, each an ordinary model folder).
"""

from __future__ import annotations

import argparse
import sys

from rlcircuits.cli import add_settings, run_stage, settings_from
from rlcircuits.options import ALGORITHMS
from rlcircuits.zoo.rl import RLSettings, train_rl

DEFAULTS = RLSettings()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--algorithm", required=True, choices=ALGORITHMS, help="tuning algorithm")
    parser.add_argument("--base", required=True, help="SFT model folder from train_sft.py")
    parser.add_argument("--train", required=True, nargs="+", help="train-split JSONL files from zoo_tasks.py")
    add_settings(
        parser,
        DEFAULTS,
        {
            "steps": "optimiser steps",
            "prompts_per_step": "questions (DPO: pairs; continued SFT: worked solutions) per step",
            "generations": "samples per question: GRPO/RLOO group, offline DPO's one-off samples",
            "learning_rate": "AdamW rate",
            "warmup_ratio": "share of the steps the rate warms up over, then cosine decay",
            "beta": "KL / DPO beta",
            "temperature": "sampling temperature",
            "max_completion_length": "sampled answer cap in tokens",
            "seed": "sampling and data seed",
        },
    )
    parser.add_argument(
        "--checkpoint-every",
        type=int,
        default=0,
        help="also save OUT/checkpoints/step-NNNNNN every this many steps (default: 0, none)",
    )
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: 1)")
    parser.add_argument("--out", required=True, help="output model folder")
    return parser.parse_args(argv)


def train(args: argparse.Namespace) -> None:
    settings = settings_from(args, RLSettings)
    train_rl(
        args.algorithm,
        args.base,
        args.train,
        settings,
        args.out,
        threads=args.threads,
        checkpoint_every=args.checkpoint_every,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_stage("train_rl", lambda: train(args))


if __name__ == "__main__":
    sys.exit(main())
