import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image

from cli_failure import fails_cleanly
from rlcircuits.eap import build_graph
from rlcircuits.figures import diversity_summary
from script_loader import load_script



def _cell(pair: str, dataset: str, alpha: float, diversity_rl: float, seed: int) -> dict:
    graph = build_graph(3, "paper")
    rng = np.random.default_rng(seed)
    change = np.where(graph.edge_mask, rng.normal(0, 0.2, graph.edge_mask.shape), np.nan)
    metric = {"test": "bootstrap", "base": 0.5, "rl": diversity_rl, "p_value": 0.1, "n": 20}
    return {
        "pair": pair, "dataset": dataset, "alpha": alpha,
        "src_names": list(graph.src_names), "dst_names": list(graph.dst_names),
        "relative_edge_change": [[None if np.isnan(x) else x for x in row] for row in change],
        "metrics": {m: metric for m in ("intensity", "complexity", "kurtosis", "diversity")},
        "output_edge_entropy": {"base": rng.uniform(1, 2, 7).tolist(), "rl": rng.uniform(1, 2, 7).tolist()},
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
