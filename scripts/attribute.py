#!/usr/bin/env python
"""Attribute one model of a pair on its selected samples: per-sample EAP matrices as .npz, one per alpha.

Reads the selection file written by `select`, loads the model once, and for each alpha scores
each sample on the model's own answer truncated to T_cut = max(int(alpha * t_bar), 1) tokens,
writing DESIGN §3's attribution/{pair}/{dataset}/alpha{alpha}/{role}.npz (--alpha and --out pair
up in order). Each file is written atomically as soon as its alpha is done; nothing is written
for an alpha that fails.
"""

from __future__ import annotations

import argparse
import logging
import sys

from rlcircuits.cli import run_stage
from rlcircuits.contracts import ROLES, read_selection, save_attribution
from rlcircuits.eap import attribute, truncated_loss_input
from rlcircuits.models import load_model
from rlcircuits.options import DTYPE_NAMES, LAYOUTS
from rlcircuits.truncation import cut_length


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="Hugging Face Hub id or local model folder")
    parser.add_argument("--revision", default=None, help="Hub revision (commit, tag or branch)")
    parser.add_argument("--selection", required=True, help="selection JSON from the select stage")
    parser.add_argument("--role", required=True, choices=ROLES, help="which model of the pair this is")
    parser.add_argument("--alpha", required=True, type=float, nargs="+", help="answer fraction(s) scored by the loss")
    parser.add_argument("--out", required=True, nargs="+", help="output .npz path, one per --alpha, in the same order")
    parser.add_argument("--layout", default="paper", choices=LAYOUTS, help="graph layout (default: paper)")
    parser.add_argument("--dtype", default="bfloat16", choices=DTYPE_NAMES, help="model dtype (default: bfloat16)")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda (default: cpu)")
    parser.add_argument(
        "--batch-tokens", type=int, default=4096, help="token budget (rows x padded length) per forward"
    )
    parser.add_argument(
        "--trust-remote-code", action="store_true", help="allow model code from the Hub (off by default)"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)
    if len(args.out) != len(args.alpha):
        parser.error(f"{len(args.alpha)} --alpha value(s) but {len(args.out)} --out path(s); give one path per alpha")
    return args


def attribute_role(args: argparse.Namespace) -> None:
    log = logging.getLogger("attribute")
    selection = read_selection(args.selection)
    runs = []  # (alpha, T_cut, inputs, out), all built before the model is loaded
    for alpha, out in zip(args.alpha, args.out, strict=True):
        t_cut = cut_length(alpha, selection.t_bar)
        inputs = [
            truncated_loss_input(s.id, s.role(args.role).prompt_token_ids, s.role(args.role).answer_token_ids, t_cut)
            for s in selection.samples
        ]
        runs.append((alpha, t_cut, inputs, out))
    model = load_model(
        args.model,
        dtype=args.dtype,
        device=args.device,
        revision=args.revision,
        trust_remote_code=args.trust_remote_code,
    )
    for alpha, t_cut, inputs, out in runs:
        log.info("%d samples, t_bar=%.2f, alpha=%s -> T_cut=%d", len(inputs), selection.t_bar, alpha, t_cut)
        result = attribute(
            model, inputs, layout=args.layout, batch_tokens=args.batch_tokens, progress=not args.no_progress
        )
        save_attribution(out, result, t_cut=t_cut, model=args.model, role=args.role, alpha=alpha, dtype=args.dtype)
        log.info("wrote %s: %d samples x %d edges", out, len(result.sample_ids), result.graph.n_edges)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_stage("attribute", lambda: attribute_role(args))


if __name__ == "__main__":
    sys.exit(main())
