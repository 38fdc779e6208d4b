#!/usr/bin/env python
"""Table 4 (tables/table4.csv): accuracy per pair x role x dataset from the graded files.

Each --cell names a pair, a role (base or rl), a dataset and the graded JSONL of that role's model
(graded/{model}/{dataset}.jsonl; pairs that share a model name the same file). Columns: pair,
role, dataset, n, n_correct, accuracy_pct, no_answer, timeouts, crashed; rows sorted by pair,
dataset, role, so a rerun writes the same bytes.
"""

from __future__ import annotations

import argparse
import sys

from rlcircuits.cli import run_stage
from rlcircuits.tables import table4, write_csv


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--cell",
        nargs=4,
        action="append",
        required=True,
        metavar=("PAIR", "ROLE", "DATASET", "GRADED"),
        help="one row: pair, role, dataset and the graded file it reads (repeat per row)",
    )
    parser.add_argument("--out", required=True, help="output CSV")
    return parser.parse_args(argv)


def build(args: argparse.Namespace) -> None:
    write_csv(table4(args.cell), args.out)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_stage("table4", lambda: build(args))


if __name__ == "__main__":
    sys.exit(main())
