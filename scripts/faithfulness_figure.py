#!/usr/bin/env python
"""Draw the faithfulness figure (SVG + PNG) from the faithfulness stage's records.

Left: the mean fraction of the clean-versus-all-ablated loss gap recovered against the fraction of
edges kept, one line per attribution variant; right: the per-sample Spearman correlations of each
variant's scores with exact single-edge ablations, where the records have them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rlcircuits.audit import read_faithfulness
from rlcircuits.cli import run_stage
from rlcircuits.errors import SettingsError
from rlcircuits.figures import save_figure
from rlcircuits.robustness import faithfulness_figure


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", nargs="+", required=True, help="faithfulness JSON files")
    parser.add_argument("--out", nargs=2, required=True, metavar=("SVG", "PNG"), help="the figure's two files")
    return parser.parse_args(argv)


def draw(args: argparse.Namespace) -> None:
    svg, png = (Path(path) for path in args.out)
    if svg.suffix != ".svg" or png.suffix != ".png" or svg.with_suffix("") != png.with_suffix(""):
        raise SettingsError(f"--out takes STEM.svg STEM.png, got {args.out[0]} {args.out[1]}")
    save_figure(faithfulness_figure([read_faithfulness(path) for path in args.records]), svg.with_suffix(""))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_stage("faithfulness_figure", lambda: draw(args))


if __name__ == "__main__":
    sys.exit(main())
