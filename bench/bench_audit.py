#!/usr/bin/env python
"""Benchmark: the robustness audit's compute per attribution variant on one mini-zoo model, one thread.

Takes the first ``--samples`` answers of a generations file (the model's own prompt and answer
token ids), truncates each to T_cut = max(int(alpha * mean answer length), 1) as the attribute stage
does, and times (best of ``--repeats``) one ``attribute`` call per method x granularity (the loss
text changes which tokens are scored, not the cost), then the faithfulness stage's work for
``--variants`` module-level graphs: the clean losses, one ablation pass per edge and sample, and
the curve at ``--fractions``. Times exclude the interpreter start-up and model load that every job
also pays (docs/benchmarks.md, "The mini-zoo demo").

    python bench/bench_audit.py --model results/demo/zoo/sft/qwen2 \\
        --generations results/demo/generations/sft/qwen2/arithmetic.jsonl
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch

from rlcircuits.contracts import read_generations
from rlcircuits.eap import MethodSettings, attribute, truncated_loss_input
from rlcircuits.faithfulness import Ablator, recovery_curve
from rlcircuits.models import load_model


def best_of(repeats: int, action: Callable[[], object]) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--generations", required=True)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--alpha", type=float, default=0.5)
    parser.add_argument("--ig-steps", type=int, default=32)
    parser.add_argument("--variants", type=int, default=3, help="module-level graphs the faithfulness job ranks")
    parser.add_argument("--fractions", type=int, default=10, help="points of the faithfulness curve")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    records = read_generations(args.generations)[: args.samples]
    t_cut = max(int(args.alpha * np.mean([len(r.answer_token_ids) for r in records])), 1)
    inputs = [truncated_loss_input(r.id, r.prompt_token_ids, r.answer_token_ids, t_cut) for r in records]
    model = load_model(args.model, dtype="float32", device="cpu")
    tokens = sum(len(item.input_ids) for item in inputs)
    print(f"{len(inputs)} samples, T_cut {t_cut}, {tokens} tokens, one thread, best of {args.repeats}")
    print("| work | seconds |\n|---|---|")
    for name in ("eap", "eap_ig"):
        for granularity in ("module", "head"):
            method = MethodSettings(name, args.ig_steps)
            seconds = best_of(
                args.repeats, lambda m=method, g=granularity: attribute(model, inputs, method=m, granularity=g)
            )
            label = f"{name} (m = {args.ig_steps})" if name == "eap_ig" else name
            print(f"| attribute: {label}, {granularity} | {seconds:.2f} |")
    scores = attribute(model, inputs).scores
    ablator = Ablator(model, inputs)
    shape = (len(inputs), *ablator.graph.edge_mask.shape)
    clean = ablator.losses(np.zeros(shape, dtype=bool))
    single = best_of(1, lambda: ablator.single_edge_effects(clean))
    fractions = np.linspace(0, 1, args.fractions)
    curve = best_of(args.repeats, lambda: recovery_curve(ablator, scores, fractions, clean))
    print(f"| faithfulness: single-edge ablations ({int(ablator.graph.edge_mask.sum())} edges) | {single:.2f} |")
    print(f"| faithfulness: one curve ({args.fractions} fractions) | {curve:.2f} |")
    print(f"| faithfulness job: single-edge + {args.variants} curves | {single + args.variants * curve:.2f} |")


if __name__ == "__main__":
    main()
