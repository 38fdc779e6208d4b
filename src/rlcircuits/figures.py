"""Figures 2, 3(a) and 3(b) of the paper, drawn from the per-cell metrics records, and the mini zoo's training curves.

Every figure is saved as SVG and PNG (150 dpi) with title, axis labels and units, sized for the
report's column width. matplotlib runs headless (Agg).
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import TwoSlopeNorm

from rlcircuits.contracts import TrainingCurve
from rlcircuits.files import atomic_output

# Fixed metadata so that reruns write byte-identical files.
_SVG_METADATA = {"Date": None, "Creator": "rlcircuits"}
_PNG_METADATA = {"Software": "rlcircuits"}


def _encoded(figure: plt.Figure, image_format: str) -> bytes:
    """The figure as SVG or PNG (150 dpi) bytes, with fixed metadata."""
    matplotlib.rcParams["svg.hashsalt"] = "rlcircuits"
    kwargs = {"metadata": _SVG_METADATA} if image_format == "svg" else {"dpi": 150, "metadata": _PNG_METADATA}
    buffer = io.BytesIO()
    figure.savefig(buffer, format=image_format, bbox_inches="tight", **kwargs)
    return buffer.getvalue()


def save_figure(figure: plt.Figure, stem: str | Path) -> tuple[Path, Path]:
    """Write ``stem.svg`` and ``stem.png`` atomically, then close the figure."""
    stem = Path(stem)
    paths = (stem.with_suffix(".svg"), stem.with_suffix(".png"))
    for path in paths:
        data = _encoded(figure, path.suffix[1:])
        with atomic_output(path) as handle:
            handle.write(data)
    plt.close(figure)
    return paths


def png_bytes(figure: plt.Figure) -> bytes:
    """The figure as PNG bytes (for a page that inlines it), then closed."""
    data = _encoded(figure, "png")
    plt.close(figure)
    return data


def _tick_step(count: int, most: int = 40) -> int:
    return max(1, -(-count // most))


def relative_change_heatmap(cell: Mapping[str, Any]) -> plt.Figure:
    """Figure 2: (mean|W_rl| - mean|W_base|) / mean|W_base| per edge; non-edges masked."""
    change = np.array([[np.nan if x is None else x for x in row] for row in cell["relative_edge_change"]], dtype=float)
    src, dst = cell["src_names"], cell["dst_names"]
    finite = change[np.isfinite(change)]
    bound = float(np.percentile(np.abs(finite), 99)) if finite.size else 1.0
    bound = bound or 1.0
    width = min(16.0, max(7.0, 3.0 + 0.12 * len(dst)))
    height = min(12.0, max(4.5, 2.5 + 0.12 * len(src)))
    figure, axes = plt.subplots(figsize=(width, height))
    cmap = plt.get_cmap("RdBu_r").with_extremes(bad="#d9d9d9")
    image = axes.imshow(
        np.ma.masked_invalid(change),
        cmap=cmap,
        norm=TwoSlopeNorm(vmin=-bound, vcenter=0.0, vmax=bound),
        aspect="auto",
        interpolation="nearest",
    )
    step_x, step_y = _tick_step(len(dst)), _tick_step(len(src))
    axes.set_xticks(range(0, len(dst), step_x), dst[::step_x], rotation=90, fontsize=7)
    axes.set_yticks(range(0, len(src), step_y), src[::step_y], fontsize=7)
    axes.set_xlabel("destination node (reads the residual stream)")
    axes.set_ylabel("source node (writes the residual stream)")
    undefined = int(cell.get("undefined_edge_changes", 0))
    note = f"; {undefined} real edge(s) with base mean 0, change undefined, also grey" if undefined else ""
    axes.set_title(
        f"Fig. 2 — relative edge change, RL vs base\n{cell['pair']}, {cell['dataset']}, α = {cell['alpha']} "
        f"(grey: not an edge{note}; colours clipped at the 99th percentile)",
        fontsize=9,
    )
    colorbar = figure.colorbar(image, ax=axes, shrink=0.8)
    colorbar.set_label("(mean|W_RL| − mean|W_base|) / mean|W_base|", fontsize=8)
    return figure


def headline_cells(
    cells: Sequence[Mapping[str, Any]], grid: Sequence[tuple[str, str, float]], excluded: Sequence[str] = ()
) -> list[Mapping[str, Any]]:
    """The cells the Fig. 3(a) headline counts: the configured grid's, without ablation pairs.

    The paper's headline (41 experiments) counts its own grid; a pair the paper did not have
    (the ablation) or a stray metrics file must not change the count.
    """
    wanted = {(pair, dataset, float(alpha)) for pair, dataset, alpha in grid if pair not in set(excluded)}
    return [c for c in cells if (c["pair"], c["dataset"], float(c["alpha"])) in wanted]


def diversity_summary(cells: Sequence[Mapping[str, Any]]) -> tuple[int, int, float]:
    """(improved, experiments, mean relative change in %) of inter-sample diversity."""
    changes = [_relative(c["metrics"]["diversity"]) for c in cells]
    return sum(change > 0 for change in changes), len(changes), 100.0 * float(np.mean(changes)) if changes else 0.0


def _relative(result: Mapping[str, float]) -> float:
    return (result["rl"] - result["base"]) / abs(result["base"])


def diversity_bars(cells: Sequence[Mapping[str, Any]], excluded: Sequence[str] = ()) -> plt.Figure:
    """Figure 3(a): relative change of inter-sample diversity in every experiment.

    The headline counts every cell given except those of the ``excluded`` (ablation) pairs,
    whose bars are drawn grey and labelled as not counted.
    """
    ordered = sorted(cells, key=lambda c: (c["pair"], c["dataset"], float(c["alpha"])))
    changes = np.array([100.0 * _relative(c["metrics"]["diversity"]) for c in ordered])
    labels = [
        f"{c['pair']} · {c['dataset']} · α={c['alpha']}" + (" (ablation, not counted)" if c["pair"] in excluded else "")
        for c in ordered
    ]
    improved, total, mean = diversity_summary([c for c in ordered if c["pair"] not in excluded])
    figure, axes = plt.subplots(figsize=(8.0, 1.5 + 0.22 * len(ordered)))
    colours = [
        "#999999" if c["pair"] in excluded else "#2166ac" if change > 0 else "#b2182b"
        for c, change in zip(ordered, changes, strict=True)
    ]
    axes.barh(range(len(ordered)), changes, color=colours)
    axes.set_yticks(range(len(ordered)), labels, fontsize=7)
    axes.invert_yaxis()
    axes.axvline(0.0, color="black", linewidth=0.8)
    axes.set_xlabel("inter-sample diversity change, RL vs base (%)")
    axes.set_title(
        f"Fig. 3(a) — diversity improved in {improved} of {total} experiments, mean change {mean:+.1f}%", fontsize=10
    )
    return figure


def entropy_changes(cell: Mapping[str, Any]) -> np.ndarray:
    """[n_src] relative change (%) of output-edge entropy, RL vs base, for one experiment.

    NaN where undefined: a source with a single out-edge (entropy 0 by construction) or a base
    entropy of 0.
    """
    base = np.array([np.nan if x is None else x for x in cell["output_edge_entropy"]["base"]], dtype=float)
    rl = np.array([np.nan if x is None else x for x in cell["output_edge_entropy"]["rl"]], dtype=float)
    return np.divide(100.0 * (rl - base), base, out=np.full(base.shape, np.nan), where=np.isfinite(base) & (base > 0))


def _largest(names: Sequence[str], change: np.ndarray) -> tuple[str, float] | None:
    if not np.isfinite(change).any():
        return None
    top = int(np.nanargmax(change))
    return names[top], float(change[top])


def largest_entropy_increases(cells: Sequence[Mapping[str, Any]]) -> dict[str, tuple[str, str, float]]:
    """Per pair: (experiment, source node, change in %) of the largest output-edge entropy increase."""
    best: dict[str, tuple[str, str, float]] = {}
    for cell in cells:
        found = _largest(cell["src_names"], entropy_changes(cell))
        if found and (cell["pair"] not in best or found[1] > best[cell["pair"]][2]):
            best[cell["pair"]] = (f"{cell['dataset']} α={cell['alpha']}", *found)
    return best


def output_entropy_lines(cells: Sequence[Mapping[str, Any]], average: bool = False) -> plt.Figure:
    """Figure 3(b): per-source-node output-edge entropy change (%), RL vs base, one line per experiment.

    ``average``: one line per pair, the mean over its experiments instead. Each panel names its
    largest increase (the paper quotes e.g. +1246% for one DeepSeek-Math case).
    """
    by_pair: dict[str, list[Mapping[str, Any]]] = {}
    for cell in sorted(cells, key=lambda c: (c["pair"], c["dataset"], float(c["alpha"]))):
        by_pair.setdefault(cell["pair"], []).append(cell)
    figure, axes = plt.subplots(len(by_pair), 1, figsize=(8.0, 2.6 * max(1, len(by_pair))), squeeze=False)
    for row, pair in enumerate(sorted(by_pair)):
        axes_row = axes[row, 0]
        changes = np.array([entropy_changes(c) for c in by_pair[pair]])
        shown = np.flatnonzero(np.isfinite(changes).any(axis=0))
        names = [by_pair[pair][0]["src_names"][i] for i in shown]
        labels = [f"{c['dataset']} α={c['alpha']}" for c in by_pair[pair]]
        if average:
            changes, labels = np.nanmean(changes[:, shown], axis=0, keepdims=True), ["mean over experiments"]
        else:
            changes = changes[:, shown]
        for label, change in zip(labels, changes, strict=True):
            axes_row.plot(range(len(names)), change, marker="o", markersize=3, linewidth=1, label=label)
        axes_row.axhline(0.0, color="black", linewidth=0.6)
        axes_row.margins(x=0.03, y=0.3)
        tops = [
            (label, found) for label, change in zip(labels, changes, strict=True) if (found := _largest(names, change))
        ]
        if tops:
            label, (node, top) = max(tops, key=lambda item: item[1][1])
            axes_row.set_title(f"{pair}: largest change {node} ({label}) {top:+.1f}%", fontsize=9)
        step = _tick_step(len(names), 30)
        axes_row.set_xticks(range(0, len(names), step), names[::step], rotation=90, fontsize=6)
        axes_row.set_ylabel("Δ entropy (%)", fontsize=8)
        axes_row.legend(fontsize=6, ncol=3, loc="best")
    axes[-1, 0].set_xlabel("source node (nodes with a single out-edge left out)")
    figure.suptitle("Fig. 3(b) — output-edge entropy per source node, relative change RL vs base", fontsize=10)
    figure.tight_layout()
    return figure


def training_curves(curves: Mapping[str, TrainingCurve]) -> plt.Figure:
    """The mini zoo's training curves: one panel per logged metric, one line per model, in name order."""
    by_metric: dict[str, list[tuple[str, TrainingCurve]]] = {}
    for name in sorted(curves):
        by_metric.setdefault(curves[name].metric, []).append((name, curves[name]))
    figure, axes = plt.subplots(1, len(by_metric), figsize=(4.3 * len(by_metric), 3.6), squeeze=False)
    for panel, (metric, named) in zip(axes[0], by_metric.items(), strict=True):
        for name, curve in named:
            panel.plot(curve.steps, curve.values, linewidth=1.0, label=name)
        panel.set_xlabel("optimiser step")
        panel.set_ylabel(metric)
        panel.set_title(textwrap.fill(named[0][1].meaning, 42), fontsize=8)
        panel.legend(fontsize=7)
    figure.tight_layout()
    return figure


def forest_plot(seeds: Any, arms: Any, metric: str, labels: Mapping[str, str]) -> plt.Figure:
    """The controlled study's forest plot of one metric: a row per dataset x alpha, within it a line per arm.

    ``seeds`` and ``arms`` are rlcircuits.study's seed values and arm table; each seed is a dot,
    each arm's mean a square with its interval (over seeds; accuracy's about the task). Relative changes are drawn in %,
    accuracy changes in points.
    """
    accuracy = metric == "accuracy"
    scale = 1.0 if accuracy else 100.0
    summary = arms[arms["metric"] == metric]
    cells = list(dict.fromkeys(zip(summary["dataset"], summary["alpha"], strict=True)))
    names = list(labels)
    height = 0.8 / max(len(names), 1)
    figure, axis = plt.subplots(figsize=(6.4, 0.9 + 0.32 * len(cells) * len(names)))
    colours = plt.get_cmap("tab10")
    for row, (dataset, alpha) in enumerate(cells):
        for index, name in enumerate(names):
            y = -(row + index * height)
            same = (summary["arm"] == name) & (summary["dataset"] == dataset)
            cell = summary[same & (summary["alpha"].isna() if accuracy else summary["alpha"] == alpha)]
            if cell.empty:
                continue
            mine = seeds[(seeds["arm"] == name) & (seeds["metric"] == metric) & (seeds["dataset"] == dataset)]
            if not accuracy:
                mine = mine[mine["alpha"] == alpha]
            colour = colours(index % 10)
            axis.scatter(scale * mine["value"], np.full(len(mine), y), s=12, color=colour, alpha=0.6, linewidths=0)
            mean, low, high = (scale * float(cell.iloc[0][key]) for key in ("mean", "ci_low", "ci_high"))
            axis.plot([low, high], [y, y], color=colour, linewidth=1.4)
            axis.scatter([mean], [y], marker="s", s=22, color=colour, label=labels[name] if row == 0 else None)
    axis.axvline(0, color="0.4", linewidth=0.8)
    axis.set_yticks(
        [-(row + (len(names) - 1) * height / 2) for row in range(len(cells))],
        [dataset if accuracy else f"{dataset}, α={alpha:g}" for dataset, alpha in cells],
        fontsize=8,
    )
    axis.set_xlabel("accuracy change, tuned − base (points)" if accuracy else f"relative change of {metric} (%)")
    about = "about the task (questions and seeds)" if accuracy else "over seeds"
    axis.set_title(f"Controlled study — {metric}: seeds (dots), arm mean and 95% CI {about}", fontsize=9)
    axis.legend(fontsize=7, loc="best")
    figure.tight_layout()
    return figure
