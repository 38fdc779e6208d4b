"""Training dynamics (docs/DESIGN.md §4, "Training dynamics"): each run's checkpoints, measured on
the base's question set, as tables of points, per-setting summaries and last-checkpoint contrasts.

A *point* is one model (the base at step 0, or a run's checkpoint) on one dataset: its greedy
accuracy on the whole test split, its accuracy on the shared question set, and its mean
per-token KL divergence from the base on its own answers to that set (rlcircuits.divergence).
The circuit metrics of a checkpoint are analyze.py's records of the base against it (the base's
values are every record's ``base``, the checkpoint's its ``rl``). Settings are summarised over
their seeds with the controlled study's statistics (rlcircuits.study): a Student-t interval per
setting, and per contrast a Welch interval with its minimum detectable effect at 80% power.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rlcircuits.errors import InputFormatError
from rlcircuits.files import atomic_output, read_json
from rlcircuits.run_plan import DYNAMICS_BASE, RunPlan
from rlcircuits.study import CONFIDENCE, detectable_difference, mean_interval, welch_interval
from rlcircuits.tables import read_cell
from rlcircuits.vocabulary import METRICS

ACCURACY = "accuracy"  # greedy accuracy on the dataset's whole test split, in %
SET_ACCURACY = "set_accuracy"  # on the shared question set, in %
KL = "kl"  # mean per-token KL(checkpoint || base), nats
QUANTITIES = (ACCURACY, SET_ACCURACY, KL, *METRICS)
POINT_COLUMNS = ("setting", "label", "control", "run", "step", "dataset", "alpha", "quantity", "value")
SETTING_COLUMNS = ("setting", "label", "quantity", "step", "n_seeds", "mean", "ci_low", "ci_high")
EFFECT_COLUMNS = (
    "contrast",
    "setting",
    "versus",
    "quantity",
    "step",
    "n_setting",
    "n_versus",
    "difference",
    "ci_low",
    "ci_high",
    "detectable",
    "excludes_zero",
)
SUMMARY_RULE = (
    "Per run, a quantity at a checkpoint is its mean over the measured datasets and α: the circuit "
    "metrics as the relative change from the base (%), accuracy as the change in points, KL in nats. "
    "A setting's interval is Student-t over its seeds; a contrast's is Welch over the two settings' "
    f"seeds ({CONFIDENCE:.0%}), beside the difference the two-sided Welch test would detect with 80% "
    "power at the measured spread (the controlled study's rule)."
)


@dataclass(frozen=True)
class DynamicsPoint:
    """``dynamics/<run>/step-<NNNNNN>/point/<dataset>.json``: one model's accuracy and distance from the base."""

    run: str
    step: int
    dataset: str
    model: str
    questions: int  # test questions answered
    correct: int
    set_size: int  # questions of the shared set
    set_correct: int
    kl: float  # mean per-token KL(model || base) on its own answers to the set, nats
    kl_tokens: int

    @property
    def accuracy(self) -> float:
        return 100.0 * self.correct / self.questions

    @property
    def set_accuracy(self) -> float:
        return 100.0 * self.set_correct / self.set_size


def write_point(path: str | Path, point: DynamicsPoint) -> None:
    with atomic_output(path, "w") as handle:
        json.dump(asdict(point), handle, indent=1, sort_keys=True)
        handle.write("\n")


def read_point(path: str | Path) -> DynamicsPoint:
    """A point file, checked: every field present with its type, counts consistent, KL finite and >= 0."""
    data = read_json(path, "dynamics point")
    kinds = {"run": str, "dataset": str, "model": str, "kl": float}
    values = {}
    for field in fields(DynamicsPoint):
        if not isinstance(data, dict) or field.name not in data:
            raise InputFormatError(f"{path}: missing key {field.name}")
        value, kind = data[field.name], kinds.get(field.name, int)
        ok = (
            isinstance(value, int | float) and not isinstance(value, bool) if kind is float else isinstance(value, kind)
        )
        if not ok or (kind is int and isinstance(value, bool)):
            raise InputFormatError(f"{path}: {field.name} must be a {kind.__name__}, got {value!r}")
        values[field.name] = float(value) if kind is float else value
    point = DynamicsPoint(**values)
    if not (0 <= point.correct <= point.questions and 0 <= point.set_correct <= point.set_size) or not point.set_size:
        raise InputFormatError(f"{path}: inconsistent counts {values}")
    if not math.isfinite(point.kl) or point.kl < -1e-9 or point.kl_tokens < 1:
        raise InputFormatError(f"{path}: kl must be a finite number >= 0 over at least one token, got {point.kl}")
    return point


def points_table(
    plan: RunPlan, points: Mapping[str, DynamicsPoint], cells: Mapping[str, Mapping[str, Any]]
) -> pd.DataFrame:
    """One row per run x step x dataset (x alpha for the metrics) x quantity; every run starts at the base (step 0).

    ``points`` and ``cells`` are keyed by the plan's point and metrics paths.
    """
    rows = []
    for setting in plan.dynamics_settings.values():
        for run_name in setting.runs:
            run = plan.dynamics_runs[run_name]
            head = (setting.name, setting.label, setting.control, run.name)
            for step in (0, *run.steps):
                source = DYNAMICS_BASE if step == 0 else run.name
                for dataset in plan.dynamics_datasets:
                    point = points[plan.dynamics_point(source, step, dataset)]
                    if point.step != step or point.dataset != dataset:
                        raise InputFormatError(
                            f"{plan.dynamics_point(source, step, dataset)}: records {point.step}, {point.dataset}"
                        )
                    for quantity, value in (
                        (ACCURACY, point.accuracy),
                        (SET_ACCURACY, point.set_accuracy),
                        (KL, point.kl),
                    ):
                        rows.append((*head, step, dataset, np.nan, quantity, value))
                    for alpha in plan.dynamics_alphas:
                        # The base's values are every checkpoint record's base: read them from the run's first.
                        cell = cells[plan.dynamics_metrics(run.name, step or run.steps[0], dataset, alpha)]
                        for metric in METRICS:
                            value = cell["metrics"][metric]["base" if step == 0 else "rl"]
                            rows.append((*head, step, dataset, float(alpha), metric, float(value)))
    return pd.DataFrame(rows, columns=list(POINT_COLUMNS))


def run_summaries(points: pd.DataFrame) -> pd.DataFrame:
    """Per run x step x quantity: the mean over datasets and alphas of the change from the base (see SUMMARY_RULE)."""
    keys = ["setting", "run", "dataset", "alpha", "quantity"]
    base = points[points["step"] == 0].set_index(keys)["value"]
    frame = points.set_index(keys)
    start = base.reindex(frame.index).to_numpy()
    value = frame["value"].to_numpy()
    metric = frame.index.get_level_values("quantity").isin(METRICS)
    with np.errstate(divide="ignore", invalid="ignore"):
        change = np.where(metric, 100.0 * (value - start) / np.abs(start), value - start)
    kl = frame.index.get_level_values("quantity") == KL
    frame = frame.assign(change=np.where(kl, value, change)).reset_index()
    return frame.groupby(["setting", "label", "run", "step", "quantity"], sort=False, as_index=False)["change"].mean()


def setting_table(plan: RunPlan, summaries: pd.DataFrame) -> pd.DataFrame:
    """Each setting's mean over seeds with its interval, per quantity, at every checkpoint step."""
    rows = []
    for setting in plan.dynamics_settings.values():
        mine = summaries[summaries["setting"] == setting.name]
        for (quantity, step), group in mine.groupby(["quantity", "step"], sort=False):
            values = group["change"].to_numpy()
            interval = mean_interval(values[~np.isnan(values)])
            rows.append(
                (setting.name, setting.label, quantity, int(step), int((~np.isnan(values)).sum()), *_triple(interval))
            )
    return pd.DataFrame(rows, columns=list(SETTING_COLUMNS))


def effect_table(plan: RunPlan, summaries: pd.DataFrame) -> pd.DataFrame:
    """Each contrast at the last checkpoint (the settings' last common step), per quantity: Welch over seeds."""
    rows = []
    for contrast in plan.dynamics_contrasts:
        step = min(
            plan.dynamics_runs[r].steps[-1]
            for s in (contrast.setting, contrast.versus)
            for r in plan.dynamics_settings[s].runs
        )
        last = summaries[summaries["step"] == step]
        for quantity in QUANTITIES:
            a, b = (
                _finite(last[(last["setting"] == name) & (last["quantity"] == quantity)]["change"])
                for name in (contrast.setting, contrast.versus)
            )
            interval = welch_interval(a, b, CONFIDENCE)
            detectable = detectable_difference(a, b, CONFIDENCE)
            excludes = bool(interval.low > 0 or interval.high < 0) and interval.low != interval.high
            rows.append(
                (
                    contrast.name,
                    contrast.setting,
                    contrast.versus,
                    quantity,
                    step,
                    len(a),
                    len(b),
                    *_triple(interval),
                    detectable,
                    excludes,
                )
            )
    return pd.DataFrame(rows, columns=list(EFFECT_COLUMNS))


def _finite(values: pd.Series) -> np.ndarray:
    array = values.to_numpy(dtype=float)
    return array[~np.isnan(array)]


def _triple(interval: Any) -> tuple[float, float, float]:
    return float(interval.estimate), float(interval.low), float(interval.high)


def read_inputs(plan: RunPlan) -> tuple[dict[str, DynamicsPoint], dict[str, dict[str, Any]]]:
    """Every point and metrics record the plan names, read and checked."""
    points = {path: read_point(path) for path in plan.dynamics_point_files()}
    cells = {path: read_cell(path) for path in plan.dynamics_metrics_files()}
    return points, cells
