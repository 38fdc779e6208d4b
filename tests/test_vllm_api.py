"""The vLLM backend against the installed vLLM's real API, without a GPU (the container lane of .ci/run).

vLLM 0.9.0.1 is a CUDA build, but its Python API imports on a CPU-only machine: SamplingParams,
the TokensPrompt type, RequestOutput and CompletionOutput are the real ones here, and SamplingParams
validates its arguments for real. Only the engine's run needs a GPU; it is replaced by a stand-in that
accepts exactly what the real ``LLM.__init__`` and ``LLM.generate`` signatures name (not their
``**kwargs``) and answers with real output objects built by keyword. So a renamed keyword, field or
prompt key fails CI, not a reviewer's GPU run. What a signature cannot show is read from the package:
the engine arguments behind ``LLM(**kwargs)``, the dtype names, the finish reasons.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
import typing
from importlib import metadata
from pathlib import Path

import pytest
import torch

from generation_support import model_dir, tokenizer, vllm_engine_keywords, vllm_settings  # noqa: F401
from rlcircuits.contracts import FINISH_REASONS
from rlcircuits.datasets import Question
from rlcircuits.generation.answers import generate_answers
from rlcircuits.generation.backends import (
    GenerationError,
    _vllm_installed,
    open_backend,
    resolve_backend,
)
from rlcircuits.models import DTYPES
from rlcircuits.prompts import PAPER_STOP

pytestmark = pytest.mark.container_lane

REPO = Path(__file__).resolve().parents[1]
QUESTIONS = [Question("q-a", "what is 2+3?", "5"), Question("q-b", "is 7 prime?", "yes")]


@pytest.fixture(scope="module")
def vllm():
    return importlib.import_module("vllm")


def _bind_named(function, *args, **kwargs) -> inspect.BoundArguments:
    """Bind to the parameters a signature names; its ``**kwargs`` catch-all does not count."""
    signature = inspect.signature(function)
    named = [p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    return signature.replace(parameters=named).bind(*args, **kwargs)


class _Engine:
    """What the backend did with vLLM: the LLM's constructor keywords, each generate call's arguments."""

    def __init__(self, vllm, answers: list[tuple[list[int], str]]) -> None:
        self.answers, self.init, self.calls = list(answers), None, []
        engine, real = self, vllm.LLM

        class CheckedLLM:
            def __init__(self, *args, **kwargs):  # no engine start: it needs CUDA
                engine.init = _bind_named(real.__init__, self, *args, **kwargs).arguments

            def generate(self, *args, **kwargs):
                bound = _bind_named(real.generate, self, *args, **kwargs).arguments
                engine.calls.append(bound)
                return [engine.output(vllm, i, prompt) for i, prompt in enumerate(bound["prompts"])]

        self.llm = CheckedLLM

    def output(self, vllm, index: int, prompt: dict):
        token_ids, reason = self.answers.pop(0)
        completion = vllm.outputs.CompletionOutput(
            index=0,
            text="",
            token_ids=token_ids,
            cumulative_logprob=None,
            logprobs=None,
            finish_reason=reason,
            stop_reason=None,
        )
        return vllm.outputs.RequestOutput(
            request_id=str(index),
            prompt=None,
            prompt_token_ids=prompt["prompt_token_ids"],
            prompt_logprobs=None,
            outputs=[completion],
            finished=True,
        )


@pytest.fixture
def run(vllm, monkeypatch, model_dir, tokenizer, tmp_path):
    """Generate QUESTIONS through the vLLM backend; returns the records and what the engine was given."""

    def generate(answers, dtype="bfloat16"):
        engine = _Engine(vllm, answers)
        monkeypatch.setattr(vllm, "LLM", engine.llm)
        settings = vllm_settings(model_dir, dtype)
        records = generate_answers(
            QUESTIONS,
            settings,
            tokenizer=tokenizer,
            out=tmp_path / f"{dtype}.jsonl",
            load_backend=lambda: open_backend(settings, tokenizer, tensor_parallel_size=2),
        )
        return records, engine

    return generate


def _pins() -> dict[str, str]:
    lines = (REPO / "envs" / "requirements-gpu.txt").read_text().splitlines()
    return dict(line.split("==") for line in (line.split("#")[0].strip() for line in lines) if line)


def test_the_lane_runs_the_images_pin_set():
    """Every line of envs/requirements-gpu.txt is what is installed, so the checks below are vLLM 0.9.0.1's."""
    wrong = {name: (pin, metadata.version(name)) for name, pin in _pins().items() if metadata.version(name) != pin}
    assert not wrong, f"installed versions differ from envs/requirements-gpu.txt (pin, installed): {wrong}"


def test_engine_and_sampling_parameters_are_vllms_own(run, vllm, tokenizer, model_dir):
    ids = tokenizer.convert_tokens_to_ids
    eos = ids("</s>")
    records, engine = run([(ids(list("ab")) + [eos], "stop"), (ids(list("abcdef")), "length")])
    assert {k: v for k, v in engine.init.items() if k != "self"} == vllm_engine_keywords(model_dir)
    fields = {field.name for field in dataclasses.fields(vllm.EngineArgs)}
    assert set(engine.init) - {"self"} <= fields, "LLM hands these to EngineArgs, which must know them"
    (call,) = engine.calls
    params = call["sampling_params"]
    assert isinstance(params, vllm.SamplingParams)
    assert params.sampling_type == vllm.sampling_params.SamplingType.GREEDY and params.n == 1
    assert (params.max_tokens, params.stop, params.stop_token_ids) == (6, list(PAPER_STOP), [eos, ids("<|im_end|>")])
    assert params.skip_special_tokens and not params.include_stop_str_in_output and not params.ignore_eos
    assert call["use_tqdm"] is False
    assert [(r.answer, r.finish_reason) for r in records] == [("ab", "stop"), ("abcdef", "length")]


def test_prompts_are_vllms_token_ids_prompt_type(run, vllm, tokenizer):
    records, engine = run([([5], "stop"), ([6], "stop")])
    prompt_type = vllm.inputs.TokensPrompt
    for prompt, record in zip(engine.calls[0]["prompts"], records, strict=True):
        allowed = prompt_type.__required_keys__ | prompt_type.__optional_keys__
        assert prompt_type.__required_keys__ <= set(prompt) <= allowed
        assert prompt == prompt_type(prompt_token_ids=list(record.prompt_token_ids))


def test_every_dtype_but_float64_is_one_vllm_takes(vllm):
    """float64 exists for the exactness tests' references; vLLM refuses it itself, before loading a model."""
    accepted = set(typing.get_args(inspect.signature(vllm.LLM.__init__).parameters["dtype"].annotation))
    assert set(DTYPES) - accepted == {"float64"}, accepted


def test_the_backends_finish_reasons_are_vllms_and_the_others_are_refused(run, vllm):
    from vllm.v1.engine import FINISH_REASON_STRINGS

    others = set(FINISH_REASON_STRINGS) - set(FINISH_REASONS)
    assert set(FINISH_REASONS) <= set(FINISH_REASON_STRINGS) and others == {"abort"}
    with pytest.raises(GenerationError, match="finish_reason 'abort'"):
        run([([5], "abort"), ([6], "stop")])


def test_output_fields_the_backend_reads_exist_in_vllm(vllm):
    """Read: RequestOutput.outputs; CompletionOutput.token_ids and .finish_reason (also built by keyword above)."""
    completion_fields = {field.name for field in dataclasses.fields(vllm.outputs.CompletionOutput)}
    assert {"token_ids", "finish_reason"} <= completion_fields
    assert "outputs" in inspect.signature(vllm.outputs.RequestOutput.__init__).parameters
    source = inspect.getsource(vllm.outputs.RequestOutput.__init__)
    assert re.search(r"self\.outputs\s*=\s*outputs", source), "RequestOutput no longer stores .outputs as given"


def test_auto_finds_the_installed_vllm_and_falls_back_without_cuda():
    """Unpatched: the package is found; without a GPU (CI) auto picks transformers, and refuses vllm for that alone."""
    assert _vllm_installed()
    if torch.cuda.is_available():
        assert resolve_backend("auto", "cuda") == "vllm"
        return
    assert resolve_backend("auto", "cuda") == "transformers"
    with pytest.raises(GenerationError, match=r"unavailable: no CUDA GPU is visible \(use"):
        resolve_backend("vllm", "cuda")
