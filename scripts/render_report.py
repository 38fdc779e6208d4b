#!/usr/bin/env python
"""Render the run's self-contained HTML report (report/index.html) from its output folder.

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
from rlcircuits.model_names import model_of
from rlcircuits.report import (
    ReportInputs,
    StudySection,
    analysis_settings,
    inline_png,
    png_data_uri,
    provenance,
    render,
)
from rlcircuits.study import ACCURACY
from rlcircuits.tables import METRICS, TABLE1_COLUMNS, read_cell

REPO = Path(__file__).resolve().parents[1]
REVISION_FILE = "rlcircuits_revision.json"  # written by fetch_model.py into each fetched folder


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="the run's YAML config")
    parser.add_argument("--run-dir", required=True, help="results/<run>")
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


def _examples(run: Path, selections: list[dict], model_names: dict[tuple[str, str], str]) -> list[dict[str, str]]:
    """The first selected question of each pair x dataset with both answers, where graded files exist."""
    examples = []
    for record in selections:
        answers = {}
        for role in ROLES:
            name = model_names.get((record["pair"], role))
            graded = run / "graded" / str(name) / f"{record['dataset']}.jsonl"
            if name is not None and graded.is_file():
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


def _study(config: dict, run: Path) -> StudySection | None:
    """The controlled study's tables, forest plots and its tuned models' curves, when the config has a study."""
    if "study" not in config:
        return None
    tables, figures = run / "tables", run / "figures"
    curves = {}
    for arm in config["study"]["arms"].values():
        for pair in arm["pairs"]:
            folder = Path(config["pairs"][pair]["rl"]["model"])
            if (folder / TRAINING_CURVE).is_file():
                curves[pair] = read_training_curve(folder / TRAINING_CURVE)
    return StudySection(
        forest_plots={m: inline_png(figures / f"study_{m}.png") for m in (*METRICS, ACCURACY)},
        arms=_csv(tables / "study_arms.csv"),
        contrasts=_csv(tables / "study_contrasts.csv"),
        verdicts=_csv(tables / "study_verdicts.csv"),
        training_curves=png_data_uri(png_bytes(training_curves(curves))) if curves else None,
        curve_models=sorted(curves),
    )


def gather(args: argparse.Namespace) -> ReportInputs:
    config = _yaml(args.config)
    run = Path(args.run_dir)
    table1 = _csv(run / "tables" / "table1.csv")
    selections = []
    for path in sorted((run / "selection").glob("*/*.json")):
        selection = read_selection(path)
        record = {f.name: getattr(selection, f.name) for f in fields(selection) if f.name != "samples"}
        selections.append({**record, "first_id": selection.samples[0].id})
    pairs, datasets, alphas = config.get("pairs", {}), config.get("datasets", {}), config.get("alphas", [])
    grid = [(p, d, float(a)) for p in pairs for d in datasets for a in alphas]
    # The configured grid's metrics files only (named as rules/analyze.smk names them), never a glob.
    paths = [run / "metrics" / p / d / f"alpha{a}.json" for p in pairs for d in datasets for a in alphas]
    cells = [read_cell(path) for path in paths if path.is_file()]
    ablations = {p: spec["ablation_of"] for p, spec in pairs.items() if "ablation_of" in spec}
    counted = headline_cells(cells, grid, list(ablations))
    revisions = {}
    for folder in args.models:
        record = Path(folder) / REVISION_FILE
        if record.is_file():
            fetched = json.loads(record.read_text(encoding="utf-8"))
            revisions[fetched["model"]] = fetched["resolved"]
    figures = run / "figures"
    curves = _training_curves(args.models)
    return ReportInputs(
        run_name=str(config.get("run_name", run.name)),
        table1=table1 if table1 is not None else pd.DataFrame(columns=list(TABLE1_COLUMNS)),
        table4=_csv(run / "tables" / "table4.csv"),
        grid=grid,
        online={p: bool(spec.get("online", False)) for p, spec in pairs.items()},
        ablations=ablations,
        alphas=[float(a) for a in alphas],
        selections=selections,
        figures={name: inline_png(figures / f"{name}.png") for name in ("fig2", "fig3a", "fig3b")},
        headline=diversity_summary(counted) if counted else None,
        entropy_increases=largest_entropy_increases(cells),
        reference=_yaml(args.reference),
        settings=analysis_settings(cells),
        provenance=provenance(config, Path(args.benchmarks) if args.benchmarks else None, revisions),
        examples=_examples(run, selections, model_of(config.get("pairs", {}))),
        training_curves=png_data_uri(png_bytes(training_curves(curves))) if curves else None,
        curve_models=sorted(curves),
        study=_study(config, run),
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
