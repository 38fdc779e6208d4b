#!/usr/bin/env python
"""Table 4 (tables/table4.csv): accuracy per pair x role x dataset from the graded files.

Give the files (--graded, paths ending {pair}/{role}/{dataset}.jsonl) or a run's graded folder
(--graded-root results/<run>/graded). Columns: pair, role, dataset, n, n_correct, accuracy_pct,
no_answer, timeouts, crashed; rows sorted by pair, dataset, role, so a rerun writes the same bytes.
"""

from __future__ import annotations

import argparse
import sys

from rlcircuits.cli import run_stage
from rlcircuits.tables import graded_files, table4, write_csv


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--graded", nargs="+", help="graded JSONL files")
    source.add_argument("--graded-root", help="folder holding {pair}/{role}/{dataset}.jsonl")
    parser.add_argument("--out", required=True, help="output CSV")
    return parser.parse_args(argv)


def build(args: argparse.Namespace) -> None:
    paths = args.graded if args.graded else graded_files(args.graded_root)
    write_csv(table4(paths), args.out)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_stage("table4", lambda: build(args))


if __name__ == "__main__":
    sys.exit(main())
