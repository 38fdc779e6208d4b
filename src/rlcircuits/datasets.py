"""The benchmarks: GSM8K, MATH (or MATH-500) and College Math as (id, question, gold) triples.

The analysis reads test splits; GSM8K's and MATH's train splits feed the paper-scale RL trainer
(``rlcircuits.hub_rl``). A train question's id names its split (``gsm8k-train-0000``), so it can
never be mistaken for the test question of the same line number.

Sources: local JSON-lines files in the formats of ``shared/data`` (fully offline), or the
Hugging Face Hub. College Math has no official Hub release: its "hub" source downloads the
pinned raw file of the Qwen2.5-Math repository and refuses it unless the sha256 matches.

Question ids are stable across sources: GSM8K and College Math come from one fixed file each,
so their ids are line numbers (GSM8K's equal the Qwen harness's ``idx``); MATH copies order
records differently, so MATH and MATH-500 ids hash the problem text (a MATH-500 problem gets
the same id as in MATH).
"""

from __future__ import annotations

import hashlib
import tempfile
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlcircuits.errors import InputFormatError, SettingsError
from rlcircuits.files import iter_jsonl
from rlcircuits.latex import last_boxed
from rlcircuits.options import DATA_FORMATS, DATA_SOURCES, SPLITS, DataFormat, DataSource, Split

# File formats (rlcircuits.options.DATA_FORMATS): the four benchmarks' own, and "qa" ({"id",
# "question", "gold"} per line) for task sets this project generates itself (the mini zoo's).
DATASETS = tuple(name for name in DATA_FORMATS if name != "qa")

MATH_SUBJECTS = (
    "algebra",
    "counting_and_probability",
    "geometry",
    "intermediate_algebra",
    "number_theory",
    "prealgebra",
    "precalculus",
)
COLLEGE_MATH_COMMIT = "a45202bd16f1ec06f433442dc1152d0074773465"
COLLEGE_MATH_URL = f"https://raw.githubusercontent.com/QwenLM/Qwen2.5-Math/{COLLEGE_MATH_COMMIT}/evaluation/data/college_math/test.jsonl"
COLLEGE_MATH_SHA256 = "91131bc4a355b884fc63ef7c4f048c35adb030004a4cb07b1475698f120aa4a6"


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    gold: str


def _math_id(name: str, problem: str) -> str:
    return f"{name}-{hashlib.sha256(problem.encode('utf-8')).hexdigest()[:12]}"


def _field(record: Any, key: str, where: str) -> str:
    if not isinstance(record, dict):
        raise InputFormatError(f"{where}: expected a JSON object")
    value = record.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InputFormatError(f"{where}: missing or empty string field {key!r}")
    return value


def _gsm8k(record: Any, index: int, where: str, prefix: str = "gsm8k") -> Question:
    answer = _field(record, "answer", where)
    if "####" not in answer:
        raise InputFormatError(f"{where}: GSM8K answer has no '####' final-answer line")
    gold = answer.split("####")[-1].strip().replace(",", "")
    return Question(f"{prefix}-{index:04d}", _field(record, "question", where), gold)


def _math(record: Any, _index: int, where: str, _prefix: str = "") -> Question:
    problem = _field(record, "problem", where)
    gold = last_boxed(_field(record, "solution", where))
    if not gold:
        raise InputFormatError(f"{where}: MATH solution has no \\boxed{{}} answer")
    return Question(_math_id("math", problem), problem, gold)


def _math500(record: Any, _index: int, where: str, _prefix: str = "") -> Question:
    problem = _field(record, "problem", where)
    return Question(_math_id("math", problem), problem, _field(record, "answer", where).strip())


def _college_math(record: Any, index: int, where: str, prefix: str = "college_math") -> Question:
    return Question(f"{prefix}-{index:04d}", _field(record, "question", where), _field(record, "answer", where).strip())


def _qa(record: Any, _index: int, where: str, _prefix: str = "") -> Question:
    return Question(
        _field(record, "id", where), _field(record, "question", where), _field(record, "gold", where).strip()
    )


# (record, 0-based index, where, id prefix): GSM8K and College Math ids are the prefix and the line
# number; MATH's hash the problem and qa files carry their own.
_PARSERS: dict[str, Callable[[Any, int, str, str], Question]] = {
    "gsm8k": _gsm8k,
    "math": _math,
    "math500": _math500,
    "college_math": _college_math,
    "qa": _qa,
}


Row = tuple[str, int, Any]  # (where, for messages; 0-based record index; parsed record)


def _read_jsonl(path: Path) -> Iterator[Row]:
    for index, (where, record) in enumerate(iter_jsonl(path, what="dataset file")):
        yield where, index, record


def _hub_rows(name: str, split: Split = "test") -> Iterator[Row]:
    """A split's records from the Hub; MATH joins its seven subject configs in a fixed order."""
    from datasets import load_dataset

    splits = {
        "gsm8k": [("openai/gsm8k", "main")],
        "math": [("EleutherAI/hendrycks_math", subject) for subject in MATH_SUBJECTS],
        "math500": [("HuggingFaceH4/MATH-500", None)],
    }[name]
    index = 0
    for repo, config in splits:
        for row, record in enumerate(load_dataset(repo, config, split=split)):
            yield f"{repo}[{config or 'default'}] {split} row {row}", index, record
            index += 1


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_college_math(dest: Path, url: str = COLLEGE_MATH_URL, sha256: str = COLLEGE_MATH_SHA256) -> Path:
    """Download the pinned College Math file to ``dest`` (kept if already verified)."""
    if dest.is_file() and _sha256(dest) == sha256:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp", delete=False) as tmp:
        tmp_path = Path(tmp.name)
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                for block in iter(lambda: response.read(1 << 20), b""):
                    tmp.write(block)
        except OSError as exc:
            tmp_path.unlink(missing_ok=True)
            raise InputFormatError(f"cannot download College Math from {url}: {exc}") from exc
    actual = _sha256(tmp_path)
    if actual != sha256:
        tmp_path.unlink(missing_ok=True)
        raise InputFormatError(f"{url}: sha256 {actual} differs from the pinned {sha256}; refusing the file")
    tmp_path.replace(dest)
    return dest


def _parse(data_format: DataFormat, rows: Iterator[Row], split: Split) -> list[Question]:
    parse = _PARSERS[data_format]
    prefix = data_format if split == "test" else f"{data_format}-{split}"
    questions: list[Question] = []
    first_seen: dict[str, str] = {}
    for where, index, record in rows:
        question = parse(record, index, where, prefix)
        if question.id in first_seen:
            raise InputFormatError(f"{where}: duplicate problem (id {question.id}, first at {first_seen[question.id]})")
        first_seen[question.id] = where
        questions.append(question)
    return questions


def load_questions(
    name: str,
    *,
    source: DataSource = "local",
    path: str | Path | None = None,
    limit: int | None = None,
    ids: list[str] | None = None,
    cache_dir: str | Path = "data_cache",
    data_format: DataFormat | None = None,
    split: Split = "test",
) -> list[Question]:
    """A benchmark's questions in source order, optionally only ``ids`` and/or the first ``limit``.

    ``source="local"`` reads ``path`` (a file in shared/data's format, or ``data_format="qa"``);
    ``"hub"`` loads the Hub dataset's ``split``, or for College Math the pinned raw test file, under
    ``cache_dir``. A local file is whichever split it holds; ``split`` then only names its ids.
    """
    data_format = data_format or name
    if split not in SPLITS:
        raise SettingsError(f"dataset {name}: unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    if data_format not in DATA_FORMATS:
        raise SettingsError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)} or give a format")
    if source not in DATA_SOURCES:
        raise SettingsError(f"unknown data source {source!r}; choose one of {', '.join(DATA_SOURCES)}")
    if source == "local":
        if path is None:
            raise SettingsError(f"dataset {name}: a local source needs a file path")
        rows = _read_jsonl(Path(path))
    elif data_format == "qa":
        raise SettingsError(f"dataset {name}: the qa format is read from local files only")
    elif split != "test" and data_format not in ("gsm8k", "math"):
        raise SettingsError(f"dataset {name}: the Hub has no {split} split of {data_format} (GSM8K and MATH do)")
    elif data_format == "college_math":
        rows = _read_jsonl(fetch_college_math(Path(cache_dir) / "college_math" / "test.jsonl"))
    else:
        rows = _hub_rows(data_format, split)
    questions = _parse(data_format, rows, split)
    if ids is not None:
        by_id = {question.id: question for question in questions}
        unknown = [i for i in ids if i not in by_id]
        if unknown:
            raise SettingsError(f"dataset {name}: unknown question ids {', '.join(unknown[:5])}")
        questions = [by_id[i] for i in ids]
    if limit is not None:
        if limit < 1:
            raise SettingsError("limit must be positive")
        questions = questions[:limit]
    return questions
