"""Grading (DESIGN §1 step 2): extract each answer's final result and judge it against the gold.

Extraction, first rule that yields something: the last ``\\boxed{}``; the sentence after the
last "The answer is" (Mistral/Math-Shepherd style, its "ки" step tag stripped); the sentence
after the last "final answer is"; the last number in the answer (thousands commas dropped).

Equivalence is math-verify's, on both sides presented as one LaTeX math expression (``as_latex``)
and with the equations it misjudges read as their right side (``_equations_as_values``:
``\\log_6(216)=3`` is 3; math-verify would call any two such equations equal).

math-verify can hang on pathological input (``9^{9^{9^{9}}}``) and its own timeouts use SIGALRM,
so every comparison runs in a worker process with math-verify's timeouts off, and the parent
enforces one hard limit per answer by killing and replacing a worker that overruns it. Such an
answer is counted wrong and logged with its record id. Results keep input order whatever the
order in which workers finish.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

import math_verify
import pandas as pd
import sympy
from tqdm.auto import tqdm

from rlcircuits.errors import InputFormatError, SettingsError
from rlcircuits.files import atomic_output, iter_jsonl
from rlcircuits.latex import last_boxed

log = logging.getLogger(__name__)

# DESIGN §3: what `generate` writes (rlcircuits.generation.RECORD_KEYS; not imported, since
# that module needs torch and grading must not).
GENERATION_KEYS = ("id", "question", "gold", "prompt", "prompt_token_ids", "answer", "answer_token_ids", "finish_reason")
ROLES = ("base", "rl")
# grade_status: "ok" judged by math-verify; "no_answer" nothing extracted; "timeout" over the
# hard limit; "crashed" the worker died (e.g. a native crash in sympy). All but "ok" are wrong.
STATUSES = ("ok", "no_answer", "timeout", "crashed")
TABLE4_COLUMNS = ("pair", "role", "dataset", "n", "n_correct", "accuracy_pct", "no_answer", "timeouts", "crashed")

_MARKERS = (re.compile(r"the answer is", re.IGNORECASE), re.compile(r"final answer is", re.IGNORECASE))
_STEP_TAG = "ки"
# A number, with thousands commas only in groups of three ("2,125"; "1,2" is two numbers).
_NUMBER = r"-?(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?|-?\.\d+"
_NUMBER_RE = re.compile(_NUMBER)
# "18 dollars": a number, then only words of two or more letters (not "9 x", a product), which
# math-verify would read as a product of single-letter symbols.
_NUMBER_THEN_WORDS = re.compile(rf"({_NUMBER})(?:\s+[A-Za-z]{{2,}})+\.?")
_UNESCAPED_DOLLAR = re.compile(r"(?<!\\)\$")
_MATH_DELIMITER = re.compile(r"\$\$|(?<!\\)\$")  # display math first
# Plain words: letters, spaces and punctuation, at least one word of two or more letters.
_PROSE = re.compile(r"(?=.*[A-Za-z]{2})[A-Za-z\s.,;:!?'()-]+", re.DOTALL)


# --- extraction -------------------------------------------------------------------------------


def _after_marker(text: str, marker: re.Pattern[str]) -> str | None:
    """The sentence after the last ``marker``: up to a line break or a period ending a sentence."""
    matches = list(marker.finditer(text))
    if not matches:
        return None
    rest = text[matches[-1].end() :].lstrip(" \t:")
    sentence = re.split(r"\n|\.\s", rest, maxsplit=1)[0].strip()
    sentence = sentence.removesuffix(_STEP_TAG).strip().removesuffix(".").strip()
    return sentence or None


def _last_number(text: str) -> str | None:
    numbers = _NUMBER_RE.findall(text)
    return numbers[-1].replace(",", "") if numbers else None


def _strip_words(text: str) -> str:
    """``18 dollars`` -> ``18``; anything else unchanged."""
    match = _NUMBER_THEN_WORDS.fullmatch(text)
    return match.group(1) if match else text


def _candidates(text: str) -> Iterator[str | None]:
    """The extraction rules in order, each evaluated only if the ones before found nothing."""
    yield last_boxed(text)
    for marker in _MARKERS:
        yield _after_marker(text, marker)
    yield _last_number(text)


def extract_answer(text: str) -> str | None:
    """The model's final answer as a string, or None if no rule finds one (see module doc)."""
    return next((pred for pred in _candidates(text) if pred), None)


# --- equivalence ------------------------------------------------------------------------------


def _math_or_text(text: str) -> str:
    """Plain words ("Yes", "no solution") as ``\\text{}``; anything else is math, unchanged."""
    return f"\\text{{{text}}}" if _PROSE.fullmatch(text) else text


def as_latex(text: str) -> str:
    """``text`` as one LaTeX math expression ``$…$``, the form math-verify parses reliably.

    Unwrapped, math-verify reads ``3\\sqrt{13}`` as 3 (DESIGN §6); of several ``$…$`` segments it
    keeps one (``$56x^6+…+$ $60x^2+…$``, a gold broken over two lines). So the math segments are
    joined, with plain words between them as ``\\text{}`` (math-verify reads " and " as a list).
    A number followed by words ("18 dollars") is the number; an unpaired ``$`` is a currency sign.
    """
    text = _strip_words(text.strip())
    parts = _MATH_DELIMITER.split(text)
    if len(parts) % 2 == 0 or len(parts) == 1:  # no delimiters, or an odd number of them
        unpaired = _UNESCAPED_DOLLAR.sub(r"\\$", text)
        return f"${_math_or_text(unpaired)}$"
    joined = "".join(part if index % 2 else _math_or_text(part) for index, part in enumerate(parts))
    return f"${joined.strip()}$"


def _equations_as_values(expr: Any, top: bool = True) -> Any:
    """Equations math-verify misjudges, replaced by their right side; anything else unchanged.

    For two equations math-verify falls back to comparing their solutions, and two equations
    with none are "equal" whatever they say. So a closed equation (``\\log_6(216)=3``, no free
    symbols) is its value, also inside sets and tuples; and at the top level "name = expression"
    (``y = …``, or ``I = …`` where the parser reads a current I as the imaginary unit) is the
    expression, as math-verify itself reads a gold assignment against a plain value. Not inside
    sets, whose names tell x = 1, y = 2 from x = 2, y = 1.
    """
    if isinstance(expr, sympy.Eq):
        if not expr.free_symbols or (top and (isinstance(expr.lhs, sympy.Symbol) or expr.lhs == sympy.I)):
            return expr.rhs
    if isinstance(expr, sympy.FiniteSet | sympy.Tuple):
        return expr.func(*(_equations_as_values(arg, top=False) for arg in expr.args))
    return expr


def _parse(text: str) -> list[Any]:
    return math_verify.parse(as_latex(text), parsing_timeout=None)


def _assigned_names(parsed: list[Any]) -> set[Any]:
    """Symbols a top-level "name = expression" assigns (``y_2`` of ``y_2 = x ln x``)."""
    return {e.lhs for e in parsed if isinstance(e, sympy.Eq) and isinstance(e.lhs, sympy.Symbol)}


def is_equivalent(pred: str, gold: str) -> bool:
    """math-verify's judgement, its SIGALRM timeouts off: only call it under a hard limit.

    Assignments are compared by value (see ``_equations_as_values``), but only when they assign
    the same name: ``y_3 = x ln x`` does not answer ``y_2 = x ln x``.
    """
    gold_parsed, pred_parsed = _parse(gold), _parse(pred)
    gold_names, pred_names = _assigned_names(gold_parsed), _assigned_names(pred_parsed)
    if gold_names and pred_names and not gold_names & pred_names:
        return False
    return math_verify.verify(
        [_equations_as_values(e) for e in gold_parsed], [_equations_as_values(e) for e in pred_parsed], timeout_seconds=None
    )


# --- worker pool with a hard per-answer limit -----------------------------------------------

_START_TIMEOUT = 60.0  # seconds for a worker to start (forked from the preloaded forkserver)


def _serve(conn: Connection, judge: Callable[[str, str], bool]) -> None:
    """Worker loop: judge (pred, gold) pairs until the parent closes the pipe or kills us."""
    # math-verify warns once that its own timeouts are off: the parent enforces the limit.
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    conn.send("ready")
    while True:
        try:
            pred, gold = conn.recv()
        except EOFError:
            return
        conn.send(bool(judge(pred, gold)))


class _Worker:
    """One worker process and the task it is judging (an index into the task list, or None)."""

    def __init__(self, context: Any, judge: Callable[[str, str], bool]) -> None:
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, judge), daemon=True)
        self.process.start()
        child.close()
        self.task: int | None = None
        self.deadline = 0.0
        self._wait_ready()

    def _wait_ready(self) -> None:
        """A worker that cannot even start is a broken environment, not a wrong answer: raise."""
        try:
            if self.conn.poll(_START_TIMEOUT) and self.conn.recv() == "ready":
                return
        except (EOFError, OSError):
            pass
        self.stop()
        raise RuntimeError(f"a grading worker failed to start (exit code {self.process.exitcode}); see its error above")

    def assign(self, task: int, pred: str, gold: str, timeout: float) -> None:
        self.task = task
        self.deadline = time.monotonic() + timeout
        self.conn.send((pred, gold))

    def stop(self) -> None:
        self.process.kill()
        self.process.join()
        self.conn.close()


def _verdict(worker: _Worker, record_id: str, pred: str, timeout: float, ready: list[Any]) -> tuple[bool, str] | None:
    """A busy worker's (correct, status) if it answered, died or overran; None while it may still answer."""
    if worker.conn in ready:
        try:
            return worker.conn.recv(), "ok"
        except (EOFError, OSError):
            worker.process.join(timeout=5)  # let it finish dying, for its exit code
            log.error("%s: the grading worker died (exit code %s); counted wrong", record_id, worker.process.exitcode)
            return False, "crashed"
    if time.monotonic() >= worker.deadline:
        log.warning("%s: grading took over %gs; counted wrong (pred %.200r)", record_id, timeout, pred)
        return False, "timeout"
    return None


class JudgePool:
    """Worker processes that judge (record id, pred, gold) tasks under a hard per-answer limit.

    Reusable: the workers outlive a ``judge`` call, so a caller grading many small batches (the
    mini zoo's RL reward, once per training step) pays for their start and for the parsers'
    lazy imports once. Workers fork from a forkserver that has this module loaded, so the judge
    function must be importable by name (tests pass a crashing one) and, as with any non-fork
    start method, a calling script needs the ``if __name__ == "__main__"`` guard.
    """

    def __init__(self, *, workers: int, timeout: float, judge: Callable[[str, str], bool] = is_equivalent) -> None:
        if workers < 1 or not timeout > 0:
            raise SettingsError(f"need workers >= 1 and timeout > 0, got workers={workers}, timeout={timeout}")
        self.workers, self.timeout, self._judge = workers, timeout, judge
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload([__name__])
        self._pool: list[_Worker] = []

    def __enter__(self) -> JudgePool:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        for worker in self._pool:
            worker.stop()
        self._pool = []

    def judge(self, tasks: Sequence[tuple[str, str, str]], on_done: Callable[[], None] = lambda: None) -> list[tuple[bool, str]]:
        """(correct, status) for each task, in input order; ``on_done`` is called once per finished task."""
        results: dict[int, tuple[bool, str]] = {}
        pending = deque(range(len(tasks)))
        while len(self._pool) < min(self.workers, len(tasks)):
            self._pool.append(_Worker(self._context, self._judge))
        pool = self._pool
        try:
            while pending or any(w.task is not None for w in pool):
                for worker in pool:
                    if worker.task is None and pending:
                        task = pending.popleft()
                        worker.assign(task, tasks[task][1], tasks[task][2], self.timeout)
                busy = [w for w in pool if w.task is not None]
                ready = wait([w.conn for w in busy], timeout=max(0.0, min(w.deadline for w in busy) - time.monotonic()))
                for slot, worker in enumerate(pool):
                    if worker.task is None:
                        continue
                    record_id, pred, _ = tasks[worker.task]
                    verdict = _verdict(worker, record_id, pred, self.timeout, ready)
                    if verdict is None:
                        continue
                    results[worker.task] = verdict
                    worker.task = None
                    on_done()
                    if verdict[1] != "ok":  # stuck or dead: replace it
                        worker.stop()
                        pool[slot] = _Worker(self._context, self._judge)
        except BaseException:
            self.close()  # a worker may be mid-task: never hand it the next call's work
            raise
        return [results[task] for task in range(len(tasks))]


def judge_all(
    tasks: Sequence[tuple[str, str, str]],
    *,
    workers: int,
    timeout: float,
    judge: Callable[[str, str], bool] = is_equivalent,
) -> list[tuple[bool, str]]:
    """One-off ``JudgePool.judge``: (correct, status) for each (record id, pred, gold) task, in order."""
    with JudgePool(workers=workers, timeout=timeout, judge=judge) as pool:
        return pool.judge(tasks)


# --- files ------------------------------------------------------------------------------------


def read_generations(path: str | Path) -> list[dict[str, Any]]:
    """Generation records (DESIGN §3), validated; errors name the file and line."""
    records: list[dict[str, Any]] = []
    first_seen: dict[str, str] = {}
    for where, record in iter_jsonl(path, what="generations file"):
        if not isinstance(record, dict):
            raise InputFormatError(f"{where}: expected a JSON object")
        missing = [key for key in GENERATION_KEYS if key not in record]
        if missing:
            raise InputFormatError(f"{where}: missing key(s) {', '.join(missing)}")
        for key in ("id", "gold", "answer"):
            if not isinstance(record[key], str):
                raise InputFormatError(f"{where}: {key} must be a string, got {type(record[key]).__name__}")
        if record["id"] in first_seen:
            raise InputFormatError(f"{where}: duplicate id {record['id']!r} (first at {first_seen[record['id']]})")
        first_seen[record["id"]] = where
        records.append(record)
    return records


def grade_records(
    records: Sequence[Mapping[str, Any]], pool: JudgePool, *, progress: bool = False
) -> list[dict[str, Any]]:
    """Each record plus ``pred``, ``correct`` and ``grade_status``, in input order."""
    preds = [extract_answer(record["answer"]) for record in records]
    todo = [i for i, pred in enumerate(preds) if pred is not None]
    with tqdm(total=len(records), initial=len(records) - len(todo), unit="answer", desc="grade",
              disable=not progress) as bar:
        verdicts = pool.judge([(records[i]["id"], preds[i], records[i]["gold"]) for i in todo], on_done=lambda: bar.update(1))
    judged = dict(zip(todo, verdicts, strict=True))
    graded = []
    for index, (record, pred) in enumerate(zip(records, preds, strict=True)):
        correct, status = judged.get(index, (False, "no_answer"))
        graded.append({**record, "pred": pred, "correct": correct, "grade_status": status})
    return graded


def write_jsonl(path: str | Path, records: Iterable[Mapping[str, Any]]) -> None:
    """One JSON object per line, UTF-8, atomically: a killed job leaves no graded file."""
    with atomic_output(path, "w") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


# --- Table 4 ----------------------------------------------------------------------------------


def graded_files(root: str | Path) -> list[Path]:
    """Every ``{pair}/{role}/{dataset}.jsonl`` under ``root`` (a run's ``graded/``), sorted."""
    root = Path(root)
    if not root.is_dir():
        raise InputFormatError(f"{root}: graded folder not found")
    paths = sorted(root.glob("*/*/*.jsonl"))
    if not paths:
        raise InputFormatError(f"{root}: no graded files ({{pair}}/{{role}}/{{dataset}}.jsonl)")
    return paths


def _accuracy_row(path: Path) -> dict[str, Any]:
    """One Table 4 row from ``…/{pair}/{role}/{dataset}.jsonl``."""
    if path.suffix != ".jsonl" or len(path.parts) < 3 or path.parts[-2] not in ROLES:
        raise InputFormatError(f"{path}: expected a path ending {{pair}}/{{role}}/{{dataset}}.jsonl, role one of {ROLES}")
    counts = dict.fromkeys(STATUSES, 0)
    n_correct = 0
    for where, record in iter_jsonl(path, what="graded file"):
        if not isinstance(record, dict):
            raise InputFormatError(f"{where}: expected a JSON object")
        if not isinstance(record.get("correct"), bool):
            raise InputFormatError(f"{where}: correct must be true or false")
        if record.get("grade_status") not in STATUSES:
            raise InputFormatError(f"{where}: grade_status must be one of {STATUSES}, got {record.get('grade_status')!r}")
        n_correct += record["correct"]
        counts[record["grade_status"]] += 1
    n = sum(counts.values())
    if n == 0:
        raise InputFormatError(f"{path}: graded file has no records")
    return {
        "pair": path.parts[-3], "role": path.parts[-2], "dataset": path.stem, "n": n, "n_correct": n_correct,
        "accuracy_pct": 100.0 * n_correct / n, "no_answer": counts["no_answer"], "timeouts": counts["timeout"],
        "crashed": counts["crashed"],
    }


def table4(paths: Iterable[str | Path]) -> pd.DataFrame:
    """Accuracy per pair x role x dataset, sorted by pair, dataset, role (base before rl)."""
    rows = [_accuracy_row(Path(path)) for path in paths]
    cells = [(r["pair"], r["role"], r["dataset"]) for r in rows]
    duplicates = sorted({c for c in cells if cells.count(c) > 1})
    if duplicates:
        raise InputFormatError(f"two graded files for pair/role/dataset {'/'.join(duplicates[0])}")
    frame = pd.DataFrame(rows, columns=list(TABLE4_COLUMNS))
    return frame.sort_values(["pair", "dataset", "role"]).reset_index(drop=True)
