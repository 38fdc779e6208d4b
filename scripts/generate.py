#!/usr/bin/env python
"""Answer benchmarks' questions greedily with one model: docs/DESIGN.md §3's generations JSONL, one per dataset.

Each --dataset starts a dataset; the --data-*, --limit and --out options after it belong to it.
The model (or vLLM engine) is loaded once for all of them. One record per question: id,
question, gold, prompt, prompt_token_ids, answer, answer_token_ids, finish_reason (exactly what
the token ids hold: src/rlcircuits/generation/).
Backend auto uses vLLM when it is installed and the device is a CUDA GPU, else transformers.
Finished batches are kept in OUT.partial, so rerunning a killed or failed job with the same
settings resumes it; the OUT files appear only when every question of every dataset is answered,
and never on an error.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

import torch

from rlcircuits.cli import add_settings, run_stage
from rlcircuits.datasets import load_questions
from rlcircuits.generation.answers import generate_datasets
from rlcircuits.generation.backends import (
    DEFAULT_BATCH_SIZE,
    EngineOptions,
    GenerationSettings,
    open_backend,
    resolve_backend,
)
from rlcircuits.models import load_tokenizer
from rlcircuits.options import BACKEND_NAMES, DATA_FORMATS, DATA_SOURCES, DTYPE_NAMES

# Per-dataset options: each belongs to the --dataset before it.
DATASET_OPTIONS = ("data_format", "data_source", "data_path", "limit", "out")


class _DatasetOption(argparse.Action):
    """--dataset starts a dataset in args.datasets; the per-dataset options after it fill it in."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        value: Any,
        option_string: str | None = None,
    ) -> None:
        datasets = list(namespace.datasets or [])
        if self.dest == "dataset":
            datasets.append({"dataset": value, **dict.fromkeys(DATASET_OPTIONS)})
        elif not datasets:
            parser.error(f"{option_string} must follow the --dataset it belongs to")
        elif datasets[-1][self.dest] is not None:
            parser.error(f"{option_string} given twice for dataset {datasets[-1]['dataset']}")
        else:
            datasets[-1][self.dest] = value
        namespace.datasets = datasets


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.set_defaults(datasets=None)
    parser.add_argument("--model", required=True, help="Hugging Face Hub id or local model folder")
    parser.add_argument("--revision", default=None, help="Hub revision (commit, tag or branch)")
    data = parser.add_argument_group("per dataset (repeat the group for each dataset)")
    data.add_argument(
        "--dataset",
        action=_DatasetOption,
        required=True,
        help="benchmark to answer (gsm8k, math, math500, college_math, ...); starts a dataset",
    )
    data.add_argument(
        "--data-format", action=_DatasetOption, choices=DATA_FORMATS, help="file format (default: the dataset's name)"
    )
    data.add_argument(
        "--data-source", action=_DatasetOption, choices=DATA_SOURCES, help="local file or Hub (default: local)"
    )
    data.add_argument("--data-path", action=_DatasetOption, help="the benchmark's JSONL file (for --data-source local)")
    data.add_argument("--limit", action=_DatasetOption, type=int, help="answer only the first N questions")
    data.add_argument("--out", action=_DatasetOption, help="output .jsonl path (required)")
    parser.add_argument("--template", required=True, help="prompt template name, e.g. deepseek-math")
    parser.add_argument("--max-new-tokens", required=True, type=int, help="answer length cap in tokens (the pair's)")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="questions per batch and checkpoint (default: the backend's, "
        + ", ".join(f"{engine} {size}" for engine, size in DEFAULT_BATCH_SIZE.items())
        + ")",
    )
    parser.add_argument(
        "--device",
        default="cuda" if torch.cuda.is_available() else "cpu",
        help="torch device for transformers; vLLM needs cuda (default: cuda if available, else cpu)",
    )
    add_settings(
        parser,
        EngineOptions(),
        {
            "backend": "generation engine",
            "dtype": "model dtype",
            "tensor_parallel_size": "GPUs per model for vLLM",
        },
        choices={"backend": BACKEND_NAMES, "dtype": DTYPE_NAMES},
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)
    missing = [spec["dataset"] for spec in args.datasets if spec["out"] is None]
    if missing:
        parser.error(f"no --out for dataset(s) {', '.join(missing)}")
    for spec in args.datasets:
        spec["data_source"] = spec["data_source"] or "local"
    return args


def generate(args: argparse.Namespace) -> None:
    log = logging.getLogger("generate")
    # Every dataset is read before the model is loaded, so a bad file fails the job at once.
    tasks = [
        (
            load_questions(
                spec["dataset"],
                source=spec["data_source"],
                path=spec["data_path"],
                limit=spec["limit"],
                data_format=spec["data_format"],
            ),
            spec["out"],
        )
        for spec in args.datasets
    ]
    settings = GenerationSettings(
        model=args.model,
        revision=args.revision,
        dtype=args.dtype,
        backend=resolve_backend(args.backend, args.device),
        template=args.template,
        max_new_tokens=args.max_new_tokens,
    )
    for spec, (questions, _) in zip(args.datasets, tasks, strict=True):
        log.info("%d %s questions, %s with %s", len(questions), spec["dataset"], args.model, settings.backend)
    tokenizer = load_tokenizer(args.model, revision=args.revision)
    results = generate_datasets(
        tasks,
        settings,
        tokenizer=tokenizer,
        load_backend=lambda: open_backend(
            settings, tokenizer, device=args.device, tensor_parallel_size=args.tensor_parallel_size
        ),
        batch_size=args.batch_size,
        progress=not args.no_progress,
    )
    for (_, out), records in zip(tasks, results, strict=True):
        log.info("wrote %s: %d records", out, len(records))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_stage("generate", lambda: generate(args))


if __name__ == "__main__":
    sys.exit(main())
