#!/usr/bin/env python
"""Analyse one pair x dataset x alpha: metrics of base and RL under both conventions (ours and the
paper's), studentized bootstrap tests of each paired difference with the CIs that invert them
(rlcircuits.stats), per-sample arrays.

Reads the two attribution .npz files and writes metrics/{pair}/{dataset}/alpha{alpha}.json.
"""

from __future__ import annotations

import argparse
import json
import sys

from rlcircuits.analysis import analyze_cell
from rlcircuits.cli import add_settings, run_stage, settings_from
from rlcircuits.contracts import load_attribution
from rlcircuits.files import atomic_output
from rlcircuits.metrics import MetricOptions
from rlcircuits.options import KURTOSIS_OF
from rlcircuits.stats import ResampleSettings

HELPS = {"bins": "histogram bins for information complexity", "kurtosis_of": "kurtosis of the signed W or of |W|"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True, help="attribution .npz of the base (SFT) model")
    parser.add_argument("--rl", required=True, help="attribution .npz of the RL-tuned model")
    parser.add_argument("--pair", required=True)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--alpha", required=True, type=float)
    parser.add_argument("--out", required=True, help="output metrics JSON")
    add_settings(parser, MetricOptions(), HELPS, choices={"kurtosis_of": KURTOSIS_OF})
    add_settings(
        parser,
        ResampleSettings(),
        {"resamples": "bootstrap resamples and sign flips per test (at least 39)", "seed": "seed of the resamples"},
    )
    return parser.parse_args(argv)


def analyze(args: argparse.Namespace) -> None:
    options = settings_from(args, MetricOptions)
    record = analyze_cell(
        load_attribution(args.base),
        load_attribution(args.rl),
        label=f"{args.pair}/{args.dataset}/alpha{args.alpha}",
        options=options,
        resamples=args.resamples,
        seed=args.seed,
    )
    with atomic_output(args.out, "w") as handle:
        json.dump({"pair": args.pair, "dataset": args.dataset, "alpha": args.alpha, **record}, handle, indent=1)
        handle.write("\n")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_stage("analyze", lambda: analyze(args))


if __name__ == "__main__":
    sys.exit(main())
