"""The self-contained HTML report: claims checklist, tables, figures, selection, methods, provenance.

Everything is gathered from the run's output folder (docs/DESIGN.md §3) and rendered with Jinja2 with
autoescape on, so model text can never become markup. Figures are inlined as data URIs, so
the page needs no network and no neighbouring files. Cells of the configured grid that have no
results are listed as missing rather than failing the page.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd

from rlcircuits.claims import CLAIMS, VERDICT_RULE, Checklist, Claim, claims  # noqa: F401 (re-exported)
from rlcircuits.contracts import ROLES
from rlcircuits.dynamics import SUMMARY_RULE as DYNAMICS_RULE
from rlcircuits.robustness import RobustnessSection
from rlcircuits.study import VERDICT_RULE as STUDY_VERDICT_RULE
from rlcircuits.tables import METRICS
from rlcircuits.truncation import cut_length
from rlcircuits.vocabulary import CLAIM_TEXTS, VERDICT_MEANINGS, intensity_survival


def _format(value: float | None) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "—"
    return f"{value:.3g}" if abs(value) >= 1e-2 or value == 0 else f"{value:.3e}"


def _percent(value: float) -> str:
    return "—" if value is None or np.isnan(value) else f"{100 * value:+.1f}%"


def table1_rows(
    table1: pd.DataFrame, grid: Sequence[tuple[str, str, float]], reference: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """One display row per grid cell; cells without results are marked missing."""
    rows = []
    for pair, dataset, alpha in grid:
        cell = table1[(table1["pair"] == pair) & (table1["dataset"] == dataset) & np.isclose(table1["alpha"], alpha)]
        metrics = {}
        for metric in METRICS:
            found = cell[cell["metric"] == metric]
            ref = reference.get(pair, {}).get(dataset, {}).get(alpha, {}).get(metric)
            if found.empty:
                metrics[metric] = None
                continue
            r = found.iloc[0]
            metrics[metric] = {
                "base": _format(r["base"]),
                "rl": _format(r["rl"]),
                "change": _percent(r["relative_change"]),
                "ci": f"[{_format(r['ci_low'])}, {_format(r['ci_high'])}]",
                "difference": _format(r["difference"]),
                "p": _format(r["p_value"]),
                "q": _format(r["q_value"]),
                "significant": bool(r["significant"]),
                "as_expected": bool(r["as_expected"]),
                "paper_convention": f"{_format(r['paper_base'])} → {_format(r['paper_rl'])} "
                f"({_percent(r['paper_relative_change'])})",
                "paper": None
                if ref is None
                else f"{_format(ref['base'])} → {_format(ref['rl'])} "
                f"({_percent((ref['rl'] - ref['base']) / abs(ref['base']))})",
            }
        algorithm = cell["algorithm"].iloc[0] if not cell.empty else ""
        rows.append(
            {
                "pair": pair,
                "algorithm": algorithm,
                "dataset": dataset,
                "alpha": f"{alpha:g}",
                "missing": cell.empty,
                "metrics": metrics,
            }
        )
    return rows


def _accuracy(row: Mapping[str, Any]) -> str:
    return f"{row['accuracy_pct']:.1f}% ({int(row['n_correct'])}/{int(row['n'])})"


def table4_rows(table4: pd.DataFrame | None, reference: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Accuracy per pair x dataset, base and RL side by side, with the paper's where recorded."""
    if table4 is None or table4.empty:
        return []
    rows = []
    for (pair, dataset), group in table4.groupby(["pair", "dataset"], sort=True):
        by_role = {r["role"]: r for _, r in group.iterrows()}
        ref = reference.get(dataset, {}).get(pair)
        rows.append(
            {
                "pair": pair,
                "dataset": dataset,
                **{role: _accuracy(by_role[role]) if role in by_role else "missing" for role in ROLES},
                "paper": None if ref is None else f"{ref['base']:.1f}% → {ref['rl']:.1f}%",
            }
        )
    return rows


def selection_rows(selections: Sequence[Mapping[str, Any]], alphas: Sequence[float]) -> list[dict[str, Any]]:
    """Counts after each selection filter, T_bar and T_cut per alpha."""
    rows = []
    for record in sorted(selections, key=lambda r: (r["pair"], r["dataset"])):
        rows.append(
            {
                "pair": record["pair"],
                "dataset": record["dataset"],
                "t_bar": f"{record['t_bar']:.1f}",
                "counts": record["counts"],
                "fewer_than_n": record.get("fewer_than_n", False),
                "n": record["thresholds"]["n"],
                "t_cut": {f"{a:g}": cut_length(a, record["t_bar"]) for a in alphas},
            }
        )
    return rows


def png_data_uri(png: bytes) -> str:
    """A PNG as a data URI, so the page stays one self-contained file."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def inline_png(path: Path | None) -> str | None:
    """A data URI of a PNG file (None where the figure was not produced)."""
    if path is None or not path.is_file():
        return None
    return png_data_uri(path.read_bytes())


def analysis_settings(cells: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """The metric options, resamples, seed and test the metrics files were made with (not the config's).

    Each setting lists every distinct value found, so cells made with different settings show.
    """
    found: dict[str, set[str]] = {}
    for cell in cells:
        values = {
            **{k: str(v) for k, v in cell.get("options", {}).items()},
            "resamples": str(cell.get("resamples", "not recorded")),
            "seed": str(cell.get("seed", "not recorded")),
            "test": "; ".join(
                f"{name}: {result.get('test', 'not recorded')}" for name, result in cell["metrics"].items()
            ),
        }
        for key, value in values.items():
            found.setdefault(key, set()).add(value)
    return {key: " / ".join(sorted(values)) for key, values in found.items()}


def checklist_intensity(checklist: Checklist) -> str | None:
    """Whether the checklist's intensity verdict survives the scale-free intensity, and how many pairs agree."""
    rows = {row.text: row for row in checklist.rows}
    raw, scale_free = rows.get(CLAIM_TEXTS["intensity"]), rows.get(CLAIM_TEXTS["scale_free_intensity"])
    if raw is None or scale_free is None:
        return None
    directions = {e.pair: e.direction for e in scale_free.evidence}
    shared = [e for e in raw.evidence if e.pair in directions]
    agree = sum(e.direction == directions[e.pair] for e in shared)
    return (
        f"The intensity verdict {intensity_survival(raw.verdict, scale_free.verdict)}; "
        f"{agree} of {len(shared)} pairs move both the same way."
    )


def study_intensity(verdicts: pd.DataFrame | None) -> list[str]:
    """Per contrast, whether the study's intensity verdict survives the scale-free intensity."""
    if verdicts is None:
        return []
    found = []
    for contrast, rows in verdicts.groupby("contrast", sort=False):
        by_metric = rows.set_index("metric")["verdict"]
        if {"intensity", "scale_free_intensity"} <= set(by_metric.index):
            found.append(
                f"{contrast}: the intensity verdict "
                f"{intensity_survival(by_metric['intensity'], by_metric['scale_free_intensity'])}."
            )
    return found


@dataclass
class StudySection:
    """The controlled study's part of the page: forest plots (PNG data URIs), tables and curves."""

    forest_plots: dict[str, str | None]
    arms: pd.DataFrame | None
    contrasts: pd.DataFrame | None
    verdicts: pd.DataFrame | None
    training_curves: str | None = None
    curve_models: list[str] = field(default_factory=list)


def _interval(row: Mapping[str, Any], scale: float, unit: str) -> str:
    if row["ci_low"] is None or np.isnan(row["ci_low"]):
        return "—"
    return f"[{scale * row['ci_low']:+.2f}, {scale * row['ci_high']:+.2f}]{unit}"


def study_rows(frame: pd.DataFrame | None, estimate: str) -> list[dict[str, Any]]:
    """A study table's rows for the page: relative changes in %, accuracy changes in points."""
    if frame is None:
        return []
    rows = []
    for row in frame.to_dict("records"):
        scale, unit = (1.0, " pts") if row["metric"] == "accuracy" else (100.0, "%")
        alpha = row.get("alpha")
        rows.append(
            {
                **row,
                "alpha": "—" if alpha is None or np.isnan(alpha) else f"{alpha:g}",
                "estimate": f"{scale * row[estimate]:+.2f}{unit}",
                "ci": _interval(row, scale, unit),
                "detectable": "—"
                if row.get("detectable") is None or np.isnan(row["detectable"])
                else f"{scale * row['detectable']:.2f}{unit}",
            }
        )
    return rows


@dataclass
class DynamicsSection:
    """Training dynamics on the page: figures (PNG data URIs by stem), per-setting summaries, contrasts."""

    figures: dict[str, str | None]
    settings: pd.DataFrame | None
    effects: pd.DataFrame | None
    datasets: list[str]
    alphas: list[str]


# Unit and decimals per quantity (the metrics: % of the base's value); fixed decimals, as the study's
# tables, so that a mean that is zero up to rounding reads as zero.
_DYNAMICS_UNITS = {"accuracy": (" pts", 2), "set_accuracy": (" pts", 2), "kl": (" nats", 4)}


def _dynamics_value(value: float, quantity: str, signed: bool = True) -> str:
    if value is None or np.isnan(value):
        return "—"
    unit, decimals = _DYNAMICS_UNITS.get(quantity, ("%", 2))
    return f"{value:+z.{decimals}f}{unit}" if signed else f"{value:z.{decimals}f}{unit}"


def _dynamics_interval(row: Mapping[str, Any], quantity: str) -> str:
    if np.isnan(row["ci_low"]):
        return "—"
    return f"[{_dynamics_value(row['ci_low'], quantity)}, {_dynamics_value(row['ci_high'], quantity)}]"


def dynamics_rows(section: DynamicsSection | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The page's rows: each setting at its first and last checkpoint, and each contrast at the last."""
    if section is None:
        return [], []
    settings = []
    if section.settings is not None:
        for (_, quantity), rows in section.settings.groupby(["setting", "quantity"], sort=False):
            steps = sorted(step for step in rows["step"] if step > 0)
            for row in rows[rows["step"].isin({steps[0], steps[-1]} if steps else set())].to_dict("records"):
                settings.append(
                    {
                        **row,
                        "estimate": _dynamics_value(row["mean"], quantity),
                        "ci": _dynamics_interval(row, quantity),
                    }
                )
    effects = []
    if section.effects is not None:
        for row in section.effects.to_dict("records"):
            quantity = row["quantity"]
            effects.append(
                {
                    **row,
                    "estimate": _dynamics_value(row["difference"], quantity),
                    "ci": _dynamics_interval(row, quantity),
                    "detectable": _dynamics_value(row["detectable"], quantity, signed=False),
                }
            )
    return settings, effects


@dataclass
class ReportInputs:
    """What the page shows; `render` turns it into HTML."""

    run_name: str
    table1: pd.DataFrame
    table4: pd.DataFrame | None
    grid: list[tuple[str, str, float]]
    online: dict[str, bool]
    ablations: dict[str, str]
    alphas: list[float]
    selections: list[dict[str, Any]]
    figures: dict[str, str | None]
    headline: tuple[int, int, float] | None
    entropy_increases: dict[str, tuple[str, str, float]]
    reference: dict[str, Any]
    settings: dict[str, str]
    provenance: dict[str, Any]
    examples: list[dict[str, str]] = field(default_factory=list)
    # The mini zoo's training curves (a PNG data URI) and the models drawn, when the models have them.
    training_curves: str | None = None
    curve_models: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    study: StudySection | None = None
    dynamics: DynamicsSection | None = None
    shared_selection: bool = False  # selection.shared: base (one question set per base and dataset)
    robustness: RobustnessSection | None = None  # only for a run with an audit section


def render(inputs: ReportInputs, templates: Path) -> str:
    """The report page as a string (autoescaped Jinja2, CSS inlined)."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    checklist = claims(inputs.table1, inputs.online, inputs.ablations)
    return environment.get_template("index.html.j2").render(
        run_name=inputs.run_name,
        css=(templates / "style.css").read_text(encoding="utf-8"),
        checklist=checklist,
        checklist_intensity=checklist_intensity(checklist),
        verdict_rule=VERDICT_RULE,
        verdict_meanings=VERDICT_MEANINGS,
        table1=table1_rows(inputs.table1, inputs.grid, inputs.reference.get("table1", {})),
        table4=table4_rows(inputs.table4, inputs.reference.get("table4", {})),
        metrics=METRICS,
        selections=selection_rows(inputs.selections, inputs.alphas),
        figures=inputs.figures,
        headline=inputs.headline,
        paper_headline=inputs.reference.get("figure3a"),
        entropy_increases=inputs.entropy_increases,
        paper_entropy=inputs.reference.get("figure3b", []),
        table1_source=inputs.reference.get("table1_source", ""),
        settings=inputs.settings,
        provenance=inputs.provenance,
        examples=inputs.examples,
        training_curves=inputs.training_curves,
        curve_models=inputs.curve_models,
        notes=inputs.notes,
        study=inputs.study,
        robustness=inputs.robustness,
        study_rule=STUDY_VERDICT_RULE,
        study_intensity=study_intensity(inputs.study.verdicts) if inputs.study else [],
        study_contrasts=study_rows(inputs.study.contrasts, "difference") if inputs.study else [],
        study_verdicts=study_rows(inputs.study.verdicts, "difference") if inputs.study else [],
        study_accuracy=(
            study_rows(inputs.study.arms[inputs.study.arms["metric"] == "accuracy"], "mean")
            if inputs.study and inputs.study.arms is not None
            else []
        ),
        missing=sum(row["missing"] for row in table1_rows(inputs.table1, inputs.grid, {})),
        shared_selection=inputs.shared_selection,
        dynamics=inputs.dynamics,
        dynamics_rule=DYNAMICS_RULE,
        dynamics_settings=dynamics_rows(inputs.dynamics)[0],
        dynamics_effects=dynamics_rows(inputs.dynamics)[1],
    )
