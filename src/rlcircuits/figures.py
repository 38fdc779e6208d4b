"""Figures 2, 3(a) and 3(b) of the paper, drawn from the per-cell metrics records.

Every figure is saved as SVG and PNG (150 dpi) with title, axis labels and units, sized for the
report's column width. matplotlib runs headless (Agg).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import TwoSlopeNorm  # noqa: E402

from rlcircuits.files import atomic_output  # noqa: E402

# Fixed metadata so that reruns write byte-identical files.
_SVG_METADATA = {"Date": None, "Creator": "rlcircuits"}
_PNG_METADATA = {"Software": "rlcircuits"}


def save_figure(figure: plt.Figure, stem: str | Path) -> tuple[Path, Path]:
    """Write ``stem.svg`` and ``stem.png`` atomically, then close the figure."""
    stem = Path(stem)
    paths = (stem.with_suffix(".svg"), stem.with_suffix(".png"))
    matplotlib.rcParams["svg.hashsalt"] = "rlcircuits"
    for path, kwargs in zip(paths, ({"metadata": _SVG_METADATA}, {"dpi": 150, "metadata": _PNG_METADATA}), strict=True):
        buffer = io.BytesIO()
        figure.savefig(buffer, format=path.suffix[1:], bbox_inches="tight", **kwargs)
        with atomic_output(path) as handle:
            handle.write(buffer.getvalue())
    plt.close(figure)
    return paths


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
        np.ma.masked_invalid(change), cmap=cmap, norm=TwoSlopeNorm(vmin=-bound, vcenter=0.0, vmax=bound),
        aspect="auto", interpolation="nearest",
    )
    step_x, step_y = _tick_step(len(dst)), _tick_step(len(src))
    axes.set_xticks(range(0, len(dst), step_x), dst[::step_x], rotation=90, fontsize=7)
    axes.set_yticks(range(0, len(src), step_y), src[::step_y], fontsize=7)
    axes.set_xlabel("destination node (reads the residual stream)")
    axes.set_ylabel("source node (writes the residual stream)")
    axes.set_title(
        f"Fig. 2 — relative edge change, RL vs base\n{cell['pair']}, {cell['dataset']}, α = {cell['alpha']} "
        "(grey: not an edge; colours clipped at the 99th percentile)",
        fontsize=9,
    )
    colorbar = figure.colorbar(image, ax=axes, shrink=0.8)
    colorbar.set_label("(mean|W_RL| − mean|W_base|) / mean|W_base|", fontsize=8)
    return figure


def diversity_summary(cells: Sequence[Mapping[str, Any]]) -> tuple[int, int, float]:
    """(improved, experiments, mean relative change in %) of inter-sample diversity."""
    changes = [_relative(c["metrics"]["diversity"]) for c in cells]
    return sum(change > 0 for change in changes), len(changes), 100.0 * float(np.mean(changes)) if changes else 0.0


def _relative(result: Mapping[str, float]) -> float:
    return (result["rl"] - result["base"]) / abs(result["base"])


def diversity_bars(cells: Sequence[Mapping[str, Any]]) -> plt.Figure:
    """Figure 3(a): relative change of inter-sample diversity in every experiment."""
    ordered = sorted(cells, key=lambda c: (c["pair"], c["dataset"], float(c["alpha"])))
    changes = np.array([100.0 * _relative(c["metrics"]["diversity"]) for c in ordered])
    labels = [f"{c['pair']} · {c['dataset']} · α={c['alpha']}" for c in ordered]
    improved, total, mean = diversity_summary(ordered)
    figure, axes = plt.subplots(figsize=(8.0, 1.5 + 0.22 * len(ordered)))
    colours = ["#2166ac" if change > 0 else "#b2182b" for change in changes]
    axes.barh(range(len(ordered)), changes, color=colours)
    axes.set_yticks(range(len(ordered)), labels, fontsize=7)
    axes.invert_yaxis()
    axes.axvline(0.0, color="black", linewidth=0.8)
    axes.set_xlabel("inter-sample diversity change, RL vs base (%)")
    axes.set_title(
        f"Fig. 3(a) — diversity improved in {improved} of {total} experiments, mean change {mean:+.1f}%", fontsize=10
    )
    return figure


def output_entropy_lines(cells: Sequence[Mapping[str, Any]]) -> plt.Figure:
    """Figure 3(b): per-source-node output-edge entropy change (RL - base), averaged per pair."""
    by_pair: dict[str, list[np.ndarray]] = {}
    names: dict[str, list[str]] = {}
    for cell in cells:
        entropy = cell["output_edge_entropy"]
        by_pair.setdefault(cell["pair"], []).append(np.array(entropy["rl"]) - np.array(entropy["base"]))
        names[cell["pair"]] = cell["src_names"]
    figure, axes = plt.subplots(len(by_pair), 1, figsize=(8.0, 2.2 * max(1, len(by_pair))), squeeze=False)
    for row, pair in enumerate(sorted(by_pair)):
        axes_row = axes[row, 0]
        change = np.mean(by_pair[pair], axis=0)
        src = names[pair]
        axes_row.plot(range(len(src)), change, marker="o", markersize=3, linewidth=1)
        axes_row.axhline(0.0, color="black", linewidth=0.6)
        axes_row.margins(x=0.03, y=0.3)
        top = int(np.argmax(change))
        axes_row.annotate(f"largest increase: {src[top]} ({change[top]:+.3f})", (top, change[top]),
                          textcoords="offset points", xytext=(5, 5), fontsize=7)
        step = _tick_step(len(src), 30)
        axes_row.set_xticks(range(0, len(src), step), src[::step], rotation=90, fontsize=6)
        axes_row.set_ylabel("Δ entropy (nats)", fontsize=8)
        axes_row.set_title(f"{pair} (mean over {len(by_pair[pair])} experiments)", fontsize=9)
    axes[-1, 0].set_xlabel("source node")
    figure.suptitle("Fig. 3(b) — output-edge entropy per source node, RL − base", fontsize=10)
    figure.tight_layout()
    return figure
