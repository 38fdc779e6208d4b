"""The two engines that honour the generation contract: vLLM (the paper's) and transformers ``generate``."""

from __future__ import annotations

import contextlib
import importlib.util
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, get_args

import torch
from transformers import GenerationConfig, StoppingCriteria, StoppingCriteriaList

from rlcircuits.contracts import FINISH_REASONS, FinishReason
from rlcircuits.errors import ModelLoadError, RLCircuitsError, SettingsError
from rlcircuits.generation.stopping import STOP_WINDOW, StopRule, Tokenizer, stop_rule
from rlcircuits.models import LoadSettings, load_model
from rlcircuits.options import BACKEND_NAMES, BackendName, Dtype
from rlcircuits.prompts import get_template

log = logging.getLogger(__name__)

# What ``auto`` resolves to: the engine that actually runs.
Engine = Literal["vllm", "transformers"]
ENGINES: tuple[Engine, ...] = get_args(Engine)
# Questions per batch unless given: transformers pads a batch to its longest row; vLLM batches
# on its own, so there a batch only sets how often finished answers are checkpointed.
DEFAULT_BATCH_SIZE: dict[Engine, int] = {"transformers": 8, "vllm": 256}


@dataclass(frozen=True)
class EngineOptions:
    """How the answers are computed, not what they are: the engine, its dtype and its GPUs per model."""

    backend: BackendName = "auto"
    dtype: Dtype = LoadSettings.dtype
    tensor_parallel_size: int = 1


class GenerationError(RLCircuitsError):
    """Generation cannot run as asked: backend unavailable, or resuming under other settings."""


@dataclass(frozen=True)
class GenerationSettings:
    """Everything that decides the answers; a partial file is resumed only under equal settings."""

    model: str
    revision: str | None
    dtype: Dtype
    backend: Engine
    template: str
    max_new_tokens: int

    def __post_init__(self) -> None:
        if self.backend not in ENGINES:
            raise ValueError(f"settings need a resolved backend (vllm or transformers), got {self.backend!r}")
        if self.max_new_tokens < 1:
            raise SettingsError(f"max_new_tokens must be at least 1, got {self.max_new_tokens}")
        get_template(self.template)  # an unknown name fails here, before any model is loaded


@dataclass(frozen=True)
class Generation:
    """One answer as a backend produced it (see rlcircuits.generation for the exact contract)."""

    token_ids: tuple[int, ...]
    finish_reason: FinishReason


class Backend(Protocol):
    def generate(self, prompts: Sequence[Sequence[int]], max_new_tokens: int) -> list[Generation]:
        """One greedy answer per prompt (token ids), in the prompts' order."""
        ...


def _left_pad(rows: Sequence[Sequence[int]], pad_id: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-align the rows, since a decoder-only model continues from the last column; mask the pad."""
    width = max(len(row) for row in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
    for index, row in enumerate(rows):
        input_ids[index, width - len(row) :] = torch.tensor(row, dtype=torch.long)
        attention_mask[index, width - len(row) :] = 1
    return input_ids.to(device), attention_mask.to(device)


class _StopTracker(StoppingCriteria):
    """Ends each row at its first stop and remembers how many tokens it had then.

    generate() keeps decoding finished rows until all are done (and may pad them); the recorded
    lengths cut those tokens off, so nothing after a stop reaches a record.
    """

    def __init__(self, rule: StopRule, tokenizer: Tokenizer, prompt_width: int, rows: int) -> None:
        self._rule, self._tokenizer, self._width = rule, tokenizer, prompt_width
        self.lengths: list[int | None] = [None] * rows

    def __call__(self, input_ids: torch.LongTensor, scores: Any, **kwargs: Any) -> torch.BoolTensor:
        generated = input_ids.shape[1] - self._width
        tails = input_ids[:, input_ids.shape[1] - min(generated, STOP_WINDOW) :].tolist()
        for row, tail in enumerate(tails):
            if self.lengths[row] is None and self._rule.ends_with_stop(self._tokenizer, tail):
                self.lengths[row] = generated
        return torch.tensor([length is not None for length in self.lengths], device=input_ids.device)

    def generation(self, row: int, new_tokens: Sequence[int]) -> Generation:
        length = self.lengths[row]
        if length is None:  # generate() ran to max_new_tokens
            return Generation(tuple(new_tokens), "length")
        return Generation(tuple(new_tokens[:length]), "stop")


@contextlib.contextmanager
def _plain_greedy(model: Any) -> Iterator[None]:
    """generate() fills every option left unset from model.generation_config (repetition penalty,
    no-repeat n-grams, EOS ids); vLLM given explicit sampling parameters applies none of them."""
    saved = model.generation_config
    model.generation_config = GenerationConfig()
    try:
        yield
    finally:
        model.generation_config = saved


class TransformersBackend:
    """Batched greedy decoding with transformers: left-padded rows and the KV cache."""

    def __init__(self, model: Any, tokenizer: Tokenizer, rule: StopRule) -> None:
        self._model, self._tokenizer, self._rule = model, tokenizer, rule
        # Padding is masked, so any id the model embeds will do. EOS is one; the tokenizer's pad token
        # may be missing (Llama), or an added token beyond the model's embedding, and is not used.
        self._pad_id = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else 0

    def generate(self, prompts: Sequence[Sequence[int]], max_new_tokens: int) -> list[Generation]:
        input_ids, attention_mask = _left_pad(prompts, self._pad_id, self._model.device)
        tracker = _StopTracker(self._rule, self._tokenizer, input_ids.shape[1], len(prompts))
        config = GenerationConfig(max_new_tokens=max_new_tokens, do_sample=False, num_beams=1, use_cache=True)
        with _plain_greedy(self._model), torch.no_grad():
            output = self._model.generate(
                input_ids=input_ids,
                attention_mask=attention_mask,
                generation_config=config,
                stopping_criteria=StoppingCriteriaList([tracker]),
            )
        new_tokens = output[:, input_ids.shape[1] :].tolist()
        return [tracker.generation(row, tokens) for row, tokens in enumerate(new_tokens)]


class VLLMBackend:
    """The paper's engine. It is handed token ids, so it never tokenises a prompt itself."""

    def __init__(
        self, settings: GenerationSettings, tokenizer: Tokenizer, rule: StopRule, tensor_parallel_size: int
    ) -> None:
        from vllm import LLM

        self._tokenizer, self._rule = tokenizer, rule
        self._llm = LLM(
            model=settings.model,
            revision=settings.revision,
            tokenizer_revision=settings.revision,
            dtype=settings.dtype,
            tensor_parallel_size=tensor_parallel_size,
            seed=0,
        )

    def generate(self, prompts: Sequence[Sequence[int]], max_new_tokens: int) -> list[Generation]:
        from vllm import SamplingParams

        params = SamplingParams(
            temperature=0.0,
            max_tokens=max_new_tokens,
            stop=list(self._rule.strings),
            stop_token_ids=sorted(self._rule.token_ids),
            skip_special_tokens=True,
        )
        outputs = self._llm.generate([{"prompt_token_ids": list(p)} for p in prompts], params, use_tqdm=False)
        return [self._generation(output.outputs[0]) for output in outputs]

    def _generation(self, completion: Any) -> Generation:
        if completion.finish_reason not in FINISH_REASONS:
            raise GenerationError(f"vLLM ended an answer with finish_reason {completion.finish_reason!r}")
        ids = tuple(completion.token_ids)
        # vLLM tests the length cap before EOS: a stop on the last allowed token reads "length" there.
        stopped = completion.finish_reason == "stop" or self._rule.ends_with_stop(self._tokenizer, ids)
        return Generation(ids, "stop" if stopped else "length")


def _vllm_installed() -> bool:
    return importlib.util.find_spec("vllm") is not None


def resolve_backend(requested: BackendName, device: str) -> Engine:
    """``auto`` means vLLM where it can run (installed, CUDA GPU, a cuda device asked for), else transformers."""
    if requested not in BACKEND_NAMES:
        raise SettingsError(f"unknown backend {requested!r}; choose one of {', '.join(BACKEND_NAMES)}")
    if requested == "transformers":
        return requested
    missing = [
        reason
        for reason, ok in (
            ("the vllm package is not installed", _vllm_installed()),
            ("no CUDA GPU is visible", torch.cuda.is_available()),
            (f"the device is {device!r}, not cuda", device.startswith("cuda")),
        )
        if not ok
    ]
    if not missing:
        return "vllm"
    if requested == "vllm":
        raise GenerationError(f"backend vllm is unavailable: {'; '.join(missing)} (use --backend transformers or auto)")
    log.info("vLLM unavailable (%s): generating with transformers", "; ".join(missing))
    return "transformers"


def _generation_config(name_or_path: str, revision: str | None) -> GenerationConfig:
    """The generation config transformers attaches to the model (vLLM reads the same files)."""
    from transformers import AutoConfig

    try:
        try:
            return GenerationConfig.from_pretrained(name_or_path, revision=revision)
        except OSError:  # no generation_config.json: derived from config.json, as from_pretrained does
            return GenerationConfig.from_model_config(AutoConfig.from_pretrained(name_or_path, revision=revision))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"cannot read the generation config of {name_or_path!r}: {exc}") from exc


def open_backend(
    settings: GenerationSettings,
    tokenizer: Tokenizer,
    *,
    device: str = "cpu",
    tensor_parallel_size: int = EngineOptions.tensor_parallel_size,
) -> Backend:
    """Load the model into the settings' backend, with the stop rule of its template and config."""
    strings = get_template(settings.template).stop
    if settings.backend == "vllm":
        rule = stop_rule(tokenizer, strings, _generation_config(settings.model, settings.revision))
        return VLLMBackend(settings, tokenizer, rule, tensor_parallel_size)
    model = load_model(settings.model, dtype=settings.dtype, device=device, revision=settings.revision)
    return TransformersBackend(model, tokenizer, stop_rule(tokenizer, strings, model.generation_config))
