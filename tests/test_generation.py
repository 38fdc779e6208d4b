"""The generate stage: exact prompt/answer ids, stop handling, batching, resume, backend choice, CLI."""

import dataclasses
import importlib.util
import itertools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from transformers import GenerationConfig

import tiny_models
import tiny_tokenizer
from cli_failure import fails_cleanly
from rlcircuits import generation
from rlcircuits.datasets import Question
from rlcircuits.errors import InputFormatError
from rlcircuits.generation import (
    RECORD_KEYS,
    GenerationError,
    GenerationSettings,
    TransformersBackend,
    cut_at_stop,
    generate_answers,
    model_fingerprint,
    open_backend,
    partial_path,
    resolve_backend,
    stop_rule,
)
from rlcircuits.models import load_model, load_tokenizer
from rlcircuits.prompts import PAPER_STOP
from script_loader import SCRIPTS, load_script

SCRIPT = SCRIPTS / "generate.py"
MAX_NEW = 6
# Prompts of different lengths, so a batch of them is left-padded.
QUESTIONS = [
    Question("q-a", "what is 2+3?", "5"),
    Question("q-b", "add 12 and 30, then halve the sum.", "21"),
    Question("q-c", "is 7 prime?", "yes"),
    Question("q-d", "solve x+1=4 for x, show each step", "3"),
]
CLI = load_script("generate")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return tiny_tokenizer.save_with_model(tiny_models.build("llama"), tmp_path_factory.mktemp("model") / "llama-tiny")


@pytest.fixture(scope="module")
def tokenizer(model_dir):
    return load_tokenizer(str(model_dir))


def _settings(model_dir: Path, **changes) -> GenerationSettings:
    base = GenerationSettings(
        model=str(model_dir), revision=None, dtype="float64", backend="transformers", template="mistral",
        max_new_tokens=MAX_NEW,
    )
    return dataclasses.replace(base, **changes)


@pytest.fixture(scope="module")
def plain_backend(model_dir, tokenizer):
    return open_backend(_settings(model_dir), tokenizer)


def _generate(questions, settings, tokenizer, backend, out: Path, batch_size: int = 4) -> list[dict]:
    return generate_answers(
        questions, settings, tokenizer=tokenizer, load_backend=lambda: backend, out=out, batch_size=batch_size
    )


@pytest.fixture(scope="module")
def plain(model_dir, tokenizer, plain_backend, tmp_path_factory) -> list[dict]:
    """The unmodified model's answers, generated in one left-padded batch."""
    out = tmp_path_factory.mktemp("plain") / "plain.jsonl"
    return _generate(QUESTIONS, _settings(model_dir), tokenizer, plain_backend, out)


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _no_leftovers(out: Path) -> None:
    assert not partial_path(out).exists() and not list(out.parent.glob(".*.tmp"))


def test_records_hold_the_design_keys_and_the_exact_prompt_ids(model_dir, tokenizer, plain_backend, tmp_path):
    out = tmp_path / "generations" / "gsm8k.jsonl"
    records = _generate(QUESTIONS, _settings(model_dir), tokenizer, plain_backend, out)
    assert _read_jsonl(out) == records
    _no_leftovers(out)
    assert [r["id"] for r in records] == [q.id for q in QUESTIONS]
    for record, question in zip(records, QUESTIONS, strict=True):
        assert tuple(record) == RECORD_KEYS
        assert (record["question"], record["gold"]) == (question.question, question.gold)
        assert record["prompt"] == f"[INST] {question.question}[/INST]"
        assert record["prompt_token_ids"] == tokenizer(record["prompt"], add_special_tokens=True)["input_ids"]
        assert record["prompt_token_ids"][:3] == tokenizer.convert_tokens_to_ids(["<s>", "[", "INST"])
        assert tokenizer.decode(record["prompt_token_ids"], skip_special_tokens=True) == record["prompt"]
        assert record["answer"] == tokenizer.decode(record["answer_token_ids"], skip_special_tokens=True)
    assert len({len(r["prompt_token_ids"]) for r in records}) == len(records), "prompts must differ in length"
    assert tokenizer.pad_token is None and len(tokenizer) == tiny_models.VOCAB, "the vocabulary is untouched"


def _forward_argmax(model, ids: list[int]) -> list[int]:
    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0].argmax(-1).tolist()


@pytest.fixture(scope="module")
def forced(model_dir, tokenizer, plain):
    """A model whose EOS logit is 1.001 x that of the token q-a's answer has at step 2: EOS then wins."""
    model = load_model(str(model_dir), dtype="float64")
    chosen = plain[0]["answer_token_ids"][2]
    model.lm_head.weight[tokenizer.eos_token_id] = 1.001 * model.lm_head.weight[chosen]
    return TransformersBackend(model, tokenizer, stop_rule(tokenizer, PAPER_STOP, model.generation_config)), model


def test_feeding_the_ids_back_reproduces_every_greedy_choice(model_dir, tokenizer, forced, tmp_path):
    backend, model = forced
    records = _generate(QUESTIONS, _settings(model_dir), tokenizer, backend, tmp_path / "o.jsonl")
    first = records[0]
    assert first["finish_reason"] == "stop" and first["answer_token_ids"][-1] == tokenizer.eos_token_id
    assert len(first["answer_token_ids"]) <= 3
    for record in records:
        prompt, answer = record["prompt_token_ids"], record["answer_token_ids"]
        choices = _forward_argmax(model, prompt + answer)[len(prompt) - 1 : -1]
        assert choices == answer, record["id"]
        if record["finish_reason"] == "length":
            assert len(answer) == MAX_NEW and tokenizer.eos_token_id not in answer


def test_a_left_padded_batch_equals_one_question_at_a_time(model_dir, tokenizer, forced, tmp_path):
    backend, _ = forced
    batched = _generate(QUESTIONS, _settings(model_dir), tokenizer, backend, tmp_path / "b.jsonl", batch_size=4)
    single = _generate(QUESTIONS, _settings(model_dir), tokenizer, backend, tmp_path / "s.jsonl", batch_size=1)
    assert batched == single
    assert {r["finish_reason"] for r in batched} == {"stop", "length"}, "a row stops while others run on"


def test_a_pad_token_beyond_the_model_vocabulary_is_never_fed(model_dir, plain, tmp_path):
    """A pad token the model never embedded (transformers' Qwen2Tokenizer adds one) must not reach it."""
    padded = load_tokenizer(str(model_dir))
    padded.add_special_tokens({"pad_token": "<pad>"})
    assert padded.pad_token_id == tiny_models.VOCAB
    model = load_model(str(model_dir), dtype="float64")
    backend = TransformersBackend(model, padded, stop_rule(padded, PAPER_STOP, model.generation_config))
    assert _generate(QUESTIONS, _settings(model_dir), padded, backend, tmp_path / "o.jsonl") == plain


def test_sampling_options_of_the_generation_config_are_ignored(model_dir, tokenizer, plain, tmp_path):
    """vLLM with explicit greedy parameters ignores them; so must generate()."""
    model = load_model(str(model_dir), dtype="float64")
    model.generation_config.update(do_sample=True, temperature=0.1, repetition_penalty=5.0, no_repeat_ngram_size=1)
    backend = TransformersBackend(model, tokenizer, stop_rule(tokenizer, PAPER_STOP, model.generation_config))
    assert _generate(QUESTIONS, _settings(model_dir), tokenizer, backend, tmp_path / "o.jsonl") == plain
    assert model.generation_config.repetition_penalty == 5.0, "the model's own config is restored"


def _scripted(model, scripts: list[list[int]]):
    """Row r emits scripts[r][step] at each step of one generate() call (a logit bonus of 1e4)."""
    steps = itertools.count()

    def hook(_module, _args, logits):
        step = next(steps)
        for row, script in enumerate(scripts):
            logits[row, -1, script[step]] += 1e4
        return logits

    model.lm_head.register_forward_hook(hook)


def test_answers_end_at_eos_stop_tokens_stop_strings_or_the_length_cap(model_dir, tokenizer, tmp_path):
    ids = tokenizer.convert_tokens_to_ids
    eos, im_end = ids("</s>"), ids("<|im_end|>")
    limit = 15
    cases = [  # (script, answer_token_ids, answer, finish_reason)
        (ids(list("ok</s>")), ids(list("ok</s>")), "ok", "stop"),  # stop string spelled in 4 tokens
        (ids(list("x<|endoftext|>")), ids(list("x<|endoftext|>")), "x", "stop"),  # 13-character stop string
        (ids(list("hi")) + [im_end], ids(list("hi")) + [im_end], "hi", "stop"),  # one-token stop string
        (ids(list("yo")) + [eos], ids(list("yo")) + [eos], "yo", "stop"),  # EOS
        (ids(list("a" * 14)) + [eos], ids(list("a" * 14)) + [eos], "a" * 14, "stop"),  # EOS as the last token allowed
        (ids(list("abcdefghijklmnopq")), ids(list("abcdefghijklmno")), "abcdefghijklmno", "length"),
    ]
    model = load_model(str(model_dir), dtype="float32")
    filler = ids("z")
    _scripted(model, [script + [filler] * (limit + 1 - len(script)) for script, *_ in cases])
    backend = TransformersBackend(model, tokenizer, stop_rule(tokenizer, PAPER_STOP, model.generation_config))
    questions = [Question(f"s{i}", f"case {i}", "") for i in range(len(cases))]
    out = tmp_path / "o.jsonl"
    records = _generate(questions, _settings(model_dir, max_new_tokens=limit), tokenizer, backend, out, batch_size=6)
    got = [(r["answer_token_ids"], r["answer"], r["finish_reason"]) for r in records]
    assert got == [tuple(expected) for _, *expected in cases]
    _no_leftovers(out)


def test_stop_rule_and_stop_string_cut(tokenizer):
    rule = stop_rule(tokenizer, PAPER_STOP, GenerationConfig(eos_token_id=[2, 7]))
    # EOS of tokenizer and generation config, and the two stop strings that are one token here.
    assert rule.token_ids == {2, 7, tokenizer.convert_tokens_to_ids("<|im_end|>")}
    assert rule.strings == PAPER_STOP
    assert cut_at_stop("x = 1<|endoftext|>y</s>", PAPER_STOP) == "x = 1"
    assert cut_at_stop("no stop here", PAPER_STOP) == "no stop here"


@pytest.mark.parametrize(
    ("requested", "installed", "cuda", "device", "expected"),
    [
        ("auto", False, False, "cpu", "transformers"),
        ("auto", True, False, "cuda", "transformers"),
        ("auto", True, True, "cpu", "transformers"),
        ("auto", True, True, "cuda:0", "vllm"),
        ("transformers", True, True, "cuda", "transformers"),
        ("vllm", True, True, "cuda", "vllm"),
    ],
)
def test_backend_choice(monkeypatch, requested, installed, cuda, device, expected):
    monkeypatch.setattr(generation, "_vllm_installed", lambda: installed)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    assert resolve_backend(requested, device) == expected


def test_auto_without_vllm_or_a_gpu_picks_transformers():
    """The real checks, unpatched: on a machine without vllm or CUDA (CI), auto falls back."""
    runnable = importlib.util.find_spec("vllm") is not None and torch.cuda.is_available()
    assert resolve_backend("auto", "cuda") == ("vllm" if runnable else "transformers")


def test_explicit_vllm_that_cannot_run_is_refused_with_the_reasons(monkeypatch):
    monkeypatch.setattr(generation, "_vllm_installed", lambda: False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(GenerationError, match="vllm package is not installed; no CUDA GPU is visible"):
        resolve_backend("vllm", "cpu")
    with pytest.raises(ValueError, match="unknown backend 'tgi'"):
        resolve_backend("tgi", "cpu")


class _FakeVLLM:
    """Stands in for the vllm package: records how it is called, answers from a script."""

    def __init__(self, answers: list[tuple[list[int], str]]) -> None:
        self.answers, self.init, self.calls = answers, {}, []
        outer = self

        class LLM:
            def __init__(self, **kwargs):
                outer.init = kwargs

            def generate(self, prompts, params, use_tqdm):
                outer.calls.append((prompts, params.kwargs))
                answers = outer.answers[: len(prompts)]
                del outer.answers[: len(prompts)]
                return [SimpleNamespace(outputs=[SimpleNamespace(token_ids=i, finish_reason=r)]) for i, r in answers]

        class SamplingParams:
            def __init__(self, **kwargs):
                self.kwargs = kwargs

        self.module = SimpleNamespace(LLM=LLM, SamplingParams=SamplingParams)


def test_vllm_backend_is_fed_token_ids_and_agrees_on_the_contract(monkeypatch, model_dir, tokenizer, tmp_path):
    ids = tokenizer.convert_tokens_to_ids
    eos, im_end = ids("</s>"), ids("<|im_end|>")
    answers = [
        (ids(list("ab")) + [eos], "stop"),
        (ids(list("ok</s>")), "stop"),  # vLLM cut the text at the stop string, kept the ids
        (ids(list("abcde")) + [eos], "length"),  # vLLM checks the cap before EOS; the contract says stop
        (ids(list("abcdef")), "length"),
    ]
    fake = _FakeVLLM(list(answers))
    monkeypatch.setitem(sys.modules, "vllm", fake.module)
    settings = _settings(model_dir, backend="vllm", dtype="bfloat16", revision="abc123")
    backend = open_backend(settings, tokenizer, tensor_parallel_size=2)
    records = _generate(QUESTIONS, settings, tokenizer, backend, tmp_path / "o.jsonl", batch_size=3)
    assert fake.init == {"model": str(model_dir), "revision": "abc123", "tokenizer_revision": "abc123",
                         "dtype": "bfloat16", "tensor_parallel_size": 2, "seed": 0}
    assert [prompts for prompts, _ in fake.calls] == [
        [{"prompt_token_ids": r["prompt_token_ids"]} for r in records[:3]],
        [{"prompt_token_ids": records[3]["prompt_token_ids"]}],
    ]
    assert fake.calls[0][1] == {"temperature": 0.0, "max_tokens": MAX_NEW, "stop": list(PAPER_STOP),
                                "stop_token_ids": sorted({eos, im_end}), "skip_special_tokens": True}
    got = [(r["answer_token_ids"], r["answer"], r["finish_reason"]) for r in records]
    assert got == [(answers[0][0], "ab", "stop"), (answers[1][0], "ok", "stop"), (answers[2][0], "abcde", "stop"),
                   (answers[3][0], "abcdef", "length")]


def test_vllm_finish_reasons_outside_the_contract_are_refused(monkeypatch, model_dir, tokenizer, tmp_path):
    fake = _FakeVLLM([([5], "abort")])
    monkeypatch.setitem(sys.modules, "vllm", fake.module)
    settings = _settings(model_dir, backend="vllm")
    backend = open_backend(settings, tokenizer)
    with pytest.raises(GenerationError, match="finish_reason 'abort'"):
        _generate(QUESTIONS[:1], settings, tokenizer, backend, tmp_path / "o.jsonl")


def test_vllm_stop_ids_come_from_config_json_without_a_generation_config(monkeypatch, model_dir, tokenizer, tmp_path):
    """vLLM stops at the EOS of generation_config.json, or else of config.json; the rule must know it."""
    copy = Path(shutil.copytree(model_dir, tmp_path / "model"))
    (copy / "generation_config.json").unlink()
    config = json.loads((copy / "config.json").read_text())
    (copy / "config.json").write_text(json.dumps({**config, "eos_token_id": [2, 9]}))
    fake = _FakeVLLM([([9], "stop")])
    monkeypatch.setitem(sys.modules, "vllm", fake.module)
    settings = _settings(copy, backend="vllm")
    _generate(QUESTIONS[:1], settings, tokenizer, open_backend(settings, tokenizer), tmp_path / "o.jsonl")
    assert fake.calls[0][1]["stop_token_ids"] == [2, 3, 9]


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
    return {**dataclasses.asdict(_settings(model_dir, **changes)), "model_files": model_fingerprint(str(model_dir))}


def _killed_run(model_dir, tokenizer, backend, out: Path, settings=None) -> None:
    """Two questions per batch, killed while generating the second batch."""
    with pytest.raises(KeyboardInterrupt):
        _generate(QUESTIONS, settings or _settings(model_dir), tokenizer, _Counting(backend, die_on_call=2), out, 2)


def test_a_killed_run_leaves_no_output_and_a_rerun_answers_only_the_rest(
    model_dir, tokenizer, plain_backend, plain, tmp_path
):
    out = tmp_path / "o.jsonl"
    _killed_run(model_dir, tokenizer, plain_backend, out)
    assert not out.exists() and not list(tmp_path.glob(".*.tmp"))
    lines = _read_jsonl(partial_path(out))
    assert lines[0] == {"settings": _header_settings(model_dir)}
    assert lines[1:] == plain[:2]
    with partial_path(out).open("ab") as handle:  # killed in the middle of writing the next record
        handle.write(b'{"id": "q-c", "question": "is 7')
    counting = _Counting(plain_backend)
    records = _generate(QUESTIONS, _settings(model_dir), tokenizer, counting, out, batch_size=2)
    assert counting.batches == [[r["prompt_token_ids"] for r in plain[2:]]]
    assert records == plain and _read_jsonl(out) == plain
    _no_leftovers(out)


def _refuses_to_resume(model_dir, tokenizer, out: Path, questions, settings, error, match: str) -> None:
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
        model_dir, tokenizer, out, QUESTIONS, _settings(model_dir, max_new_tokens=4), GenerationError,
        r"o\.jsonl\.partial was written with other settings \(max_new_tokens: 6 there, 4 here\)",
    )


def test_resume_after_the_model_folder_changed_is_refused(model_dir, tokenizer, tmp_path):
    """A model retrained in place keeps its path; its old answers must not be resumed."""
    copy = Path(shutil.copytree(model_dir, tmp_path / "model"))
    backend = open_backend(_settings(copy), tokenizer)
    out = tmp_path / "o.jsonl"
    _killed_run(copy, tokenizer, backend, out, _settings(copy))
    weights = copy / "model.safetensors"
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 10**9))
    _refuses_to_resume(copy, tokenizer, out, QUESTIONS, _settings(copy), GenerationError, r"model_files: '\w+' there")


def test_resume_with_a_changed_question_is_refused(model_dir, tokenizer, plain_backend, tmp_path):
    out = tmp_path / "o.jsonl"
    _killed_run(model_dir, tokenizer, plain_backend, out)
    changed = [Question("q-a", "what is 2+4?", "6"), *QUESTIONS[1:]]
    _refuses_to_resume(
        model_dir, tokenizer, out, changed, _settings(model_dir), InputFormatError,
        r"o\.jsonl\.partial:2: question q-a: question differs from this run's",
    )


def test_a_corrupt_complete_line_is_named(model_dir, tokenizer, plain_backend, tmp_path):
    out = tmp_path / "o.jsonl"
    _killed_run(model_dir, tokenizer, plain_backend, out)
    lines = partial_path(out).read_bytes().split(b"\n")
    lines[1] = lines[1][:20]
    partial_path(out).write_bytes(b"\n".join(lines))
    _refuses_to_resume(
        model_dir, tokenizer, out, QUESTIONS, _settings(model_dir), InputFormatError,
        r"o\.jsonl\.partial:2: invalid JSON",
    )


def test_a_complete_partial_file_is_finished_without_loading_the_model(model_dir, tokenizer, plain, tmp_path):
    out = tmp_path / "o.jsonl"
    header = {"settings": _header_settings(model_dir)}
    # Finished out of order, plus a question this run does not ask (a larger --limit earlier).
    extra = {**plain[0], "id": "q-z"}
    rows = [header, plain[3], extra, *plain[:3]]
    partial_path(out).write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")

    def no_model():
        raise AssertionError("the model must not be loaded")

    records = generate_answers(QUESTIONS, _settings(model_dir), tokenizer=tokenizer, load_backend=no_model, out=out)
    assert records == plain and _read_jsonl(out) == plain
    _no_leftovers(out)


def test_duplicate_question_ids_are_refused(model_dir, tokenizer, plain_backend, tmp_path):
    with pytest.raises(ValueError, match="duplicate question ids, e.g. q-a"):
        _generate([QUESTIONS[0], QUESTIONS[0]], _settings(model_dir), tokenizer, plain_backend, tmp_path / "o.jsonl")


# --- the command line -------------------------------------------------------------------------


@pytest.fixture()
def gsm8k_file(tmp_path) -> Path:
    """Three questions in GSM8K's own format (what --data-source local reads)."""
    path = tmp_path / "gsm8k.jsonl"
    rows = [{"question": q.question, "answer": f"work\n#### {q.gold}"} for q in QUESTIONS[:3]]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _cli_args(model_dir, data: Path | None, out: Path, *extra: str) -> list[str]:
    return ["--model", str(model_dir), "--dataset", "gsm8k", *(["--data-path", str(data)] if data else []),
            "--template", "mistral", "--max-new-tokens", str(MAX_NEW), "--dtype", "float64", "--device", "cpu",
            "--out", str(out), "--no-progress", *extra]


def test_cli_writes_the_same_records_as_the_library(model_dir, tokenizer, plain_backend, gsm8k_file, tmp_path):
    out = tmp_path / "generations" / "gsm8k.jsonl"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *_cli_args(model_dir, gsm8k_file, out, "--batch-size", "2", "--limit", "2")],
        capture_output=True, text=True, check=False,
    )
    assert done.returncode == 0, done.stderr
    records = _read_jsonl(out)
    assert [r["id"] for r in records] == ["gsm8k-0000", "gsm8k-0001"]
    questions = [Question(r["id"], q.question, q.gold) for r, q in zip(records, QUESTIONS, strict=False)]
    assert records == _generate(questions, _settings(model_dir), tokenizer, plain_backend, tmp_path / "lib.jsonl")
    _no_leftovers(out)


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
    monkeypatch.setattr(generation, "_vllm_installed", lambda: False)
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
