#!/usr/bin/env python
"""Draw Figures 2, 3(a) and 3(b) (SVG + PNG) from the cells' metrics JSON files.

Figure 2 shows one cell, chosen with --fig2 PAIR DATASET ALPHA (the paper's: mistral math 0.5).
Figure 3(a)'s headline leaves out the --ablation pairs (the paper had none); Figure 3(b) draws one
line per experiment, or the pair's mean with --fig3b-average.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rlcircuits.cli import run_stage
from rlcircuits.errors import RLCircuitsError
from rlcircuits.figures import diversity_bars, output_entropy_lines, relative_change_heatmap, save_figure
from rlcircuits.tables import read_cell


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--metrics", nargs="+", required=True, help="metrics JSON files from `analyze`")
    parser.add_argument("--fig2", nargs=3, required=True, metavar=("PAIR", "DATASET", "ALPHA"), help="cell of Figure 2")
    parser.add_argument(
        "--ablation", action="append", default=[], metavar="PAIR", help="a pair kept out of Fig. 3(a)'s headline"
    )
    parser.add_argument(
        "--fig3b-average", action="store_true", help="Fig. 3(b): one line per pair, the mean of its experiments"
    )
    parser.add_argument("--out-dir", required=True, help="folder for fig2/fig3a/fig3b .svg and .png")
    return parser.parse_args(argv)


def draw(args: argparse.Namespace) -> None:
    cells = [read_cell(path) for path in args.metrics]
    pair, dataset, alpha = args.fig2[0], args.fig2[1], float(args.fig2[2])
    chosen = [c for c in cells if (c["pair"], c["dataset"], float(c["alpha"])) == (pair, dataset, alpha)]
    if not chosen:
        raise RLCircuitsError(f"Figure 2 cell {pair}/{dataset}/alpha{alpha} is not among the metrics files")
    out = Path(args.out_dir)
    save_figure(relative_change_heatmap(chosen[0]), out / "fig2")
    save_figure(diversity_bars(cells, args.ablation), out / "fig3a")
    save_figure(output_entropy_lines(cells, args.fig3b_average), out / "fig3b")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_stage("figures", lambda: draw(args))


if __name__ == "__main__":
    sys.exit(main())
