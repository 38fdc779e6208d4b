#!/usr/bin/env python
"""Tune a Hugging Face Hub model with TRL's GRPO on a train split: the paper-scale training dynamics.

BASE is a model folder (a fetched Hub snapshot); the data is GSM8K's train split from the Hub or
a local file in its format. The defaults are the authors' settings (rlcircuits.hub_rl). OUT
becomes a standard Hugging Face model folder with its training record and reward curve, and,
with --checkpoint-every N, OUT/checkpoints/step-<NNNNNN>/ every N steps; it appears only when
training is complete. Runs on CUDA (bfloat16 autocast) or, for tests, on CPU.
"""

from __future__ import annotations

import argparse
import sys

from rlcircuits.cli import add_settings, run_stage, settings_from
from rlcircuits.options import DATA_SOURCES, GRPO_LOSSES, OPTIMIZERS, REWARDS

HELP = {
    "steps": "optimiser steps",
    "prompts_per_step": "questions per step",
    "generations": "completions per question (the GRPO group)",
    "learning_rate": "peak AdamW learning rate",
    "adam_beta1": "AdamW beta1",
    "adam_beta2": "AdamW beta2",
    "weight_decay": "AdamW weight decay",
    "warmup_ratio": "share of the steps the rate warms up over, then cosine decay",
    "max_grad_norm": "gradient-norm clip",
    "beta": "KL penalty to the base (0: none, no reference model)",
    "temperature": "sampling temperature",
    "top_p": "nucleus sampling mass",
    "max_prompt_length": "longest rendered prompt in tokens (longer questions are left out)",
    "max_completion_length": "longest completion in tokens",
    "reward": "binary: the grader's verdict; graded: the authors' scale",
    "optimizer": "adamw, or adamw_8bit (bitsandbytes, CUDA only)",
    "loss_type": "TRL's GRPO loss normalisation",
    "checkpoint_every": "save a checkpoint every N steps (0: none)",
    "gradient_checkpointing": "recompute activations in the backward pass (memory)",
    "save_dtype": "dtype of the saved weights",
    "seed": "sampling and data seed",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from rlcircuits.hub_rl import HubRLSettings

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True, help="the base model's folder")
    parser.add_argument("--data-source", choices=DATA_SOURCES, default="hub", help="GSM8K train from (default: hub)")
    parser.add_argument("--data-path", help="a local GSM8K-format JSON-lines file (with --data-source local)")
    parser.add_argument("--limit", type=int, help="only the first N train questions (default: all)")
    parser.add_argument("--template", help="prompt template the chat template must match (rlcircuits.prompts)")
    add_settings(
        parser,
        HubRLSettings(),
        HELP,
        {"reward": REWARDS, "optimizer": OPTIMIZERS, "loss_type": GRPO_LOSSES},
    )
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument("--out", required=True, help="output model folder")
    return parser.parse_args(argv)


def train(args: argparse.Namespace) -> None:
    from rlcircuits.datasets import load_questions
    from rlcircuits.hub_rl import HubRLSettings, train_hub_rl

    settings = settings_from(args, HubRLSettings)
    questions = load_questions("gsm8k", source=args.data_source, path=args.data_path, limit=args.limit, split="train")
    data = f"gsm8k train ({args.data_source}{': ' + args.data_path if args.data_path else ''})"
    train_hub_rl(args.base, questions, settings, args.out, data=data, template=args.template, threads=args.threads)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_stage("train_hub_rl", lambda: train(args))


if __name__ == "__main__":
    sys.exit(main())
