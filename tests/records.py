"""Hand-built stage records (docs/DESIGN.md §3) for the tests: complete, valid, and as the stages write them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def generation(record_id: str, answer: str, gold: str) -> dict[str, Any]:
    """A generations-file record."""
    return {
        "id": record_id,
        "question": f"question {record_id}",
        "gold": gold,
        "prompt": "P",
        "prompt_token_ids": [1, 2],
        "answer": answer,
        "answer_token_ids": [3, 4],
        "finish_reason": "stop",
    }


def graded(record_id: str, correct: bool, grade_status: str = "ok", **changes: Any) -> dict[str, Any]:
    """A graded-file record; ``changes`` replace any key."""
    return {
        **generation(record_id, "\\boxed{1}", "1"),
        "pred": "1",
        "correct": correct,
        "grade_status": grade_status,
        **changes,
    }


def write_lines(path: Path, lines: list[str]) -> Path:
    """A JSON-lines file of the given lines."""
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def write_records(path: Path, records: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_lines(path, [json.dumps(record, ensure_ascii=False) for record in records])
