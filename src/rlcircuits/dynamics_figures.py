"""The training-dynamics figures (rlcircuits.dynamics's tables drawn), in rlcircuits.figures's style.

Each quantity against step (one thin line per run, the setting's seed range shaded, its seed mean
drawn thick) and each circuit metric against the KL divergence from the base (one line per run:
the runs' x values differ, so no band), one panel per dataset x α; the last checkpoint's contrasts
as a forest plot. The no-RL control is drawn dashed in grey on the same axes.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from rlcircuits.dynamics import ACCURACY, KL, QUANTITIES
from rlcircuits.vocabulary import METRICS

_COLOURS = ("#2166ac", "#d6604d", "#1b7837", "#762a83", "#e08214", "#35978f")
_CONTROL = "#555555"
UNITS = {
    ACCURACY: "greedy accuracy on the test split (%)",
    KL: "mean per-token KL(checkpoint ‖ base) (nats)",
    **{metric: f"{metric} (the checkpoint's value)" for metric in METRICS},
}


def _styles(points: pd.DataFrame) -> dict[str, dict]:
    """One colour per setting in table order; the control grey and dashed."""
    styles, colour = {}, iter(_COLOURS * 4)
    for setting, control in points[["setting", "control"]].drop_duplicates().itertuples(index=False):
        styles[setting] = (
            {"color": _CONTROL, "linestyle": "--"} if control else {"color": next(colour), "linestyle": "-"}
        )
    return styles


def _panels(points: pd.DataFrame, quantity: str) -> list[tuple[str, float, pd.DataFrame]]:
    rows = points[points["quantity"] == quantity]
    keys = rows[["dataset", "alpha"]].drop_duplicates().itertuples(index=False)
    return [
        (
            dataset,
            alpha,
            rows[(rows["dataset"] == dataset) & (rows["alpha"].isna() if np.isnan(alpha) else rows["alpha"] == alpha)],
        )
        for dataset, alpha in keys
    ]


def _title(dataset: str, alpha: float) -> str:
    return dataset if np.isnan(alpha) else f"{dataset}, α = {alpha:g}"


def against_step(points: pd.DataFrame, quantity: str) -> plt.Figure:
    """``quantity`` against the training step: runs thin, each setting's seed range shaded, its mean thick."""
    styles = _styles(points)
    panels = _panels(points, quantity)
    figure, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 3.8), squeeze=False)
    for axis, (dataset, alpha, rows) in zip(axes[0], panels, strict=True):
        for (setting, label), group in rows.groupby(["setting", "label"], sort=False):
            style = styles[setting]
            for _, run in group.groupby("run", sort=False):
                axis.plot(run["step"], run["value"], linewidth=0.7, alpha=0.6, **style)
            spread = group.groupby("step")["value"].agg(["min", "max", "mean"])
            axis.fill_between(spread.index, spread["min"], spread["max"], color=style["color"], alpha=0.15, linewidth=0)
            axis.plot(spread.index, spread["mean"], linewidth=2.0, label=label, **style)
        axis.set_title(_title(dataset, alpha), fontsize=9)
        axis.set_xlabel("training step (0: the base)")
        axis.set_ylabel(UNITS[quantity], fontsize=8)
        axis.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7, loc="best")
    figure.suptitle(
        f"Training dynamics — {quantity} against step (thin: one run; band: its setting's seed range)", fontsize=10
    )
    figure.tight_layout()
    return figure


def against_kl(points: pd.DataFrame, metric: str) -> plt.Figure:
    """A circuit metric against the checkpoint's KL divergence from the base on the same dataset, one line per run."""
    styles = _styles(points)
    kl = points[points["quantity"] == KL][["run", "step", "dataset", "value"]].rename(columns={"value": "kl"})
    panels = _panels(points, metric)
    figure, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 3.8), squeeze=False)
    for axis, (dataset, alpha, rows) in zip(axes[0], panels, strict=True):
        joined = rows.merge(kl, on=["run", "step", "dataset"], validate="one_to_one")
        for (setting, label), group in joined.groupby(["setting", "label"], sort=False):
            for index, (_, run) in enumerate(group.groupby("run", sort=False)):
                run = run.sort_values("step")
                axis.plot(
                    run["kl"],
                    run["value"],
                    marker="o",
                    markersize=2.5,
                    linewidth=0.9,
                    label=label if index == 0 else None,
                    **styles[setting],
                )
        axis.set_title(_title(dataset, alpha), fontsize=9)
        axis.set_xlabel(UNITS[KL], fontsize=8)
        axis.set_ylabel(UNITS[metric], fontsize=8)
        axis.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7, loc="best")
    figure.suptitle(f"Training dynamics — {metric} against distance from the base (one line per run)", fontsize=10)
    figure.tight_layout()
    return figure


def effects_forest(effects: pd.DataFrame, quantities: Sequence[str] = QUANTITIES, columns: int = 4) -> plt.Figure:
    """Each contrast's difference at the last checkpoint with its Welch interval, one panel per quantity."""
    rows_of_panels = -(-len(quantities) // columns)
    height = 1.2 + 0.45 * max(effects["contrast"].nunique(), 1)
    figure, axes = plt.subplots(
        rows_of_panels, columns, figsize=(3.2 * columns, height * rows_of_panels), squeeze=False
    )
    flat = list(axes.flat)
    for axis in flat[len(quantities) :]:
        axis.remove()
    for index, (axis, quantity) in enumerate(zip(flat, quantities, strict=False)):
        rows = effects[effects["quantity"] == quantity].reset_index(drop=True)
        y = np.arange(len(rows))
        errors = [rows["difference"] - rows["ci_low"], rows["ci_high"] - rows["difference"]]
        axis.errorbar(rows["difference"], y, xerr=errors, fmt="o", color="#2166ac", ecolor="#2166ac", capsize=3)
        axis.axvline(0.0, color="black", linewidth=0.8)
        axis.set_yticks(y, rows["contrast"] if index % columns == 0 else [""] * len(rows), fontsize=7)
        axis.invert_yaxis()
        axis.set_title(quantity, fontsize=9)
        unit = "points" if quantity in (ACCURACY, "set_accuracy") else "nats" if quantity == KL else "% change"
        axis.set_xlabel(unit, fontsize=8)
        axis.grid(alpha=0.3, axis="x")
    figure.suptitle("Last checkpoint: setting − versus, Welch 95% interval over seeds", fontsize=10)
    figure.tight_layout()
    return figure
