"""The two backends: exact greedy ids, batching, ignored sampling options, backend choice, vLLM's contract."""

import importlib.util
import json
import shutil
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

import tiny_models
from generation_support import (  # noqa: F401
    MAX_NEW,
    QUESTIONS,
    gen_settings,
    generate,
    model_dir,
    plain,
    plain_backend,
    tokenizer,
    vllm_engine_keywords,
    vllm_settings,
)
from rlcircuits.generation import backends
from rlcircuits.generation.backends import GenerationError, TransformersBackend, open_backend, resolve_backend
from rlcircuits.generation.stopping import stop_rule
from rlcircuits.models import load_model, load_tokenizer
from rlcircuits.prompts import PAPER_STOP


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
    records = generate(QUESTIONS, gen_settings(model_dir), tokenizer, backend, tmp_path / "o.jsonl")
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
    batched = generate(QUESTIONS, gen_settings(model_dir), tokenizer, backend, tmp_path / "b.jsonl", batch_size=4)
    single = generate(QUESTIONS, gen_settings(model_dir), tokenizer, backend, tmp_path / "s.jsonl", batch_size=1)
    assert batched == single
    assert {r["finish_reason"] for r in batched} == {"stop", "length"}, "a row stops while others run on"


def test_a_pad_token_beyond_the_model_vocabulary_is_never_fed(model_dir, plain, tmp_path):
    """A pad token the model never embedded (transformers' Qwen2Tokenizer adds one) must not reach it."""
    padded = load_tokenizer(str(model_dir))
    padded.add_special_tokens({"pad_token": "<pad>"})
    assert padded.pad_token_id == tiny_models.VOCAB
    model = load_model(str(model_dir), dtype="float64")
    backend = TransformersBackend(model, padded, stop_rule(padded, PAPER_STOP, model.generation_config))
    assert generate(QUESTIONS, gen_settings(model_dir), padded, backend, tmp_path / "o.jsonl") == plain


def test_sampling_options_of_the_generation_config_are_ignored(model_dir, tokenizer, plain, tmp_path):
    """vLLM with explicit greedy parameters ignores them; so must generate()."""
    model = load_model(str(model_dir), dtype="float64")
    model.generation_config.update(do_sample=True, temperature=0.1, repetition_penalty=5.0, no_repeat_ngram_size=1)
    backend = TransformersBackend(model, tokenizer, stop_rule(tokenizer, PAPER_STOP, model.generation_config))
    assert generate(QUESTIONS, gen_settings(model_dir), tokenizer, backend, tmp_path / "o.jsonl") == plain
    assert model.generation_config.repetition_penalty == 5.0, "the model's own config is restored"


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
    monkeypatch.setattr(backends, "_vllm_installed", lambda: installed)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    assert resolve_backend(requested, device) == expected


def test_auto_without_vllm_or_a_gpu_picks_transformers():
    """The real checks, unpatched: on a machine without vllm or CUDA (CI), auto falls back."""
    runnable = importlib.util.find_spec("vllm") is not None and torch.cuda.is_available()
    assert resolve_backend("auto", "cuda") == ("vllm" if runnable else "transformers")


def test_explicit_vllm_that_cannot_run_is_refused_with_the_reasons(monkeypatch):
    monkeypatch.setattr(backends, "_vllm_installed", lambda: False)
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
    settings = vllm_settings(model_dir)
    backend = open_backend(settings, tokenizer, tensor_parallel_size=2)
    records = generate(QUESTIONS, settings, tokenizer, backend, tmp_path / "o.jsonl", batch_size=3)
    assert fake.init == vllm_engine_keywords(model_dir)
    assert [prompts for prompts, _ in fake.calls] == [
        [{"prompt_token_ids": r["prompt_token_ids"]} for r in records[:3]],
        [{"prompt_token_ids": records[3]["prompt_token_ids"]}],
    ]
    assert fake.calls[0][1] == {
        "temperature": 0.0,
        "max_tokens": MAX_NEW,
        "stop": list(PAPER_STOP),
        "stop_token_ids": sorted({eos, im_end}),
        "skip_special_tokens": True,
    }
    got = [(r["answer_token_ids"], r["answer"], r["finish_reason"]) for r in records]
    assert got == [
        (answers[0][0], "ab", "stop"),
        (answers[1][0], "ok", "stop"),
        (answers[2][0], "abcde", "stop"),
        (answers[3][0], "abcdef", "length"),
    ]


def test_vllm_finish_reasons_outside_the_contract_are_refused(monkeypatch, model_dir, tokenizer, tmp_path):
    fake = _FakeVLLM([([5], "abort")])
    monkeypatch.setitem(sys.modules, "vllm", fake.module)
    settings = gen_settings(model_dir, backend="vllm")
    backend = open_backend(settings, tokenizer)
    with pytest.raises(GenerationError, match="finish_reason 'abort'"):
        generate(QUESTIONS[:1], settings, tokenizer, backend, tmp_path / "o.jsonl")


def test_vllm_stop_ids_come_from_config_json_without_a_generation_config(monkeypatch, model_dir, tokenizer, tmp_path):
    """vLLM stops at the EOS of generation_config.json, or else of config.json; the rule must know it."""
    copy = Path(shutil.copytree(model_dir, tmp_path / "model"))
    (copy / "generation_config.json").unlink()
    config = json.loads((copy / "config.json").read_text())
    (copy / "config.json").write_text(json.dumps({**config, "eos_token_id": [2, 9]}))
    fake = _FakeVLLM([([9], "stop")])
    monkeypatch.setitem(sys.modules, "vllm", fake.module)
    settings = gen_settings(copy, backend="vllm")
    generate(QUESTIONS[:1], settings, tokenizer, open_backend(settings, tokenizer), tmp_path / "o.jsonl")
    assert fake.calls[0][1]["stop_token_ids"] == [2, 3, 9]
