#!/usr/bin/env python
"""Grade one generations file: docs/DESIGN.md §3's graded JSONL (each record + pred, correct, grade_status).

The final answer is extracted (last \\boxed{}, else "The answer is", else "final answer is", else
the last number) and judged against the gold by math-verify in worker processes, each answer
under a hard time limit; an answer over it is counted wrong and logged with its id.
Nothing is written on any error.
"""

from __future__ import annotations

import argparse
import logging
import sys

from rlcircuits.cli import add_settings, run_stage, settings_from
from rlcircuits.contracts import read_generations, write_graded
from rlcircuits.grading.pool import GradingSettings, JudgePool
from rlcircuits.grading.records import grade_generations

log = logging.getLogger("grade")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--generations", required=True, help="generations JSONL from the generate stage")
    parser.add_argument("--out", required=True, help="graded JSONL to write")
    add_settings(
        parser,
        GradingSettings(),
        {"workers": "grading processes (this machine's CPU count)", "timeout": "hard limit per answer, seconds"},
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser.parse_args(argv)


def grade(args: argparse.Namespace) -> None:
    records = read_generations(args.generations)
    settings = settings_from(args, GradingSettings)
    log.info(
        "%s: %d answers, %d workers, %gs limit each", args.generations, len(records), settings.workers, settings.timeout
    )
    with JudgePool(workers=settings.workers, timeout=settings.timeout) as pool:
        graded = grade_generations(records, pool, progress=not args.no_progress)
    write_graded(args.out, graded)
    statuses = [record.grade_status for record in graded]
    n_correct = sum(record.correct for record in graded)
    log.info(
        "wrote %s: %d/%d correct (%.1f%%); %d without an answer, %d timed out, %d crashed",
        args.out,
        n_correct,
        len(graded),
        100 * n_correct / max(len(graded), 1),
        statuses.count("no_answer"),
        statuses.count("timeout"),
        statuses.count("crashed"),
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_stage("grade", lambda: grade(args))


if __name__ == "__main__":
    sys.exit(main())
