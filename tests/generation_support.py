"""Shared by the generate stage's tests: a tiny Llama with its tokenizer, settings, and helpers.

Test modules import the fixtures by name (pytest finds fixtures in a module's namespace).
"""

import dataclasses
import json
from pathlib import Path

import pytest

import tiny_models
import tiny_tokenizer
from rlcircuits.datasets import Question
from rlcircuits.generation.answers import generate_answers
from rlcircuits.generation.backends import GenerationSettings, open_backend
from rlcircuits.generation.resumable import partial_path
from rlcircuits.models import load_tokenizer

MAX_NEW = 6
# Prompts of different lengths, so a batch of them is left-padded.
QUESTIONS = [
    Question("q-a", "what is 2+3?", "5"),
    Question("q-b", "add 12 and 30, then halve the sum.", "21"),
    Question("q-c", "is 7 prime?", "yes"),
    Question("q-d", "solve x+1=4 for x, show each step", "3"),
]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return tiny_tokenizer.save_with_model(tiny_models.build("llama"), tmp_path_factory.mktemp("model") / "llama-tiny")


@pytest.fixture(scope="module")
def tokenizer(model_dir):
    return load_tokenizer(str(model_dir))


def gen_settings(model_dir: Path, **changes) -> GenerationSettings:
    base = GenerationSettings(
        model=str(model_dir),
        revision=None,
        dtype="float64",
        backend="transformers",
        template="mistral",
        max_new_tokens=MAX_NEW,
    )
    return dataclasses.replace(base, **changes)


@pytest.fixture(scope="module")
def plain_backend(model_dir, tokenizer):
    return open_backend(gen_settings(model_dir), tokenizer)


def generate(questions, settings, tokenizer, backend, out: Path, batch_size: int = 4) -> list[dict]:
    """generate_answers' records, as the JSON objects written for them."""
    records = generate_answers(
        questions, settings, tokenizer=tokenizer, load_backend=lambda: backend, out=out, batch_size=batch_size
    )
    return [record.to_json() for record in records]


def vllm_settings(model_dir: Path, dtype: str = "bfloat16") -> GenerationSettings:
    """The vLLM tests' settings: a pinned revision, so the engine's revision keywords are seen."""
    return gen_settings(model_dir, backend="vllm", dtype=dtype, revision="abc123")


def vllm_engine_keywords(model_dir: Path) -> dict:
    """What the backend must give vLLM's engine for ``vllm_settings`` on two GPUs."""
    return {
        "model": str(model_dir),
        "revision": "abc123",
        "tokenizer_revision": "abc123",
        "dtype": "bfloat16",
        "tensor_parallel_size": 2,
        "seed": 0,
    }


@pytest.fixture(scope="module")
def plain(model_dir, tokenizer, plain_backend, tmp_path_factory) -> list[dict]:
    """The unmodified model's answers, generated in one left-padded batch."""
    out = tmp_path_factory.mktemp("plain") / "plain.jsonl"
    return generate(QUESTIONS, gen_settings(model_dir), tokenizer, plain_backend, out)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def no_leftovers(out: Path) -> None:
    assert not partial_path(out).exists() and not list(out.parent.glob(".*.tmp"))
