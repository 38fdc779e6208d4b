#!/usr/bin/env python
"""Write one mini-zoo task's test and train splits (synthetic math, docs/DESIGN.md §1 demo).

Tasks: arithmetic (two-step word problems, GSM8K's role), equations (linear equations, MATH's
role), fractions (fractions and mixed operations, College Math's role). Both splits are JSON
lines of {"id", "question", "gold", "solution"}; the test split is what the generate stage
reads (datasets format qa), the train split what train_sft.py and train_rl.py read. The splits
never share a problem, and the same task and seed always give the same files.
"""

from __future__ import annotations

import argparse
import logging
import sys

from rlcircuits.cli import add_settings, run_stage, settings_from
from rlcircuits.zoo.tasks import TASKS, SplitSettings, make_splits, write_tasks


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", required=True, choices=sorted(TASKS), help="which synthetic task")
    add_settings(
        parser, SplitSettings(), {"seed": "generator seed", "n_test": "test questions", "n_train": "train questions"}
    )
    parser.add_argument("--test-out", required=True, help="output JSONL of the test split")
    parser.add_argument("--train-out", required=True, help="output JSONL of the train split")
    return parser.parse_args(argv)


def write_splits(args: argparse.Namespace) -> None:
    sizes = settings_from(args, SplitSettings)
    splits = make_splits(args.task, sizes.seed, sizes.n_test, sizes.n_train)
    write_tasks(args.test_out, splits["test"])
    write_tasks(args.train_out, splits["train"])
    logging.getLogger("zoo_tasks").info(
        "%s (seed %d): %d test questions -> %s, %d train questions -> %s",
        args.task,
        args.seed,
        len(splits["test"]),
        args.test_out,
        len(splits["train"]),
        args.train_out,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_stage("zoo_tasks", lambda: write_splits(args))


if __name__ == "__main__":
    sys.exit(main())
