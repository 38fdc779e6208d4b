#!/usr/bin/env python
"""Summarise a run's training dynamics: every checkpoint's point and metrics into tables and figures.

Reads the run's effective config (its dynamics section names the runs, settings and contrasts), every
checkpoint's point (scripts/dynamics_point.py) and analyze record, and writes tables/dynamics_points.csv
(one row per run x step x dataset [x alpha] x quantity), tables/dynamics_settings.csv (each setting's
mean and interval over seeds per step), tables/dynamics_effects.csv (the contrasts at the last
checkpoint) and the dynamics figures (rlcircuits.dynamics_figures).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rlcircuits.cli import run_stage
from rlcircuits.dynamics import effect_table, points_table, read_inputs, run_summaries, setting_table
from rlcircuits.dynamics_figures import against_kl, against_step, effects_forest
from rlcircuits.figures import save_figure
from rlcircuits.run_plan import RunPlan
from rlcircuits.tables import write_csv
from rlcircuits.vocabulary import METRICS


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run-config", required=True, help="the run's effective config, results/<run>/config.yaml")
    return parser.parse_args(argv)


def summarise(args: argparse.Namespace) -> None:
    plan = RunPlan.from_file(args.run_config)
    points = points_table(plan, *read_inputs(plan))
    summaries = run_summaries(points)
    write_csv(points, plan.table("dynamics_points"))
    write_csv(setting_table(plan, summaries), plan.table("dynamics_settings"))
    effects = effect_table(plan, summaries)
    write_csv(effects, plan.table("dynamics_effects"))
    for metric in METRICS:
        save_figure(against_step(points, metric), Path(plan.figure(f"dynamics_{metric}_step")).with_suffix(""))
        save_figure(against_kl(points, metric), Path(plan.figure(f"dynamics_{metric}_kl")).with_suffix(""))
    for quantity in ("accuracy", "kl"):
        save_figure(against_step(points, quantity), Path(plan.figure(f"dynamics_{quantity}_step")).with_suffix(""))
    save_figure(effects_forest(effects), Path(plan.figure("dynamics_effects")).with_suffix(""))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_stage("dynamics", lambda: summarise(args))


if __name__ == "__main__":
    sys.exit(main())
