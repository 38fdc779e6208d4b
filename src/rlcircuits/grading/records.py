"""The grade stage on records: each answer's extracted ``pred`` and the pool's verdict on it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tqdm.auto import tqdm

from rlcircuits.contracts import GenerationRecord, GradedRecord
from rlcircuits.grading.extraction import extract_answer
from rlcircuits.grading.pool import JudgePool


def grade_records(
    records: Sequence[Mapping[str, Any]], pool: JudgePool, *, progress: bool = False
) -> list[dict[str, Any]]:
    """Each record (any mapping with ``id``, ``answer``, ``gold``) plus ``pred``, ``correct`` and
    ``grade_status``, in input order; the mini zoo's reward grades bare answers this way too."""
    preds = [extract_answer(record["answer"]) for record in records]
    todo = [i for i, pred in enumerate(preds) if pred is not None]
    with tqdm(
        total=len(records), initial=len(records) - len(todo), unit="answer", desc="grade", disable=not progress
    ) as bar:
        verdicts = pool.judge(
            [(records[i]["id"], preds[i], records[i]["gold"]) for i in todo], on_done=lambda: bar.update(1)
        )
    judged = dict(zip(todo, verdicts, strict=True))
    graded = []
    for index, (record, pred) in enumerate(zip(records, preds, strict=True)):
        correct, status = judged.get(index, (False, "no_answer"))
        graded.append({**record, "pred": pred, "correct": correct, "grade_status": status})
    return graded


def grade_generations(
    records: Sequence[GenerationRecord], pool: JudgePool, *, progress: bool = False
) -> list[GradedRecord]:
    """The grade stage's records: each generation record with its verdict, in input order."""
    graded = grade_records([record.to_json() for record in records], pool, progress=progress)
    return [GradedRecord.from_json(record) for record in graded]
