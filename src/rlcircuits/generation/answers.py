"""The generate stage: answer every question, resuming from ``<out>.partial``, and write ``<out>``."""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from tqdm.auto import tqdm

from rlcircuits.contracts import GenerationRecord, write_generations
from rlcircuits.errors import SettingsError
from rlcircuits.generation.backends import DEFAULT_BATCH_SIZE, Backend, Generation, GenerationSettings
from rlcircuits.generation.resumable import PartialFile
from rlcircuits.generation.stopping import Tokenizer, cut_at_stop
from rlcircuits.prompts import Template, get_template

log = logging.getLogger(__name__)


class QuestionLike(Protocol):
    """What generation reads from a question (rlcircuits.datasets.Question has it)."""

    @property
    def id(self) -> str: ...

    @property
    def question(self) -> str: ...

    @property
    def gold(self) -> str: ...


def _prompt_fields(question: QuestionLike, template: Template, tokenizer: Tokenizer) -> dict[str, Any]:
    """The record's keys fixed before decoding, as written (token ids a list)."""
    prompt = template.render(question.question)
    return {
        "id": question.id,
        "question": question.question,
        "gold": question.gold,
        "prompt": prompt,
        "prompt_token_ids": list(tokenizer(prompt, add_special_tokens=True)["input_ids"]),
    }


def _record(
    fields: Mapping[str, Any], generation: Generation, tokenizer: Tokenizer, stop: Sequence[str]
) -> GenerationRecord:
    text = tokenizer.decode(list(generation.token_ids), skip_special_tokens=True)
    return GenerationRecord(
        id=fields["id"],
        question=fields["question"],
        gold=fields["gold"],
        prompt=fields["prompt"],
        prompt_token_ids=tuple(fields["prompt_token_ids"]),
        answer=cut_at_stop(text, stop),
        answer_token_ids=generation.token_ids,
        finish_reason=generation.finish_reason,
    )


def generate_answers(
    questions: Sequence[QuestionLike],
    settings: GenerationSettings,
    *,
    tokenizer: Tokenizer,
    load_backend: Callable[[], Backend],
    out: str | os.PathLike[str],
    batch_size: int | None = None,
    progress: bool = False,
) -> list[GenerationRecord]:
    """Answer every question, resuming from ``<out>.partial``, and write ``<out>`` atomically.

    ``load_backend`` is called only if something is left to answer, after the partial file has
    been checked, so a mismatch is reported before a large model is loaded. Returns the records
    in the order of ``questions``.
    """
    return generate_datasets(
        [(questions, out)],
        settings,
        tokenizer=tokenizer,
        load_backend=load_backend,
        batch_size=batch_size,
        progress=progress,
    )[0]


def generate_datasets(
    tasks: Sequence[tuple[Sequence[QuestionLike], str | os.PathLike[str]]],
    settings: GenerationSettings,
    *,
    tokenizer: Tokenizer,
    load_backend: Callable[[], Backend],
    batch_size: int | None = None,
    progress: bool = False,
) -> list[list[GenerationRecord]]:
    """Answer several question sets (``(questions, out)`` each) with one backend, loaded at most once.

    Every set resumes from and checkpoints to its own ``<out>.partial``, all checked before the
    model is loaded. A finished set stays in its partial file until every set is finished: a job
    that fails on a later set (and whose declared outputs Snakemake then deletes) keeps all its
    finished answers for the rerun. Then every ``<out>`` is written atomically, and only after
    that are the partial files removed, so a kill in between loses nothing either. Returns each
    set's records in the order of its questions.
    """
    batch_size = DEFAULT_BATCH_SIZE[settings.backend] if batch_size is None else batch_size
    if batch_size < 1:
        raise SettingsError(f"batch size must be at least 1, got {batch_size}")
    outs = [Path(out) for _, out in tasks]
    if len(set(outs)) != len(outs):
        raise SettingsError(f"two question sets would be written to the same file: {', '.join(map(str, outs))}")
    template = get_template(settings.template)
    backend: Backend | None = None
    with contextlib.ExitStack() as stack:
        plans = []
        for (questions, _), out in zip(tasks, outs, strict=True):
            fields = _question_fields(questions, template, tokenizer)
            partial = stack.enter_context(PartialFile(out, settings))
            done = partial.resume(fields)
            log.info(
                "%d questions: %d already answered in %s, %d to go",
                len(fields),
                len(done),
                partial.path,
                len(fields) - len(done),
            )
            plans.append((out, fields, partial, done))
        for out, fields, partial, done in plans:
            pending = [record for i, record in fields.items() if i not in done]
            if pending:
                backend = load_backend() if backend is None else backend
                label = f"generate {out.stem}" if progress else None
                _answer(backend, pending, settings, template.stop, tokenizer, partial, done, batch_size, label)
    results = [[done[i] for i in fields] for _, fields, _, done in plans]
    for out, records in zip(outs, results, strict=True):
        write_generations(out, records)
    for _, _, partial, _ in plans:
        partial.path.unlink(missing_ok=True)
    for out, records in zip(outs, results, strict=True):
        capped = sum(record.finish_reason == "length" for record in records)
        log.info("%s: %d answers, %d stopped at max_new_tokens=%d", out, len(records), capped, settings.max_new_tokens)
    return results


def _question_fields(
    questions: Sequence[QuestionLike], template: Template, tokenizer: Tokenizer
) -> dict[str, dict[str, Any]]:
    """Each question's prompt fields by id, in question order; no questions or a repeated id is refused."""
    if not questions:
        raise SettingsError("no questions to answer")
    ids = [question.id for question in questions]
    repeated = [i for i, count in Counter(ids).items() if count > 1]
    if repeated:
        raise SettingsError(f"duplicate question ids, e.g. {repeated[0]}")
    return {question.id: _prompt_fields(question, template, tokenizer) for question in questions}


def _answer(
    backend: Backend,
    pending: Sequence[Mapping[str, Any]],
    settings: GenerationSettings,
    stop: Sequence[str],
    tokenizer: Tokenizer,
    partial: PartialFile,
    done: dict[str, GenerationRecord],
    batch_size: int,
    progress: str | None,
) -> None:
    """Generate batch by batch, checkpointing each batch before the next one starts; ``progress`` labels the bar."""
    bar = tqdm(
        total=len(done) + len(pending), initial=len(done), unit="question", desc=progress, disable=progress is None
    )
    started, tokens = time.perf_counter(), 0
    for start in range(0, len(pending), batch_size):
        batch = pending[start : start + batch_size]
        generations = backend.generate([fields["prompt_token_ids"] for fields in batch], settings.max_new_tokens)
        records = [_record(f, g, tokenizer, stop) for f, g in zip(batch, generations, strict=True)]
        partial.append(records)
        done.update((record.id, record) for record in records)
        tokens += sum(len(g.token_ids) for g in generations)
        bar.update(len(batch))
        bar.set_postfix(tokens_per_s=f"{tokens / (time.perf_counter() - started):.1f}")
    bar.close()
    log.info("generated %d tokens in %.1f s", tokens, time.perf_counter() - started)
