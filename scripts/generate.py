#!/usr/bin/env python
"""Answer one benchmark's questions greedily with one model: DESIGN §3's generations JSONL.

One record per question: id, question, gold, prompt, prompt_token_ids, answer,
answer_token_ids, finish_reason (exactly what the token ids hold: src/rlcircuits/generation/).
Backend auto uses vLLM when it is installed and the device is a CUDA GPU, else transformers.
Finished batches are kept in OUT.partial, so rerunning a killed job with the same settings
resumes it; OUT itself appears only when every question is answered, and never on an error.
"""

from __future__ import annotations

import argparse
import logging
import sys

import torch

from rlcircuits.cli import run_stage
from rlcircuits.datasets import load_questions
from rlcircuits.generation.answers import generate_answers
from rlcircuits.generation.backends import GenerationSettings, open_backend, resolve_backend
from rlcircuits.models import load_tokenizer
from rlcircuits.options import BACKEND_NAMES, DATA_FORMATS, DATA_SOURCES, DTYPE_NAMES


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="Hugging Face Hub id or local model folder")
    parser.add_argument("--revision", default=None, help="Hub revision (commit, tag or branch)")
    parser.add_argument("--dataset", required=True, help="benchmark to answer (gsm8k, math, math500, college_math, ...)")
    parser.add_argument("--data-format", default=None, choices=DATA_FORMATS, help="file format (default: the dataset's name)")
    parser.add_argument("--data-source", default="local", choices=DATA_SOURCES, help="local file or Hub (default: local)")
    parser.add_argument("--data-path", default=None, help="the benchmark's JSONL file (for --data-source local)")
    parser.add_argument("--limit", type=int, default=None, help="answer only the first N questions")
    parser.add_argument("--template", required=True, help="prompt template name, e.g. deepseek-math")
    parser.add_argument("--max-new-tokens", required=True, type=int, help="answer length cap in tokens (the pair's)")
    parser.add_argument(
        "--batch-size", type=int, default=None, help="questions per batch and checkpoint (default: 8, vLLM 256)"
    )
    parser.add_argument("--dtype", default="bfloat16", choices=DTYPE_NAMES, help="model dtype (default: bfloat16)")
    parser.add_argument(
        "--device",
        default="cuda" if torch.cuda.is_available() else "cpu",
        help="torch device for transformers; vLLM needs cuda (default: cuda if available, else cpu)",
    )
    parser.add_argument("--backend", default="auto", choices=BACKEND_NAMES, help="generation engine (default: auto)")
    parser.add_argument("--tensor-parallel-size", type=int, default=1, help="GPUs per model for vLLM (default: 1)")
    parser.add_argument("--out", required=True, help="output .jsonl path")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser.parse_args(argv)


def generate(args: argparse.Namespace) -> None:
    questions = load_questions(
        args.dataset, source=args.data_source, path=args.data_path, limit=args.limit, data_format=args.data_format
    )
    settings = GenerationSettings(
        model=args.model,
        revision=args.revision,
        dtype=args.dtype,
        backend=resolve_backend(args.backend, args.device),
        template=args.template,
        max_new_tokens=args.max_new_tokens,
    )
    log = logging.getLogger("generate")
    log.info("%d %s questions, %s with %s", len(questions), args.dataset, args.model, settings.backend)
    tokenizer = load_tokenizer(args.model, revision=args.revision)
    records = generate_answers(
        questions,
        settings,
        tokenizer=tokenizer,
        load_backend=lambda: open_backend(
            settings, tokenizer, device=args.device, tensor_parallel_size=args.tensor_parallel_size
        ),
        out=args.out,
        batch_size=args.batch_size,
        progress=not args.no_progress,
    )
    log.info("wrote %s: %d records", args.out, len(records))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_stage("generate", lambda: generate(args))


if __name__ == "__main__":
    sys.exit(main())
