#!/usr/bin/env python
"""One model's point of a training-dynamics curve on one dataset: accuracy and KL from the base.

Reads the model's graded answers to the whole test split (its greedy accuracy) and its selection
against the base (select_samples.py --against-base: the base's question set with this model's own
answers), loads the model and the base, and writes the mean per-token KL(model || base) on those
answers (rlcircuits.divergence) with both accuracies as a rlcircuits.dynamics.DynamicsPoint.
"""

from __future__ import annotations

import argparse
import logging
import sys

from rlcircuits.cli import run_stage
from rlcircuits.contracts import read_graded, read_selection
from rlcircuits.divergence import answer_kl
from rlcircuits.dynamics import DynamicsPoint, write_point
from rlcircuits.errors import InputFormatError
from rlcircuits.models import add_load_settings, load_model


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="the model folder (a checkpoint, or the base at step 0)")
    parser.add_argument("--base", required=True, help="the base model folder")
    parser.add_argument("--graded", required=True, help="the model's graded JSONL of the dataset")
    parser.add_argument("--selection", required=True, help="its selection against the base")
    parser.add_argument("--run", required=True, help="the run's name, recorded")
    parser.add_argument("--step", required=True, type=int, help="the checkpoint's step (0: the base), recorded")
    parser.add_argument("--dataset", required=True, help="the dataset's name, recorded")
    add_load_settings(parser)
    parser.add_argument("--out", required=True, help="output point JSON")
    return parser.parse_args(argv)


def measure(args: argparse.Namespace) -> None:
    graded = read_graded(args.graded)
    selection = read_selection(args.selection)
    by_id = {record.id: record for record in graded}
    missing = [s.id for s in selection.samples if s.id not in by_id]
    if missing:
        raise InputFormatError(f"{args.selection}: questions {', '.join(missing[:5])} are not in {args.graded}")
    if any(by_id[s.id].answer_token_ids != s.rl.answer_token_ids for s in selection.samples):
        raise InputFormatError(f"{args.selection}: its answers are not the model's in {args.graded}")
    model, base = (load_model(path, dtype=args.dtype, device=args.device) for path in (args.model, args.base))
    kl, tokens = answer_kl(model, base, [s.rl for s in selection.samples])
    point = DynamicsPoint(
        run=args.run,
        step=args.step,
        dataset=args.dataset,
        model=args.model,
        questions=len(graded),
        correct=sum(record.correct for record in graded),
        set_size=len(selection.samples),
        set_correct=sum(by_id[s.id].correct for s in selection.samples),
        kl=kl,
        kl_tokens=tokens,
    )
    write_point(args.out, point)
    logging.getLogger("dynamics_point").info(
        "%s step %d, %s: accuracy %.1f%%, on the set %.1f%%, KL %.4g nats/token over %d tokens",
        args.run,
        args.step,
        args.dataset,
        point.accuracy,
        point.set_accuracy,
        kl,
        tokens,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_stage("dynamics_point", lambda: measure(args))


if __name__ == "__main__":
    sys.exit(main())
