#!/usr/bin/env python
"""Render the run's self-contained HTML report (report/index.html) from its output folder.

The run's shape (grid, pairs, paths) comes from the effective config the workflow wrote,
results/<run>/config.yaml (rlcircuits.run_plan); paths are relative to the workflow's folder.
Reads results/<run>/{tables,figures,selection,graded,metrics}; a missing file is shown as missing
in the page rather than failing the render, a malformed one fails it with the file named.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import fields
from pathlib import Path

import pandas as pd
import yaml

from rlcircuits.audit import read_faithfulness
from rlcircuits.cli import run_stage
from rlcircuits.contracts import ROLES, TRAINING_CURVE, TrainingCurve, read_graded, read_selection, read_training_curve
from rlcircuits.errors import RLCircuitsError
from rlcircuits.figures import (
    diversity_summary,
    headline_cells,
    largest_entropy_increases,
    png_bytes,
    training_curves,
)
from rlcircuits.files import atomic_output
from rlcircuits.provenance import provenance
from rlcircuits.report import (
    DynamicsSection,
    ReportInputs,
    StudySection,
    analysis_settings,
    inline_png,
    png_data_uri,
    render,
)
from rlcircuits.robustness import RobustnessSection, StudyInputs, robustness_section
from rlcircuits.run_plan import FIGURES, REVISION_FILE, RunPlan
from rlcircuits.study import ACCURACY
from rlcircuits.tables import METRICS, TABLE1_COLUMNS, read_cell

REPO = Path(__file__).resolve().parents[1]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run-config", required=True, help="the run's effective config, results/<run>/config.yaml")
    parser.add_argument("--reference", default=str(REPO / "config" / "paper_reference.yaml"), help="paper's numbers")
    parser.add_argument("--templates", default=str(REPO / "report"), help="folder with index.html.j2 and style.css")
    parser.add_argument("--benchmarks", default=None, help="Snakemake benchmark folder (benchmarks/<rule>/*.tsv)")
    parser.add_argument("--models", nargs="*", default=[], help="model folders; fetched ones record their revision")
    parser.add_argument("--out", required=True, help="output HTML")
    return parser.parse_args(argv)


def _yaml(path: str | Path) -> dict:
    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise RLCircuitsError(f"{path}: not found") from None
    except yaml.YAMLError as exc:
        raise RLCircuitsError(f"{path}: invalid YAML ({exc})") from None


def _csv(path: Path) -> pd.DataFrame | None:
    return pd.read_csv(path) if path.is_file() else None


def _examples(plan: RunPlan, selections: list[dict]) -> list[dict[str, str]]:
    """The first selected question of each pair x dataset with both answers, where graded files exist."""
    examples = []
    for record in selections:
        answers = {}
        for role in ROLES:
            graded = Path(plan.graded_file(record["pair"], role, record["dataset"]))
            if graded.is_file():
                answers[role] = next((r for r in read_graded(graded) if r.id == record["first_id"]), None)
        if answers.get("base") and answers.get("rl"):
            examples.append(
                {
                    "pair": record["pair"],
                    "dataset": record["dataset"],
                    "id": record["first_id"],
                    "question": answers["base"].question,
                    "base": answers["base"].answer,
                    "rl": answers["rl"].answer,
                }
            )
    return examples


def _training_curves(folders: list[str]) -> dict[str, TrainingCurve]:
    """The curves saved beside the mini zoo's models, by folder path below their common folder."""
    found = [Path(folder) for folder in folders if (Path(folder) / TRAINING_CURVE).is_file()]
    if not found:
        return {}
    root = Path(os.path.commonpath([folder.resolve().parent for folder in found]))
    return {str(folder.resolve().relative_to(root)): read_training_curve(folder / TRAINING_CURVE) for folder in found}


def _study(plan: RunPlan) -> StudySection | None:
    """The controlled study's tables, forest plots and its tuned models' curves, when the run has a study."""
    if not plan.arms:
        return None
    curves = {}
    for arm in plan.arms:
        for pair in arm.pairs:
            folder = Path(plan.pair_model_path(pair, "rl"))
            if (folder / TRAINING_CURVE).is_file():
                curves[pair] = read_training_curve(folder / TRAINING_CURVE)
    return StudySection(
        forest_plots={m: inline_png(Path(plan.figure(f"study_{m}"))) for m in (*METRICS, ACCURACY)},
        arms=_csv(Path(plan.table("study_arms"))),
        contrasts=_csv(Path(plan.table("study_contrasts"))),
        verdicts=_csv(Path(plan.table("study_verdicts"))),
        training_curves=png_data_uri(png_bytes(training_curves(curves))) if curves else None,
        curve_models=sorted(curves),
    )


def _dynamics(plan: RunPlan) -> DynamicsSection | None:
    """The training dynamics' tables and figures, when the run has a dynamics section."""
    if not plan.dynamics_runs:
        return None
    stems = sorted(
        {Path(path).stem for path in plan.dynamics_figures()}, key=[Path(p).stem for p in plan.dynamics_figures()].index
    )
    return DynamicsSection(
        figures={stem: inline_png(Path(plan.figure(stem))) for stem in stems},
        settings=_csv(Path(plan.table("dynamics_settings"))),
        effects=_csv(Path(plan.table("dynamics_effects"))),
        datasets=list(plan.dynamics_datasets),
        alphas=list(plan.dynamics_alphas),
    )


def _robustness(plan: RunPlan) -> RobustnessSection | None:
    """Each variant's claims verdicts (a study's hypotheses too) and the faithfulness records, given an audit."""
    if plan.audit is None:
        return None
    table1_files = [plan.table1_of(variant) for variant in plan.audit.all_variants]
    tables = [_csv(Path(path)) for path in table1_files]
    records = [read_faithfulness(path) for path in plan.faithfulness_files() if Path(path).is_file()]
    return robustness_section(
        plan.audit,
        tables,
        records,
        inline_png(Path(plan.figure("faithfulness"))) if plan.audit.faithfulness else None,
        {name: pair.online for name, pair in plan.pairs.items()},
        dict(plan.ablations),
        plan.config["attribution"],
        StudyInputs(_csv(Path(plan.table("table4"))), plan.arms, plan.contrasts, table1_files, plan.table("table4"))
        if plan.arms
        else None,
    )


def _selections(plan: RunPlan) -> list[dict]:
    """Each configured pair x dataset's selection record (its samples left out), where it exists."""
    selections = []
    for pair in plan.pairs:
        for dataset in plan.datasets:
            path = Path(plan.selection(pair, dataset))
            if not path.is_file():
                continue
            selection = read_selection(path)
            record = {f.name: getattr(selection, f.name) for f in fields(selection) if f.name != "samples"}
            selections.append({**record, "first_id": selection.samples[0].id})
    return selections


def gather(args: argparse.Namespace) -> ReportInputs:
    plan = RunPlan.from_file(args.run_config)
    table1 = _csv(Path(plan.table("table1")))
    selections = _selections(plan)
    grid = [(c.pair, c.dataset, float(c.alpha)) for c in plan.cells()]
    # The configured grid's metrics files only, never a glob.
    cells = [read_cell(path) for path in plan.metrics_files() if Path(path).is_file()]
    counted = headline_cells(cells, grid, list(plan.ablations))
    revisions = {}
    for folder in args.models:
        record = Path(folder) / REVISION_FILE
        if record.is_file():
            fetched = json.loads(record.read_text(encoding="utf-8"))
            revisions[fetched["model"]] = fetched["resolved"]
    curves = _training_curves(args.models)
    return ReportInputs(
        run_name=plan.run,
        table1=table1 if table1 is not None else pd.DataFrame(columns=list(TABLE1_COLUMNS)),
        table4=_csv(Path(plan.table("table4"))),
        grid=grid,
        online={name: pair.online for name, pair in plan.pairs.items()},
        ablations=dict(plan.ablations),
        alphas=[float(a) for a in plan.alphas],
        selections=selections,
        figures={name: inline_png(Path(plan.figure(name))) for name in FIGURES},
        headline=diversity_summary(counted) if counted else None,
        entropy_increases=largest_entropy_increases(cells),
        reference=_yaml(args.reference),
        settings=analysis_settings(cells),
        provenance=provenance(plan.config, Path(args.benchmarks) if args.benchmarks else None, revisions),
        examples=_examples(plan, selections),
        training_curves=png_data_uri(png_bytes(training_curves(curves))) if curves else None,
        curve_models=sorted(curves),
        study=_study(plan),
        dynamics=_dynamics(plan),
        shared_selection=plan.config.get("selection", {}).get("shared") == "base",
        robustness=_robustness(plan),
    )


def write_report(args: argparse.Namespace) -> None:
    html = render(gather(args), Path(args.templates))
    with atomic_output(args.out, "w") as handle:
        handle.write(html)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_stage("render_report", lambda: write_report(args))


if __name__ == "__main__":
    sys.exit(main())
