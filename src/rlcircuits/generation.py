"""Greedy answers with their exact token ids: the generate stage (DESIGN §1 step 1, §3).

Each question is rendered with the pair's zero-shot template and encoded once with the model's
tokenizer (``add_special_tokens=True``, as vLLM encodes a string prompt). Attribution later
feeds exactly these ids back to the model, so nothing is ever re-tokenised. A record holds:

* ``prompt_token_ids``: the encoded prompt, as given to the model (never padding).
* ``answer_token_ids``: every token the model generated, in order, up to *and including* the
  token that ended the answer, and nothing after it (never padding). That last token is an EOS
  id (the tokenizer's, or any in the model's generation config), a template stop string that
  is one vocabulary token (``<|im_end|>`` in Qwen's vocabulary), or the token whose text
  completes a stop string spelled in pieces (the ``>`` of ``</s>`` in a vocabulary without it).
  This is what vLLM returns as ``CompletionOutput.token_ids``.
* ``finish_reason``: ``"stop"`` when the last answer token ended the answer as above (also
  when it was the last token allowed), else ``"length"`` (``max_new_tokens`` tokens, no stop).
* ``answer``: the answer ids decoded without special tokens, cut before the first stop string.

Stop strings are searched in the text decoded without special tokens, as vLLM does; a stop
string that is one vocabulary token is a stop token as well, so a special token that this text
leaves out (``<|im_end|>``) still ends the answer.

Two backends honour this contract: vLLM (the paper's engine; needs the package and a CUDA GPU)
and transformers ``generate`` (batched, left-padded, KV cache). Both decode purely greedily:
the sampling options and logits processors of a model's generation config (a repetition
penalty, say) are not applied, as vLLM skips them when given explicit sampling parameters.

Runs resume: each finished batch is appended to ``<out>.partial`` (flushed and fsynced) under a
header line holding the settings (and, for a local model folder, a digest of its files); a rerun
with the same settings skips those questions, and ``<out>`` itself appears, atomically, only
once every question is answered.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any, Protocol

import torch
from transformers import GenerationConfig, StoppingCriteria, StoppingCriteriaList

from rlcircuits.errors import InputFormatError, ModelLoadError, RLCircuitsError, SettingsError
from rlcircuits.files import atomic_output
from rlcircuits.models import load_model
from rlcircuits.prompts import Template, get_template

log = logging.getLogger(__name__)

BACKENDS = ("auto", "vllm", "transformers")
FINISH_REASONS = ("stop", "length")
RECORD_KEYS = ("id", "question", "gold", "prompt", "prompt_token_ids", "answer", "answer_token_ids", "finish_reason")
# Keys fixed before any decoding: a resumed record must agree with this run on all of them.
_PROMPT_KEYS = RECORD_KEYS[:5]
# Questions per batch unless given: transformers pads a batch to its longest row; vLLM batches
# on its own, so there a batch only sets how often finished answers are checkpointed.
DEFAULT_BATCH_SIZE = {"transformers": 8, "vllm": 256}
# How many tokens from the end of an answer are decoded to look for a stop string.
_STOP_WINDOW = 64


class GenerationError(RLCircuitsError):
    """Generation cannot run as asked: backend unavailable, or resuming under other settings."""


class QuestionLike(Protocol):
    """What generation reads from a question (rlcircuits.datasets.Question has it)."""

    @property
    def id(self) -> str: ...

    @property
    def question(self) -> str: ...

    @property
    def gold(self) -> str: ...


@dataclass(frozen=True)
class GenerationSettings:
    """Everything that decides the answers; a partial file is resumed only under equal settings."""

    model: str
    revision: str | None
    dtype: str
    backend: str
    template: str
    max_new_tokens: int

    def __post_init__(self) -> None:
        if self.backend not in ("vllm", "transformers"):
            raise ValueError(f"settings need a resolved backend (vllm or transformers), got {self.backend!r}")
        if self.max_new_tokens < 1:
            raise SettingsError(f"max_new_tokens must be at least 1, got {self.max_new_tokens}")
        get_template(self.template)  # an unknown name fails here, before any model is loaded


@dataclass(frozen=True)
class StopRule:
    """What ends an answer: a stop token id, or a stop string in the text without special tokens."""

    token_ids: frozenset[int]
    strings: tuple[str, ...]

    def ends_with_stop(self, tokenizer: Any, answer_ids: Sequence[int]) -> bool:
        """Whether the answer's last token ends it, given that no earlier token did."""
        if not answer_ids:
            return False
        if answer_ids[-1] in self.token_ids:
            return True
        tail = tokenizer.decode(list(answer_ids[-_STOP_WINDOW:]), skip_special_tokens=True)
        return any(stop in tail for stop in self.strings)


def stop_rule(tokenizer: Any, strings: Sequence[str], generation_config: Any) -> StopRule:
    """EOS ids of the tokenizer and of the model's generation config, and one-token stop strings."""
    declared = generation_config.eos_token_id
    ids = set() if declared is None else {declared} if isinstance(declared, int) else set(declared)
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    vocab = tokenizer.get_vocab()
    ids.update(vocab[stop] for stop in strings if stop in vocab)
    return StopRule(frozenset(ids), tuple(strings))


def cut_at_stop(text: str, strings: Sequence[str]) -> str:
    """The text before the first stop string (all of it when there is none)."""
    return text[: min((i for stop in strings if (i := text.find(stop)) >= 0), default=len(text))]


@dataclass(frozen=True)
class Generation:
    """One answer as a backend produced it (see the module docstring for the exact contract)."""

    token_ids: tuple[int, ...]
    finish_reason: str


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

    def __init__(self, rule: StopRule, tokenizer: Any, prompt_width: int, rows: int) -> None:
        self._rule, self._tokenizer, self._width = rule, tokenizer, prompt_width
        self.lengths: list[int | None] = [None] * rows

    def __call__(self, input_ids: torch.LongTensor, scores: Any, **kwargs: Any) -> torch.BoolTensor:
        generated = input_ids.shape[1] - self._width
        tails = input_ids[:, input_ids.shape[1] - min(generated, _STOP_WINDOW) :].tolist()
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
def _plain_greedy(model: Any):
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

    def __init__(self, model: Any, tokenizer: Any, rule: StopRule) -> None:
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

    def __init__(self, settings: GenerationSettings, tokenizer: Any, rule: StopRule, tensor_parallel_size: int) -> None:
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


def resolve_backend(requested: str, device: str) -> str:
    """``auto`` means vLLM where it can run (installed, CUDA GPU, a cuda device asked for), else transformers."""
    if requested not in BACKENDS:
        raise SettingsError(f"unknown backend {requested!r}; choose one of {', '.join(BACKENDS)}")
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


def _generation_config(name_or_path: str, revision: str | None) -> Any:
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
    settings: GenerationSettings, tokenizer: Any, *, device: str = "cpu", tensor_parallel_size: int = 1
) -> Backend:
    """Load the model into the settings' backend, with the stop rule of its template and config."""
    strings = get_template(settings.template).stop
    if settings.backend == "vllm":
        rule = stop_rule(tokenizer, strings, _generation_config(settings.model, settings.revision))
        return VLLMBackend(settings, tokenizer, rule, tensor_parallel_size)
    model = load_model(settings.model, dtype=settings.dtype, device=device, revision=settings.revision)
    return TransformersBackend(model, tokenizer, stop_rule(tokenizer, strings, model.generation_config))


def model_fingerprint(name_or_path: str) -> str | None:
    """Digest of a local model folder's file names, sizes and mtimes; None for a Hub id.

    A model retrained in place keeps its path, and its partial file must not be resumed; a Hub
    model is pinned by its revision instead.
    """
    folder = Path(name_or_path).expanduser()
    if not folder.is_dir():
        return None
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(f"{path.relative_to(folder)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def partial_path(out: str | os.PathLike[str]) -> Path:
    """Where a run keeps its finished records until the output is complete."""
    out = Path(out)
    return out.with_name(out.name + ".partial")


def _jsonl_line(record: Mapping[str, Any]) -> bytes:
    return json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n"


def _is_token_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(t, int) and not isinstance(t, bool) for t in value)


class _PartialFile:
    """``<out>.partial``: a ``{"settings": ...}`` header line, then finished records, batch by batch."""

    def __init__(self, out: Path, settings: GenerationSettings) -> None:
        self.path = partial_path(out)
        self._header = {"settings": {**asdict(settings), "model_files": model_fingerprint(settings.model)}}
        self._valid_bytes = 0
        self._handle: IO[bytes] | None = None

    def __enter__(self) -> _PartialFile:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            self._handle.close()

    def resume(self, expected: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
        """Finished records of this run's questions, by id; a torn last line (killed mid-write) is dropped."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        self._valid_bytes = data.rfind(b"\n") + 1
        lines = data[: self._valid_bytes].split(b"\n")[:-1]
        if not lines:
            return {}
        self._check_header(self._parse(lines[0], 1))
        done: dict[str, dict[str, Any]] = {}
        for lineno, line in enumerate(lines[1:], start=2):
            record = self._check_record(self._parse(line, lineno), lineno, expected)
            if record is None:
                continue
            if record["id"] in done:
                raise InputFormatError(f"{self.path}:{lineno}: question {record['id']} is recorded twice")
            done[record["id"]] = record
        skipped = len(lines) - 1 - len(done)
        if skipped:
            log.info("%s: %d finished record(s) are for questions outside this run; ignored", self.path, skipped)
        return done

    def append(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Add finished records durably: a kill after this returns never loses them."""
        if self._handle is None:
            if self._valid_bytes:
                os.truncate(self.path, self._valid_bytes)  # drop a torn last line before appending
                self._handle = self.path.open("ab")
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._handle = self.path.open("wb")
                self._handle.write(_jsonl_line(self._header))
        self._handle.write(b"".join(_jsonl_line(record) for record in records))
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def _parse(self, line: bytes, lineno: int) -> Any:
        try:
            return json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputFormatError(f"{self.path}:{lineno}: invalid JSON ({exc}); delete it to start over") from None

    def _check_header(self, header: Any) -> None:
        if header == self._header:
            return
        theirs = header.get("settings") if isinstance(header, dict) else None
        if not isinstance(theirs, dict):
            raise InputFormatError(f"{self.path}:1: no settings header; not a partial file of the generate stage")
        ours = self._header["settings"]
        differences = [
            f"{key}: {theirs.get(key)!r} there, {ours.get(key)!r} here"
            for key in sorted(set(ours) | set(theirs))
            if theirs.get(key) != ours.get(key)
        ]
        raise GenerationError(
            f"{self.path} was written with other settings ({'; '.join(differences)}); delete it to start over"
        )

    def _check_record(
        self, record: Any, lineno: int, expected: Mapping[str, Mapping[str, Any]]
    ) -> dict[str, Any] | None:
        """The record in RECORD_KEYS order, or None if its question is not in this run."""
        where = f"{self.path}:{lineno}"
        if not isinstance(record, dict) or set(record) != set(RECORD_KEYS):
            keys = sorted(record) if isinstance(record, dict) else type(record).__name__
            raise InputFormatError(f"{where}: expected a record with keys {', '.join(RECORD_KEYS)}, got {keys}")
        if not isinstance(record["id"], str):
            raise InputFormatError(f"{where}: id must be a string, got {record['id']!r}")
        if record["id"] not in expected:
            return None
        for key in _PROMPT_KEYS:
            if record[key] != expected[record["id"]][key]:
                raise InputFormatError(
                    f"{where}: question {record['id']}: {key} differs from this run's; delete {self.path} to start over"
                )
        ok = (
            isinstance(record["answer"], str)
            and _is_token_list(record["answer_token_ids"])
            and record["finish_reason"] in FINISH_REASONS
        )
        if not ok:
            raise InputFormatError(f"{where}: question {record['id']}: bad answer, answer_token_ids or finish_reason")
        return {key: record[key] for key in RECORD_KEYS}


def _prompt_fields(question: QuestionLike, template: Template, tokenizer: Any) -> dict[str, Any]:
    prompt = template.render(question.question)
    return {
        "id": question.id,
        "question": question.question,
        "gold": question.gold,
        "prompt": prompt,
        "prompt_token_ids": list(tokenizer(prompt, add_special_tokens=True)["input_ids"]),
    }


def _record(fields: Mapping[str, Any], generation: Generation, tokenizer: Any, stop: Sequence[str]) -> dict[str, Any]:
    text = tokenizer.decode(list(generation.token_ids), skip_special_tokens=True)
    return {
        **fields,
        "answer": cut_at_stop(text, stop),
        "answer_token_ids": list(generation.token_ids),
        "finish_reason": generation.finish_reason,
    }


def _progress_bar(total: int, done: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=done, unit="question", desc="generate", disable=not enabled)


def generate_answers(
    questions: Sequence[QuestionLike],
    settings: GenerationSettings,
    *,
    tokenizer: Any,
    load_backend: Callable[[], Backend],
    out: str | os.PathLike[str],
    batch_size: int | None = None,
    progress: bool = False,
) -> list[dict[str, Any]]:
    """Answer every question, resuming from ``<out>.partial``, and write ``<out>`` atomically.

    ``load_backend`` is called only if something is left to answer, after the partial file has
    been checked, so a mismatch is reported before a large model is loaded. Returns the records
    in the order of ``questions``.
    """
    batch_size = DEFAULT_BATCH_SIZE[settings.backend] if batch_size is None else batch_size
    if batch_size < 1:
        raise SettingsError(f"batch size must be at least 1, got {batch_size}")
    if not questions:
        raise SettingsError("no questions to answer")
    ids = [question.id for question in questions]
    repeated = [i for i, count in Counter(ids).items() if count > 1]
    if repeated:
        raise SettingsError(f"duplicate question ids, e.g. {repeated[0]}")
    out = Path(out)
    template = get_template(settings.template)
    fields = {question.id: _prompt_fields(question, template, tokenizer) for question in questions}
    with _PartialFile(out, settings) as partial:
        done = partial.resume(fields)
        pending = [fields[i] for i in ids if i not in done]
        log.info("%d questions: %d already answered in %s, %d to go", len(ids), len(done), partial.path, len(pending))
        if pending:
            _answer(load_backend(), pending, settings, template.stop, tokenizer, partial, done, batch_size, progress)
    records = [done[i] for i in ids]
    with atomic_output(out) as handle:
        handle.write(b"".join(_jsonl_line(record) for record in records))
    partial.path.unlink(missing_ok=True)
    capped = sum(record["finish_reason"] == "length" for record in records)
    log.info("%s: %d answers, %d stopped at max_new_tokens=%d", out, len(records), capped, settings.max_new_tokens)
    return records


def _answer(
    backend: Backend,
    pending: Sequence[Mapping[str, Any]],
    settings: GenerationSettings,
    stop: Sequence[str],
    tokenizer: Any,
    partial: _PartialFile,
    done: dict[str, dict[str, Any]],
    batch_size: int,
    progress: bool,
) -> None:
    """Generate batch by batch, checkpointing each batch before the next one starts."""
    bar = _progress_bar(len(done) + len(pending), len(done), progress)
    started, tokens = time.perf_counter(), 0
    for start in range(0, len(pending), batch_size):
        batch = pending[start : start + batch_size]
        generations = backend.generate([fields["prompt_token_ids"] for fields in batch], settings.max_new_tokens)
        records = [_record(f, g, tokenizer, stop) for f, g in zip(batch, generations, strict=True)]
        partial.append(records)
        done.update((record["id"], record) for record in records)
        tokens += sum(len(g.token_ids) for g in generations)
        bar.update(len(batch))
        bar.set_postfix(tokens_per_s=f"{tokens / (time.perf_counter() - started):.1f}")
    bar.close()
    log.info("generated %d tokens in %.1f s", tokens, time.perf_counter() - started)
