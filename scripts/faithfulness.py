#!/usr/bin/env python
"""Check one model's attribution graphs against what zero-ablating their edges does (docs/DESIGN.md §4).

Reads the selection and one attribution .npz per variant (module granularity, the same role and α),
rebuilds each file's loss inputs from the selection (its answer role and T_cut), checks that the
model reproduces the file's losses on them, and writes faithfulness/{pair}/{dataset}/{role}.json:
per variant and sample, the fraction of the clean-versus-all-ablated loss gap recovered when the
top fraction of edges by |score| is kept and the rest zero-ablated, and with --single-edge the
Spearman correlation of the scores with the exact effect of ablating each edge alone.
"""

from __future__ import annotations

import argparse
import logging
import sys

import numpy as np

from rlcircuits.audit import FaithfulnessRecord, MethodFaithfulness, Variant, write_faithfulness
from rlcircuits.cli import run_stage
from rlcircuits.contracts import ROLES, AttributionFile, load_attribution, read_selection
from rlcircuits.eap import AttributionSettings, truncated_loss_input
from rlcircuits.errors import InputFormatError
from rlcircuits.faithfulness import Ablator, recovery_curve, spearman_per_sample
from rlcircuits.models import add_load_settings, load_model_from

# How far a file's recorded loss may lie from this job's recomputation (batching changes float rounding).
_LOSS_TOLERANCE = {"bfloat16": 5e-2, "float16": 5e-2, "float32": 1e-4, "float64": 1e-9}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="Hugging Face Hub id or local model folder")
    parser.add_argument("--revision", default=None, help="Hub revision (commit, tag or branch)")
    parser.add_argument("--selection", required=True, help="selection JSON from the select stage")
    parser.add_argument("--pair", required=True)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--role", required=True, choices=ROLES)
    parser.add_argument("--attribution", required=True, nargs="+", help="attribution .npz files, one per variant")
    parser.add_argument(
        "--fractions", type=float, nargs="+", required=True, help="fractions of edges kept (0 and 1 are added)"
    )
    parser.add_argument("--single-edge", action="store_true", help="also ablate each edge alone (one pass per edge)")
    add_load_settings(parser)
    parser.add_argument(
        "--batch-tokens", type=int, default=AttributionSettings.batch_tokens, help="rows x padded length per pass"
    )
    parser.add_argument("--trust-remote-code", action="store_true", help="allow model code from the Hub")
    parser.add_argument("--out", required=True, help="output JSON")
    args = parser.parse_args(argv)
    if any(not 0 <= f <= 1 for f in args.fractions):
        parser.error("--fractions must lie in [0, 1]")
    return args


def _variant(path: str, record: AttributionFile, role: str, sample_ids: list[str]) -> Variant:
    """The file's variant, after checking it is a module-level graph of this role on the selection's samples."""
    if record.method is None or record.loss is None or record.alpha is None:
        raise InputFormatError(f"{path}: no method/loss/alpha recorded (written by an older attribute? rerun it)")
    if record.granularity not in (None, "module"):
        raise InputFormatError(f"{path}: granularity {record.granularity}; only module-level edges are ablated")
    if record.role != role:
        raise InputFormatError(f"{path}: attribution of role {record.role}, not {role}")
    if record.sample_ids.tolist() != sample_ids:
        raise InputFormatError(f"{path}: its samples are not the selection's")
    return Variant(record.method, "module", record.loss)  # type: ignore[arg-type]


def check(args: argparse.Namespace) -> None:
    log = logging.getLogger("faithfulness")
    selection = read_selection(args.selection)
    ids = [s.id for s in selection.samples]
    records = {path: load_attribution(path) for path in args.attribution}
    variants = {path: _variant(path, record, args.role, ids) for path, record in records.items()}
    names = [v.name for v in variants.values()]
    if len(set(names)) != len(names):
        raise InputFormatError(f"two --attribution files are the same variant ({', '.join(names)})")
    first = next(iter(records.values()))
    for path, record in records.items():
        if record.alpha != first.alpha or record.layout != first.layout:
            raise InputFormatError(f"{path}: alpha/layout differ from {args.attribution[0]}'s")
    model = load_model_from(args)
    fractions = tuple(sorted(set(args.fractions) | {0.0, 1.0}))
    ablators: dict[tuple[str, int], tuple[Ablator, np.ndarray, np.ndarray | None]] = {}
    methods = []
    for path, record in records.items():
        answer_role = record.answer_role or args.role
        key = (answer_role, record.t_cut)
        if key not in ablators:
            inputs = [
                truncated_loss_input(
                    s.id, s.role(answer_role).prompt_token_ids, s.role(answer_role).answer_token_ids, record.t_cut
                )
                for s in selection.samples
            ]
            ablator = Ablator(model, inputs, layout=record.layout or "paper", batch_tokens=args.batch_tokens)
            clean = ablator.losses(np.zeros((len(inputs), *ablator.graph.edge_mask.shape), dtype=bool))
            effects = ablator.single_edge_effects(clean) if args.single_edge else None
            ablators[key] = (ablator, clean, effects)
            log.info("%s answers, T_cut=%d: clean loss %.4f (mean)", answer_role, record.t_cut, clean.mean())
        ablator, clean, effects = ablators[key]
        if not np.array_equal(record.edge_mask, ablator.graph.edge_mask):
            raise InputFormatError(f"{path}: its graph is not this model's")
        worst = float(np.max(np.abs(record.losses - clean) / np.maximum(1.0, np.abs(clean))))
        if worst > _LOSS_TOLERANCE[args.dtype]:
            raise InputFormatError(
                f"{path}: its losses differ from {args.model}'s on the selection's tokens by up to {worst:.3g}"
                " (another model, dtype or selection?)"
            )
        curve = recovery_curve(ablator, record.scores.astype(np.float64), fractions, clean)
        spearman = None if effects is None else tuple(spearman_per_sample(record.scores, record.edge_mask, effects))
        variant = variants[path]
        recovered = tuple(tuple(float(v) for v in row) for row in curve)
        methods.append(MethodFaithfulness(variant.name, variant.loss, recovered, spearman))
        log.info("%s: mean recovered %s", variant.name, np.round(curve.mean(axis=1), 3).tolist())
    write_faithfulness(
        args.out,
        FaithfulnessRecord(
            pair=args.pair,
            dataset=args.dataset,
            role=args.role,
            alpha=float(first.alpha),  # type: ignore[arg-type]  # checked by _variant
            t_cut=int(first.t_cut),
            model=args.model,
            sample_ids=tuple(ids),
            n_edges=int(first.edge_mask.sum()),
            fractions=fractions,
            methods=tuple(methods),
        ),
    )
    log.info("wrote %s", args.out)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_stage("faithfulness", lambda: check(args))


if __name__ == "__main__":
    sys.exit(main())
