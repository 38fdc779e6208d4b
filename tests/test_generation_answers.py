"""The generate stage end to end: the records' keys and exact prompt ids, and scripts/generate.py."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

import tiny_models
from cli_failure import fails_cleanly
from generation_support import (  # noqa: F401
    MAX_NEW,
    QUESTIONS,
    gen_settings,
    generate,
    model_dir,
    no_leftovers,
    plain_backend,
    read_jsonl,
    tokenizer,
)
from rlcircuits.contracts import GENERATION_KEYS, GenerationRecord
from rlcircuits.datasets import Question
from rlcircuits.generation import backends
from rlcircuits.generation.answers import generate_answers
from rlcircuits.generation.resumable import partial_path
from script_loader import SCRIPTS, load_script

SCRIPT = SCRIPTS / "generate.py"
CLI = load_script("generate")


def test_records_hold_the_design_keys_and_the_exact_prompt_ids(model_dir, tokenizer, plain_backend, tmp_path):
    out = tmp_path / "generations" / "gsm8k.jsonl"
    records = generate(QUESTIONS, gen_settings(model_dir), tokenizer, plain_backend, out)
    assert read_jsonl(out) == records
    no_leftovers(out)
    assert [r["id"] for r in records] == [q.id for q in QUESTIONS]
    for record, question in zip(records, QUESTIONS, strict=True):
        assert tuple(record) == GENERATION_KEYS
        assert (record["question"], record["gold"]) == (question.question, question.gold)
        assert record["prompt"] == f"[INST] {question.question}[/INST]"
        assert record["prompt_token_ids"] == tokenizer(record["prompt"], add_special_tokens=True)["input_ids"]
        assert record["prompt_token_ids"][:3] == tokenizer.convert_tokens_to_ids(["<s>", "[", "INST"])
        assert tokenizer.decode(record["prompt_token_ids"], skip_special_tokens=True) == record["prompt"]
        assert record["answer"] == tokenizer.decode(record["answer_token_ids"], skip_special_tokens=True)
    assert len({len(r["prompt_token_ids"]) for r in records}) == len(records), "prompts must differ in length"
    assert tokenizer.pad_token is None and len(tokenizer) == tiny_models.VOCAB, "the vocabulary is untouched"


def test_generate_answers_returns_the_typed_records_it_wrote(model_dir, tokenizer, plain_backend, tmp_path):
    out = tmp_path / "o.jsonl"
    records = generate_answers(
        QUESTIONS[:2], gen_settings(model_dir), tokenizer=tokenizer, load_backend=lambda: plain_backend, out=out
    )
    assert all(isinstance(record, GenerationRecord) for record in records)
    assert [record.to_json() for record in records] == read_jsonl(out)


def test_duplicate_question_ids_are_refused(model_dir, tokenizer, plain_backend, tmp_path):
    with pytest.raises(ValueError, match=r"duplicate question ids, e\.g\. q-a"):
        generate([QUESTIONS[0], QUESTIONS[0]], gen_settings(model_dir), tokenizer, plain_backend, tmp_path / "o.jsonl")


@pytest.fixture()
def gsm8k_file(tmp_path) -> Path:
    """Three questions in GSM8K's own format (what --data-source local reads)."""
    path = tmp_path / "gsm8k.jsonl"
    rows = [{"question": q.question, "answer": f"work\n#### {q.gold}"} for q in QUESTIONS[:3]]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _cli_args(model_dir, data: Path | None, out: Path, *extra: str) -> list[str]:
    return [
        "--model",
        str(model_dir),
        "--dataset",
        "gsm8k",
        *(["--data-path", str(data)] if data else []),
        "--template",
        "mistral",
        "--max-new-tokens",
        str(MAX_NEW),
        "--dtype",
        "float64",
        "--device",
        "cpu",
        "--out",
        str(out),
        "--no-progress",
        *extra,
    ]


def test_cli_writes_the_same_records_as_the_library(model_dir, tokenizer, plain_backend, gsm8k_file, tmp_path):
    out = tmp_path / "generations" / "gsm8k.jsonl"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *_cli_args(model_dir, gsm8k_file, out, "--batch-size", "2", "--limit", "2")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    records = read_jsonl(out)
    assert [r["id"] for r in records] == ["gsm8k-0000", "gsm8k-0001"]
    questions = [Question(r["id"], q.question, q.gold) for r, q in zip(records, QUESTIONS, strict=False)]
    assert records == generate(questions, gen_settings(model_dir), tokenizer, plain_backend, tmp_path / "lib.jsonl")
    no_leftovers(out)


def test_cli_answers_several_datasets_in_one_run(model_dir, tokenizer, plain_backend, gsm8k_file, tmp_path):
    other = [Question(f"r-{q.id}", q.question.upper(), q.gold) for q in QUESTIONS[:2]]
    qa = tmp_path / "qa.jsonl"
    qa.write_text(
        "".join(json.dumps({"id": q.id, "question": q.question, "gold": q.gold}) + "\n" for q in other),
        encoding="utf-8",
    )
    outs = [tmp_path / "generations" / "gsm8k.jsonl", tmp_path / "generations" / "qa.jsonl"]
    args = [
        *_cli_args(model_dir, gsm8k_file, outs[0]),
        "--dataset",
        "qa",
        "--data-format",
        "qa",
        "--data-path",
        str(qa),
        "--out",
        str(outs[1]),
        "--batch-size",
        "2",
    ]
    assert CLI.main(args) == 0
    gsm8k = [Question(f"gsm8k-{i:04d}", q.question, q.gold) for i, q in enumerate(QUESTIONS[:3])]
    for out, questions in zip(outs, (gsm8k, other), strict=True):
        expected = generate(questions, gen_settings(model_dir), tokenizer, plain_backend, tmp_path / f"lib-{out.name}")
        assert read_jsonl(out) == expected
        no_leftovers(out)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--data-path", "x.jsonl", "--dataset", "gsm8k", "--out", "o.jsonl"], "--data-path must follow the --dataset"),
        (["--dataset", "gsm8k", "--out", "o.jsonl", "--dataset", "math"], "no --out for dataset(s) math"),
        (["--dataset", "gsm8k", "--out", "o.jsonl", "--out", "p.jsonl"], "--out given twice for dataset gsm8k"),
    ],
)
def test_cli_dataset_options_belong_to_one_dataset(capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        CLI.main(["--model", "m", "--template", "mistral", "--max-new-tokens", "4", *args])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def _cli_fails(capsys, args: list[str], out: Path, message: str) -> None:
    fails_cleanly(capsys, CLI.main, args, "generate", message, [out])


def test_cli_missing_model_folder(capsys, gsm8k_file, tmp_path):
    out = tmp_path / "o.jsonl"
    _cli_fails(capsys, _cli_args(tmp_path / "no-model", gsm8k_file, out), out, "folder not found")
    assert not partial_path(out).exists()


def test_cli_unknown_template(capsys, model_dir, gsm8k_file, tmp_path):
    out = tmp_path / "o.jsonl"
    args = [*_cli_args(model_dir, gsm8k_file, out), "--template", "alpaca"]
    _cli_fails(capsys, args, out, "unknown prompt template 'alpaca'")


def test_cli_vllm_unavailable(capsys, monkeypatch, model_dir, gsm8k_file, tmp_path):
    monkeypatch.setattr(backends, "_vllm_installed", lambda: False)
    out = tmp_path / "o.jsonl"
    _cli_fails(capsys, _cli_args(model_dir, gsm8k_file, out, "--backend", "vllm"), out, "backend vllm is unavailable")


def test_cli_local_data_without_a_path(capsys, model_dir, tmp_path):
    out = tmp_path / "o.jsonl"
    _cli_fails(capsys, _cli_args(model_dir, None, out), out, "a local source needs a file path")


def test_cli_bad_max_new_tokens(capsys, model_dir, gsm8k_file, tmp_path):
    out = tmp_path / "o.jsonl"
    args = [*_cli_args(model_dir, gsm8k_file, out), "--max-new-tokens", "0"]
    _cli_fails(capsys, args, out, "max_new_tokens must be at least 1")


def test_cli_partial_file_of_other_settings(capsys, model_dir, gsm8k_file, tmp_path):
    out = tmp_path / "o.jsonl"
    partial_path(out).write_text(json.dumps({"settings": {"model": "someone/else"}}) + "\n", encoding="utf-8")
    _cli_fails(capsys, _cli_args(model_dir, gsm8k_file, out), out, "was written with other settings")
