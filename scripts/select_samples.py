#!/usr/bin/env python
"""Select matched samples for one pair x dataset (docs/DESIGN.md §4) from both models' graded answers.

(Named select_samples.py, not select.py: a scripts/select.py would shadow the standard
library's `select` module for every script run from this folder.)

Writes selection/{pair}/{dataset}.json: T_bar, every threshold, the count left after each
filter, and each chosen question's prompt and answer token ids for both models. With
--against-base the questions are chosen on the base alone (rlcircuits.selection.select_against_base).
"""

from __future__ import annotations

import argparse
import logging
import sys

from rlcircuits.cli import add_settings, run_stage, settings_from
from rlcircuits.contracts import read_graded, write_selection
from rlcircuits.selection import SelectionParams, select_against_base, select_samples

HELPS = {
    "beta": "lower length bound, x T_bar",
    "gamma": "upper length bound, x T_bar",
    "delta": "max |T_base - T_rl| / mean length",
    "n": "samples to draw",
    "seed": "random.seed before random.sample",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True, help="graded JSONL of the base (SFT) model")
    parser.add_argument("--rl", required=True, help="graded JSONL of the RL-tuned model")
    parser.add_argument("--pair", required=True, help="pair name, recorded in the output and messages")
    parser.add_argument("--dataset", required=True, help="dataset name, recorded in the output and messages")
    add_settings(parser, SelectionParams(), HELPS)
    parser.add_argument(
        "--against-base",
        action="store_true",
        help="choose the questions on the base alone (one set for all its tuned models), each with its own answer",
    )
    parser.add_argument("--out", required=True, help="output selection JSON")
    return parser.parse_args(argv)


def select(args: argparse.Namespace) -> None:
    params = settings_from(args, SelectionParams)
    chooser = select_against_base if args.against_base else select_samples
    selection = chooser(read_graded(args.base), read_graded(args.rl), params, pair=args.pair, dataset=args.dataset)
    write_selection(args.out, selection)
    logging.getLogger("select").info(
        "%s/%s: T_bar=%.1f, counts %s%s",
        args.pair,
        args.dataset,
        selection.t_bar,
        selection.counts,
        " (fewer than N)" if selection.fewer_than_n else "",
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_stage("select", lambda: select(args))


if __name__ == "__main__":
    sys.exit(main())
