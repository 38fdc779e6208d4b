#!/usr/bin/env python
"""Build Table 1 (tables/table1.csv) from every cell's metrics JSON.

Each pair's training algorithm is given as --algorithm PAIR=NAME (repeatable).
"""

from __future__ import annotations

import argparse
import sys

from rlcircuits.cli import run_stage
from rlcircuits.errors import SettingsError
from rlcircuits.tables import read_cell, table1, write_csv


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--metrics", nargs="+", required=True, help="metrics JSON files from `analyze`")
    parser.add_argument("--algorithm", action="append", default=[], metavar="PAIR=NAME", help="a pair's RL algorithm")
    parser.add_argument("--out", required=True, help="output CSV")
    return parser.parse_args(argv)


def build(args: argparse.Namespace) -> None:
    malformed = [item for item in args.algorithm if "=" not in item]
    if malformed:
        raise SettingsError(f"--algorithm takes PAIR=NAME, got {malformed[0]!r}")
    algorithms = dict(item.split("=", 1) for item in args.algorithm)
    write_csv(table1([read_cell(path) for path in args.metrics], algorithms), args.out)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_stage("tables", lambda: build(args))


if __name__ == "__main__":
    sys.exit(main())
