#!/usr/bin/env python
"""Benchmark: one RL step of the fast GRPO/RLOO/online-DPO trainers against TRL's own, interleaved in one process.

At the study's settings (config/study.yaml: 8 prompts x 8 samples, answers up to 64 tokens, KL
beta 0, temperature 0.7, one thread, the real grader as reward; online and offline DPO at their
rate and beta 0.1, two samples per prompt online) each round trains ``--steps`` steps from the
same SFT base with TRL's trainer, then with the fast one, and offline DPO (TRL's DPOTrainer, which
has no fast subclass) on pairs sampled once beforehand, each from a freshly loaded base with the
same seed. A step's time is measured from the trainer's step-begin to its step-end callback
(sampling, reward, loss, backward, optimiser), as wall and as this process's CPU time; the first
step of each run is dropped as warm-up. Ratios are TRL's step time over the fast trainer's (see
``summarise``). Same seed, same draws: the per-step rewards of the two trainers are reported and
should be identical.

    python bench/bench_rl_step.py --base results/study/zoo/sft/llama --steps 8 --rounds 3 \\
        --train results/study/zoo/tasks/{arithmetic,equations,fractions}_train.jsonl --out rl_step.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import transformers
import trl
from transformers import TrainerCallback

from rlcircuits.files import atomic_output
from rlcircuits.grading.pool import JudgePool
from rlcircuits.models import load_model
from rlcircuits.zoo import rl
from rlcircuits.zoo.tokenizer import build_tokenizer
from rlcircuits.zoo.training import deterministic, read_train_files, small_vocabulary_tiles

FAST = ("grpo", "rloo", "online_dpo")  # the algorithms with a fast subclass of TRL's trainer
STUDY = dict(prompts_per_step=8, generations=8, max_completion_length=64, learning_rate=3e-5, temperature=0.7)


def run(algorithm: str, fast: bool, base: str, tasks: list, steps: int, pool: JudgePool) -> dict[str, Any]:
    """Train ``steps`` steps from ``base``; per-step times (s) and rewards from the trainer's log."""
    dpo = algorithm in ("dpo", "online_dpo")
    beta, lr = (0.1, 5e-6) if dpo else (0.0, STUDY["learning_rate"])
    settings = rl.RLSettings(steps=steps, seed=0, beta=beta, **{**STUDY, "learning_rate": lr})
    deterministic(settings.seed, 1)
    tokenizer = build_tokenizer()
    small_vocabulary_tiles(len(tokenizer))
    model = load_model(base, dtype="float32")
    model.requires_grad_(True)
    extra: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-rl-") as scratch:
        if algorithm == "dpo":
            started = time.perf_counter()
            pairs = rl.preference_pairs(model, tokenizer, tasks, settings, pool)
            extra = {"pair_sampling_s": time.perf_counter() - started, "pairs": len(pairs)}
            trainer = rl._dpo_trainer(model, tokenizer, pairs, settings, Path(scratch))
        else:
            trainer = rl._online_trainer(algorithm, model, tokenizer, tasks, settings, Path(scratch), pool, fast=fast)
        clock = StepClock()
        trainer.add_callback(clock)
        trainer.train()
    metric = rl.CURVES[algorithm][0]
    return {
        "step_times": clock.times,
        "step_cpu_times": clock.cpu_times,
        "rewards": [entry[metric] for entry in trainer.state.log_history if metric in entry],
        **extra,
    }


class StepClock(TrainerCallback):
    """Wall and CPU time of every optimiser step, the same measure for every trainer.

    CPU time is this process's (one thread): other jobs on a shared machine barely change it, but
    it leaves out the grader's worker process, which does the same work for both trainers.
    """

    def __init__(self) -> None:
        self.times: list[float] = []
        self.cpu_times: list[float] = []
        self._start = (0.0, 0.0)

    def on_step_begin(self, args, state, control, **kwargs) -> None:
        self._start = (time.perf_counter(), time.process_time())

    def on_step_end(self, args, state, control, **kwargs) -> None:
        self.times.append(time.perf_counter() - self._start[0])
        self.cpu_times.append(time.process_time() - self._start[1])


def summarise(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Median step per trainer, and TRL-over-fast ratios: of medians, and of per-step minima over rounds.

    The same seed gives every round the same samples, so step k is the same work in every round;
    its minimum over rounds is its time least disturbed by other jobs on the machine.
    """
    summary: dict[str, Any] = {
        f"median_step{kind}_s": {
            key: statistics.median(time for result in results for time in result[f"step{kind}_times"][1:])
            for key, results in runs.items()
        }
        for kind in ("", "_cpu")
    }
    for algorithm in FAST:
        if f"{algorithm}/fast" not in runs:
            continue
        trl_runs, fast_runs = runs[f"{algorithm}/trl"], runs[f"{algorithm}/fast"]

        def minima(results: list[dict[str, Any]], key: str = "step_times") -> list[float]:
            return [min(times) for times in zip(*(result[key][1:] for result in results), strict=True)]

        summary.setdefault("speedup", {})[algorithm] = {
            "of_medians": summary["median_step_s"][f"{algorithm}/trl"] / summary["median_step_s"][f"{algorithm}/fast"],
            "of_step_minima": sum(minima(trl_runs)) / sum(minima(fast_runs)),
            "of_step_cpu_minima": sum(minima(trl_runs, "step_cpu_times")) / sum(minima(fast_runs, "step_cpu_times")),
            "per_round_medians": [
                statistics.median(a["step_times"][1:]) / statistics.median(b["step_times"][1:])
                for a, b in zip(trl_runs, fast_runs, strict=True)
            ],
            "same_rewards": all(a["rewards"] == b["rewards"] for a, b in zip(trl_runs, fast_runs, strict=True)),
        }
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--base", required=True, help="a zoo SFT model folder (the study's: results/study/zoo/sft/llama)"
    )
    parser.add_argument("--train", nargs="+", required=True, help="the zoo's train split files")
    parser.add_argument("--steps", type=int, default=6, help="steps per run (the first is dropped)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--algorithms", nargs="+", default=[*FAST, "dpo"], choices=[*FAST, "dpo"])
    parser.add_argument("--out", required=True, help="where to write the JSON report (the trainers print to stdout)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    tasks = read_train_files(args.train)
    runs: dict[str, list[dict[str, Any]]] = {}
    with JudgePool(workers=1, timeout=rl.GRADE_TIMEOUT) as pool:
        for round_index in range(args.rounds):
            for algorithm in args.algorithms:
                variants = [("trl", False), ("fast", True)] if algorithm in FAST else [("trl", False)]
                for name, fast in variants:
                    result = run(algorithm, fast, args.base, tasks, args.steps, pool)
                    runs.setdefault(f"{algorithm}/{name}", []).append(result)
                    median = statistics.median(result["step_times"][1:])
                    print(f"round {round_index} {algorithm}/{name}: median step {median:.3f} s", file=sys.stderr)
    report: dict[str, Any] = {
        "settings": {**STUDY, "steps": args.steps, "rounds": args.rounds, "threads": 1, "base": args.base},
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "trl": trl.__version__},
        "machine": platform.processor() or platform.machine(),
        "load_average": os.getloadavg(),
        "runs": runs,
        **summarise(runs),
    }
    with atomic_output(args.out, "w") as handle:
        handle.write(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
