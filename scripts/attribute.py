#!/usr/bin/env python
"""Attribute one model of a pair on its selected samples: per-sample EAP matrices as .npz, one per alpha.

Reads the selection file written by `select`, loads the model once, and for each method and alpha
scores each sample on an answer truncated to T_cut = max(int(alpha * t_bar), 1) tokens: the
model's own (--loss own_answer, the paper's) or the base model's prompt and answer for both roles
(--loss shared_answer, so that both models of a pair are scored on the same tokens). It writes
docs/DESIGN.md §3's attribution/{pair}/{dataset}/alpha{alpha}/{role}.npz; --out lists one path per
(method, alpha), methods outermost: with --method eap eap_ig --alpha 0.1 0.5 the order is eap
0.1, eap 0.5, eap_ig 0.1, eap_ig 0.5. Each file is written atomically as soon as it is done;
nothing is written for one that fails.
"""

from __future__ import annotations

import argparse
import logging
import sys

from rlcircuits.cli import add_settings, run_stage
from rlcircuits.contracts import ROLES, read_selection, save_attribution
from rlcircuits.eap import AttributionSettings, MethodSettings, attribute, truncated_loss_input
from rlcircuits.models import add_load_settings, load_model_from
from rlcircuits.options import GRANULARITIES, IG_BASELINES, LAYOUTS, LOSS_TEXTS, METHODS
from rlcircuits.truncation import cut_length


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="Hugging Face Hub id or local model folder")
    parser.add_argument("--revision", default=None, help="Hub revision (commit, tag or branch)")
    parser.add_argument("--selection", required=True, help="selection JSON from the select stage")
    parser.add_argument("--role", required=True, choices=ROLES, help="which model of the pair this is")
    parser.add_argument("--alpha", required=True, type=float, nargs="+", help="answer fraction(s) scored by the loss")
    parser.add_argument(
        "--out", required=True, nargs="+", help="output .npz path, one per (--method, --alpha), methods outermost"
    )
    parser.add_argument(
        "--method", default=["eap"], nargs="+", choices=METHODS, help="attribution method(s) (default: eap)"
    )
    add_settings(
        parser,
        AttributionSettings(),
        {
            "layout": "graph layout",
            "granularity": "module: attention modules are nodes; head: each attention head is",
            "loss": "own_answer: each model its own answer; shared_answer: the base's prompt and answer",
            "batch_tokens": "token budget (rows x padded length) per forward",
        },
        choices={"layout": LAYOUTS, "granularity": GRANULARITIES, "loss": LOSS_TEXTS},
    )
    add_settings(
        parser,
        MethodSettings(),
        {"ig_steps": "EAP-IG path points m", "ig_baseline": "EAP-IG baseline input: mean embedding row or zero"},
        choices={"ig_baseline": IG_BASELINES},
    )
    add_load_settings(parser)
    parser.add_argument(
        "--trust-remote-code", action="store_true", help="allow model code from the Hub (off by default)"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)
    if len(args.method) != len(set(args.method)):
        parser.error("--method names a method twice")
    if args.ig_steps < 1:
        parser.error(f"--ig-steps must be >= 1, got {args.ig_steps}")
    if len(args.out) != len(args.alpha) * len(args.method):
        parser.error(
            f"{len(args.method)} --method x {len(args.alpha)} --alpha value(s) but {len(args.out)} --out path(s);"
            " give one path per method and alpha"
        )
    return args


def attribute_role(args: argparse.Namespace) -> None:
    log = logging.getLogger("attribute")
    selection = read_selection(args.selection)
    answer_role = args.role if args.loss == "own_answer" else "base"
    methods = [MethodSettings(name, args.ig_steps, args.ig_baseline) for name in args.method]
    outs = iter(args.out)
    runs = []  # (method, alpha, T_cut, inputs, out), all built before the model is loaded
    for method in methods:
        for alpha in args.alpha:
            t_cut = cut_length(alpha, selection.t_bar)
            inputs = [
                truncated_loss_input(
                    s.id, s.role(answer_role).prompt_token_ids, s.role(answer_role).answer_token_ids, t_cut
                )
                for s in selection.samples
            ]
            runs.append((method, alpha, t_cut, inputs, next(outs)))
    model = load_model_from(args)
    for method, alpha, t_cut, inputs, out in runs:
        log.info(
            "%s: %d samples on the %s's answers, t_bar=%.2f, alpha=%s -> T_cut=%d",
            method.name,
            len(inputs),
            answer_role,
            selection.t_bar,
            alpha,
            t_cut,
        )
        result = attribute(
            model,
            inputs,
            layout=args.layout,
            method=method,
            granularity=args.granularity,
            batch_tokens=args.batch_tokens,
            progress=not args.no_progress,
        )
        ig = (
            {"ig_steps": method.ig_steps, "ig_baseline": method.ig_baseline, "baseline_losses": result.baseline_losses}
            if method.name == "eap_ig"
            else {}
        )
        save_attribution(
            out,
            result,
            t_cut=t_cut,
            model=args.model,
            role=args.role,
            alpha=alpha,
            dtype=args.dtype,
            method=method.name,
            loss=args.loss,
            answer_role=answer_role,
            **ig,
        )
        log.info("wrote %s: %d samples x %d edges", out, len(result.sample_ids), result.graph.n_edges)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_stage("attribute", lambda: attribute_role(args))


if __name__ == "__main__":
    sys.exit(main())
