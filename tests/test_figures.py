import io
import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image

from cli_failure import fails_cleanly
from rlcircuits.contracts import TrainingCurve
from rlcircuits.eap import build_graph
from rlcircuits.figures import (
    diversity_bars,
    diversity_summary,
    entropy_changes,
    headline_cells,
    largest_entropy_increases,
    output_entropy_lines,
    relative_change_heatmap,
    save_figure,
    training_curves,
)
from rlcircuits.vocabulary import METRICS
from script_loader import load_script


def _cell(pair: str, dataset: str, alpha: float, diversity_rl: float, seed: int) -> dict:
    graph = build_graph(3, "paper")
    rng = np.random.default_rng(seed)
    change = np.where(graph.edge_mask, rng.normal(0, 0.2, graph.edge_mask.shape), np.nan)
    metric = {
        "test": "paired role-swap permutation",
        "base": 0.5,
        "rl": diversity_rl,
        "difference": diversity_rl - 0.5,
        "ci_low": diversity_rl - 0.6,
        "ci_high": diversity_rl - 0.4,
        "p_value": 0.1,
        "n": 20,
        "paper": {"base": 0.25, "rl": diversity_rl / 2},
    }
    # The last MLP feeds only the logits: no output-edge entropy (None in the JSON).
    entropy = {role: [*rng.uniform(1, 2, 6).tolist(), None] for role in ("base", "rl")}
    return {
        "pair": pair,
        "dataset": dataset,
        "alpha": alpha,
        "src_names": list(graph.src_names),
        "dst_names": list(graph.dst_names),
        "relative_edge_change": [[None if np.isnan(x) else x for x in row] for row in change],
        "undefined_edge_changes": 0,
        "metrics": {m: dict(metric) for m in METRICS},
        "output_edge_entropy": entropy,
        "options": {"bins": 100, "kurtosis_of": "signed"},
        "resamples": 999,
        "seed": 0,
    }


CELLS = [
    _cell("mistral", "math", 0.5, 0.6, 0),
    _cell("mistral", "gsm8k", 0.5, 0.55, 1),
    _cell("qwen25", "math", 0.5, 0.45, 2),
]


def test_diversity_headline_numbers():
    improved, total, mean = diversity_summary(CELLS)
    assert (improved, total) == (2, 3)
    assert mean == pytest.approx(100 * np.mean([0.2, 0.1, -0.1]))


def test_cli_draws_every_figure_reproducibly(tmp_path, capsys):
    paths = []
    for index, cell in enumerate(CELLS):
        paths.append(tmp_path / f"cell{index}.json")
        paths[-1].write_text(json.dumps(cell))
    cli = load_script("figures")
    out = tmp_path / "figures"
    args = ["--metrics", *map(str, paths), "--fig2", "mistral", "math", "0.5", "--out-dir", str(out)]
    assert cli.main(args) == 0
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    assert sorted(first) == ["fig2.png", "fig2.svg", "fig3a.png", "fig3a.svg", "fig3b.png", "fig3b.svg"]
    for name in ("fig2", "fig3a", "fig3b"):
        width, height = Image.open(out / f"{name}.png").size
        assert width >= 600 and height >= 200
        ET.fromstring(first[f"{name}.svg"])  # well-formed SVG
    assert "improved in 2 of 3 experiments" in first["fig3a.svg"].decode()
    assert "attn2.q" in first["fig2.svg"].decode()  # node names on the axes
    assert cli.main(args) == 0
    assert {p.name: p.read_bytes() for p in out.iterdir()} == first  # byte-identical rerun
    argv = [*args[:4], "--fig2", "llama", "math", "0.5", "--out-dir", str(tmp_path / "x")]
    fails_cleanly(capsys, cli.main, argv, "figures", "Figure 2 cell llama/math/alpha0.5 is not among", [tmp_path / "x"])


def test_the_headline_counts_the_configured_grid_without_ablations():
    stray = _cell("mistral", "math", 0.9, 0.7, 5)  # a metrics file of no configured cell
    ablation = _cell("online_dpo", "math", 0.5, 0.7, 6)
    grid = [(p, d, a) for p in ("mistral", "qwen25", "online_dpo") for d in ("math", "gsm8k") for a in (0.5,)]
    counted = headline_cells([*CELLS, stray, ablation], grid, ["online_dpo"])
    assert diversity_summary(counted)[:2] == (2, 3)
    svg = _svg(diversity_bars([*CELLS, ablation], ["online_dpo"]))
    assert "improved in 2 of 3 experiments" in svg and "ablation, not counted" in svg


def _svg(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg")
    return buffer.getvalue().decode()


def test_fig3b_shows_relative_changes_and_never_a_single_out_edge_node():
    cell = _cell("qwen2_online_dpo", "math", 0.5, 0.6, 7)
    cell["output_edge_entropy"] = {
        "base": [2.0, 1.0, 1.0, 1.0, 1.0, 0.5, None],
        "rl": [1.0, 0.9, 0.8, 0.7, 0.6, 0.05, None],
    }
    change = entropy_changes(cell)
    np.testing.assert_allclose(change[:6], [-50, -10, -20, -30, -40, -90])
    assert np.isnan(change[6])
    assert largest_entropy_increases([cell]) == {"qwen2_online_dpo": ("math α=0.5", "attn0", pytest.approx(-10.0))}
    svg = _svg(output_entropy_lines([cell]))
    assert "largest change attn0 (math α=0.5) -10.0%" in svg.replace("−", "-") and "mlp2" not in svg
    other = _cell("qwen2_online_dpo", "gsm8k", 0.1, 0.6, 8)
    other["output_edge_entropy"] = {"base": [1.0] * 6 + [None], "rl": [1.0, 1.0, 13.46, 1.0, 1.0, 1.0, None]}
    assert largest_entropy_increases([cell, other])["qwen2_online_dpo"] == (
        "gsm8k α=0.1",
        "mlp0",
        pytest.approx(1246.0),
    )
    assert "mean over experiments" in _svg(output_entropy_lines([cell, other], average=True))


def test_fig2_names_edges_whose_change_is_undefined(tmp_path):
    cell = {**CELLS[0], "undefined_edge_changes": 2}
    svg, _ = save_figure(relative_change_heatmap(cell), tmp_path / "fig2")
    assert "2 real edge(s) with base mean 0" in svg.read_text()


def test_training_curves_draw_one_panel_per_metric_and_one_line_per_model():
    curves = {
        "sft/llama": TrainingCurve("loss", "cross-entropy", (1, 2, 3), (2.0, 1.0, 0.5)),
        "rl/llama_grpo": TrainingCurve("reward", "mean reward", (1, 2), (0.25, 0.5)),
        "rl/qwen2_grpo": TrainingCurve("reward", "mean reward", (1, 2), (0.5, 0.75)),
    }
    figure = training_curves(curves)
    panels = figure.axes
    assert [panel.get_ylabel() for panel in panels] == ["reward", "loss"]  # first seen in name order
    assert [line.get_label() for line in panels[0].get_lines()] == ["rl/llama_grpo", "rl/qwen2_grpo"]
    np.testing.assert_array_equal(panels[1].get_lines()[0].get_ydata(), [2.0, 1.0, 0.5])
    assert "mean reward" in panels[0].get_title()
