"""Resuming: a killed run keeps its finished batches; a rerun under other settings or questions is refused."""

import dataclasses
import json
import os
import shutil
from pathlib import Path

import pytest

from generation_support import (  # noqa: F401
    QUESTIONS,
    gen_settings,
    generate,
    model_dir,
    no_leftovers,
    plain,
    plain_backend,
    read_jsonl,
    tokenizer,
)
from rlcircuits.datasets import Question
from rlcircuits.errors import InputFormatError
from rlcircuits.generation.answers import generate_answers, generate_datasets
from rlcircuits.generation.backends import GenerationError, open_backend
from rlcircuits.generation.resumable import model_fingerprint, partial_path


class _Counting:
    """Wraps a backend: records each batch it is asked for, and can die like a killed job."""

    def __init__(self, backend, die_on_call: int | None = None) -> None:
        self.backend, self.die_on_call, self.batches = backend, die_on_call, []

    def generate(self, prompts, max_new_tokens):
        if len(self.batches) + 1 == self.die_on_call:
            raise KeyboardInterrupt
        self.batches.append([list(p) for p in prompts])
        return self.backend.generate(prompts, max_new_tokens)


def _header_settings(model_dir: Path, **changes) -> dict:
    return {**dataclasses.asdict(gen_settings(model_dir, **changes)), "model_files": model_fingerprint(str(model_dir))}


def _killed_run(model_dir, tokenizer, backend, out: Path, settings=None) -> None:
    """Two questions per batch, killed while generating the second batch."""
    with pytest.raises(KeyboardInterrupt):
        generate(QUESTIONS, settings or gen_settings(model_dir), tokenizer, _Counting(backend, die_on_call=2), out, 2)


def test_a_killed_run_leaves_no_output_and_a_rerun_answers_only_the_rest(
    model_dir, tokenizer, plain_backend, plain, tmp_path
):
    out = tmp_path / "o.jsonl"
    _killed_run(model_dir, tokenizer, plain_backend, out)
    assert not out.exists() and not list(tmp_path.glob(".*.tmp"))
    lines = read_jsonl(partial_path(out))
    assert lines[0] == {"settings": _header_settings(model_dir)}
    assert lines[1:] == plain[:2]
    with partial_path(out).open("ab") as handle:  # killed in the middle of writing the next record
        handle.write(b'{"id": "q-c", "question": "is 7')
    counting = _Counting(plain_backend)
    records = generate(QUESTIONS, gen_settings(model_dir), tokenizer, counting, out, batch_size=2)
    assert counting.batches == [[r["prompt_token_ids"] for r in plain[2:]]]
    assert records == plain and read_jsonl(out) == plain
    no_leftovers(out)


def _refuses_to_resume(tokenizer, out: Path, settings, error, match: str, questions=QUESTIONS) -> None:
    def no_model():
        raise AssertionError("the model must not be loaded")

    before = partial_path(out).read_bytes()
    with pytest.raises(error, match=match):
        generate_answers(questions, settings, tokenizer=tokenizer, load_backend=no_model, out=out)
    assert partial_path(out).read_bytes() == before and not out.exists()


def test_resume_under_other_settings_is_refused(model_dir, tokenizer, plain_backend, tmp_path):
    out = tmp_path / "o.jsonl"
    _killed_run(model_dir, tokenizer, plain_backend, out)
    _refuses_to_resume(
        tokenizer,
        out,
        gen_settings(model_dir, max_new_tokens=4),
        GenerationError,
        r"o\.jsonl\.partial was written with other settings \(max_new_tokens: 6 there, 4 here\)",
    )


def test_resume_after_the_model_folder_changed_is_refused(model_dir, tokenizer, tmp_path):
    """A model retrained in place keeps its path; its old answers must not be resumed."""
    copy = Path(shutil.copytree(model_dir, tmp_path / "model"))
    backend = open_backend(gen_settings(copy), tokenizer)
    out = tmp_path / "o.jsonl"
    _killed_run(copy, tokenizer, backend, out, gen_settings(copy))
    weights = copy / "model.safetensors"
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 10**9))
    _refuses_to_resume(tokenizer, out, gen_settings(copy), GenerationError, r"model_files: '\w+' there")


def test_resume_with_a_changed_question_is_refused(model_dir, tokenizer, plain_backend, tmp_path):
    out = tmp_path / "o.jsonl"
    _killed_run(model_dir, tokenizer, plain_backend, out)
    changed = [Question("q-a", "what is 2+4?", "6"), *QUESTIONS[1:]]
    message = r"o\.jsonl\.partial:2: question q-a: question differs from this run's"
    _refuses_to_resume(tokenizer, out, gen_settings(model_dir), InputFormatError, message, changed)


def test_a_corrupt_complete_line_is_named(model_dir, tokenizer, plain_backend, tmp_path):
    out = tmp_path / "o.jsonl"
    _killed_run(model_dir, tokenizer, plain_backend, out)
    lines = partial_path(out).read_bytes().split(b"\n")
    lines[1] = lines[1][:20]
    partial_path(out).write_bytes(b"\n".join(lines))
    _refuses_to_resume(tokenizer, out, gen_settings(model_dir), InputFormatError, r"o\.jsonl\.partial:2: invalid JSON")


def test_a_malformed_finished_record_names_line_and_key(model_dir, tokenizer, plain, tmp_path):
    out = tmp_path / "o.jsonl"
    rows = [{"settings": _header_settings(model_dir)}, {**plain[0], "answer_token_ids": ["x"]}]
    partial_path(out).write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    message = r"o\.jsonl\.partial:2: answer_token_ids must be a list of integers"
    _refuses_to_resume(tokenizer, out, gen_settings(model_dir), InputFormatError, message)


def test_a_complete_partial_file_is_finished_without_loading_the_model(model_dir, tokenizer, plain, tmp_path):
    out = tmp_path / "o.jsonl"
    header = {"settings": _header_settings(model_dir)}
    # Finished out of order, plus a question this run does not ask (a larger --limit earlier).
    extra = {**plain[0], "id": "q-z"}
    rows = [header, plain[3], extra, *plain[:3]]
    partial_path(out).write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")

    def no_model():
        raise AssertionError("the model must not be loaded")

    records = generate_answers(QUESTIONS, gen_settings(model_dir), tokenizer=tokenizer, load_backend=no_model, out=out)
    records = [record.to_json() for record in records]
    assert records == plain and read_jsonl(out) == plain
    no_leftovers(out)


# --- several datasets, one model load ----------------------------------------------------------

# Two datasets of a model: the second with ids of its own.
OTHER = [Question(f"r-{q.id}", q.question.upper(), q.gold) for q in QUESTIONS[:3]]


def _as_json(results) -> list[list[dict]]:
    return [[record.to_json() for record in records] for records in results]


def test_several_datasets_load_the_model_once_and_match_one_at_a_time(model_dir, tokenizer, plain_backend, tmp_path):
    loads = []

    def load():
        loads.append(1)
        return plain_backend

    outs = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    results = generate_datasets(
        list(zip([QUESTIONS, OTHER], outs, strict=True)),
        gen_settings(model_dir),
        tokenizer=tokenizer,
        load_backend=load,
        batch_size=4,
    )
    assert loads == [1]
    alone = [
        generate(QUESTIONS, gen_settings(model_dir), tokenizer, plain_backend, tmp_path / "alone-a.jsonl"),
        generate(OTHER, gen_settings(model_dir), tokenizer, plain_backend, tmp_path / "alone-b.jsonl"),
    ]
    assert _as_json(results) == alone and [read_jsonl(out) for out in outs] == alone
    for out in outs:
        no_leftovers(out)


def test_a_failure_on_the_second_dataset_keeps_the_first_for_the_rerun(model_dir, tokenizer, plain_backend, tmp_path):
    outs = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    tasks = list(zip([QUESTIONS, OTHER], outs, strict=True))
    dying = _Counting(plain_backend, die_on_call=3)  # two batches of two for the first set, then dies
    with pytest.raises(KeyboardInterrupt):
        generate_datasets(tasks, gen_settings(model_dir), tokenizer=tokenizer, load_backend=lambda: dying, batch_size=2)
    assert not any(out.exists() for out in outs)  # nothing looks complete...
    first = read_jsonl(partial_path(outs[0]))[1:]
    assert [r["id"] for r in first] == [q.id for q in QUESTIONS]  # ...but the first set's answers are kept
    counting = _Counting(plain_backend)
    results = _as_json(
        generate_datasets(
            tasks, gen_settings(model_dir), tokenizer=tokenizer, load_backend=lambda: counting, batch_size=2
        )
    )
    assert counting.batches == [[r["prompt_token_ids"] for r in results[1][:2]], [results[1][2]["prompt_token_ids"]]]
    assert results[0] == first and read_jsonl(outs[0]) == first
    for out in outs:
        no_leftovers(out)


def test_every_partial_file_is_checked_before_the_model_is_loaded(model_dir, tokenizer, plain_backend, tmp_path):
    outs = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    _killed_run(model_dir, tokenizer, plain_backend, outs[1], gen_settings(model_dir, max_new_tokens=4))

    def no_model():
        raise AssertionError("the model must not be loaded")

    with pytest.raises(GenerationError, match=r"b\.jsonl\.partial was written with other settings"):
        generate_datasets(
            list(zip([OTHER, QUESTIONS], outs, strict=True)),
            gen_settings(model_dir),
            tokenizer=tokenizer,
            load_backend=no_model,
        )
    assert not partial_path(outs[0]).exists() and not any(out.exists() for out in outs)


def test_two_datasets_cannot_share_an_output(model_dir, tokenizer, plain_backend, tmp_path):
    with pytest.raises(ValueError, match="same file"):
        generate_datasets(
            [(QUESTIONS, tmp_path / "a.jsonl"), (OTHER, tmp_path / "a.jsonl")],
            gen_settings(model_dir),
            tokenizer=tokenizer,
            load_backend=lambda: plain_backend,
        )
