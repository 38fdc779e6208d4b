#!/usr/bin/env python
"""The controlled study's statistics over seeds (docs/DESIGN.md §4): tables and forest plots.

Reads the run's Table 1 and Table 4, the graded answers of every seed and of the base (the files
the effective config names: accuracy intervals add the test questions' sampling to the seeds'),
and the `study` key of its effective config (results/<run>/config.yaml; arms: one pair per seed;
contrasts: arm minus versus arm) and writes, into --tables-dir, study_seeds.csv (every seed's
value), study_arms.csv (mean and 95% CI per arm x metric x dataset x alpha), study_contrasts.csv
(difference of arm means with 95% CIs) and study_verdicts.csv (one verdict per contrast x
metric); into --figures-dir, a forest plot per metric and for accuracy (study_<metric>.svg/.png).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from rlcircuits.cli import run_stage
from rlcircuits.contracts import read_graded
from rlcircuits.errors import InputFormatError, SettingsError
from rlcircuits.figures import forest_plot, save_figure
from rlcircuits.run_plan import RunPlan
from rlcircuits.study import ACCURACY, HYPOTHESES, arm_table, contrast_table, question_changes, seed_values, verdicts
from rlcircuits.tables import TABLE1_COLUMNS, TABLE4_COLUMNS, write_csv
from rlcircuits.vocabulary import METRICS


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run-config", required=True, help="the run's effective config, results/<run>/config.yaml")
    parser.add_argument("--table1", required=True, help="tables/table1.csv")
    parser.add_argument("--table4", required=True, help="tables/table4.csv")
    parser.add_argument("--tables-dir", required=True, help="folder of the study_*.csv tables")
    parser.add_argument("--figures-dir", required=True, help="folder of the study_*.svg/.png forest plots")
    return parser.parse_args(argv)


def read_table(path: str, columns: tuple[str, ...]) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputFormatError(f"{path}: cannot read the table ({exc})") from None
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise InputFormatError(f"{path}: missing column(s) {', '.join(missing)}")
    return frame


def _correct(path: str) -> dict[str, bool]:
    """Question id -> graded correct, from one model's graded file."""
    return {record.id: record.correct for record in read_graded(path)}


def build(args: argparse.Namespace) -> None:
    plan = RunPlan.from_file(args.run_config)
    if not plan.arms:
        raise SettingsError(f"{args.run_config}: the run has no `study` key")
    arms, contrasts = list(plan.arms), list(plan.contrasts)
    table1, table4 = read_table(args.table1, TABLE1_COLUMNS), read_table(args.table4, TABLE4_COLUMNS)
    seeds = seed_values(table1, table4, arms, sources=(args.table1, args.table4))
    study_pairs = {pair for arm in arms for pair in arm.pairs}
    cells = [cell for cell in plan.table4_cells() if cell[0] in study_pairs]
    correct = {(pair, role, dataset): _correct(path) for pair, role, dataset, path in cells}
    answers = question_changes(correct, arms, sorted({dataset for _, _, dataset, _ in cells}))
    summary = arm_table(seeds, arms, answers=answers)
    tables, figures = Path(args.tables_dir), Path(args.figures_dir)
    write_csv(seeds, tables / "study_seeds.csv")
    write_csv(summary, tables / "study_arms.csv")
    write_csv(contrast_table(seeds, contrasts, answers=answers), tables / "study_contrasts.csv")
    write_csv(verdicts(seeds, arms, contrasts, HYPOTHESES, answers=answers), tables / "study_verdicts.csv")
    labels = {arm.name: arm.label for arm in arms}
    for metric in (*METRICS, ACCURACY):
        save_figure(forest_plot(seeds, summary, metric, labels), figures / f"study_{metric}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_stage("study", lambda: build(args))


if __name__ == "__main__":
    sys.exit(main())
