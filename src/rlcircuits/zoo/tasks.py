"""The mini zoo's synthetic math tasks: three datasets of graded difficulty, from a seed.

They play the paper's benchmarks' roles (docs/DESIGN.md §1, demo): ``arithmetic`` two-step word
problems (GSM8K), ``equations`` linear equations in x (MATH), ``fractions`` fraction sums and
products and mixed operations (College Math). Every problem has a question, a canonical gold
answer and a short worked solution whose every step is one small operation, ending in
``\\boxed{…}``, so the real grader and the real selection apply unchanged. A boxed fraction is
left unreduced (``6/20``); its gold is LaTeX in lowest terms (``\\frac{3}{10}``): grading judges
equivalence, not spelling.

A split is drawn from ``random.Random(f"{task}:{seed}")``: the first ``n_test`` distinct
questions form the test split, the next ``n_train`` questions not seen before the train split,
so the two never share a question. Ids are ``{task}-{split}-{index:04d}``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

from rlcircuits.errors import InputFormatError, SettingsError
from rlcircuits.files import atomic_output, iter_jsonl

SPLITS = ("test", "train")
# Consecutive draws of known problems after which a task's problem space counts as exhausted.
_MAX_REPEATS = 20_000

_NAMES = ("Ann", "Ben", "Cat", "Dan", "Eva", "Finn", "Gus", "Ivy", "Jo", "Kim", "Leo", "Mia")
_ITEMS = ("apples", "books", "cards", "coins", "eggs", "pens", "shells", "stamps")


@dataclass(frozen=True)
class Problem:
    question: str
    gold: str
    solution: str


@dataclass(frozen=True)
class Task:
    """One record of a split file: what ``datasets`` format ``qa`` reads, plus the solution."""

    id: str
    question: str
    gold: str
    solution: str


def _solution(steps: Iterable[str], boxed: str) -> str:
    return " ".join(f"{step}." for step in steps) + f" \\boxed{{{boxed}}}"


def _latex(value: Fraction) -> str:
    """A rational in lowest terms: ``7``, ``-3`` or ``\\frac{3}{10}``."""
    if value.denominator == 1:
        return str(value.numerator)
    sign = "-" if value < 0 else ""
    return f"{sign}\\frac{{{abs(value.numerator)}}}{{{value.denominator}}}"


def _integer(question: str, steps: list[str], answer: int) -> Problem:
    return Problem(question, str(answer), _solution(steps, str(answer)))


# --- arithmetic: two-step word problems (GSM8K's role) ----------------------------------------


def _arithmetic(rng: random.Random) -> Problem:
    name, items = rng.choice(_NAMES), rng.choice(_ITEMS)
    form = rng.randrange(4)
    if form == 0:
        a, b = rng.randint(2, 19), rng.randint(1, 9)
        c = rng.randint(1, 9)
        question = f"{name} has {a} {items}, buys {b}, gives away {c}. How many left?"
        return _integer(question, [f"{a}+{b}={a + b}", f"{a + b}-{c}={a + b - c}"], a + b - c)
    if form == 1:
        a, b = rng.randint(2, 5), rng.randint(2, 9)
        c = rng.randint(1, 9)
        question = f"{name} buys {a} bags of {b} {items}, loses {c}. How many left?"
        return _integer(question, [f"{a}*{b}={a * b}", f"{a * b}-{c}={a * b - c}"], a * b - c)
    if form == 2:
        k, share = rng.randint(2, 5), rng.randint(1, 9)
        a = rng.randint(1, min(9, k * share - 1))
        b = k * share - a
        question = f"{name} has {a} {items}, finds {b}, shares them among {k}. How many each?"
        return _integer(question, [f"{a}+{b}={k * share}", f"{k * share}/{k}={share}"], share)
    a, b, c = rng.randint(2, 5), rng.randint(2, 9), rng.randint(1, 9)
    question = f"{name} has {a} boxes of {b} {items}, gets {c} more. How many now?"
    return _integer(question, [f"{a}*{b}={a * b}", f"{a * b}+{c}={a * b + c}"], a * b + c)


# --- equations: linear equations in x (MATH's role) ------------------------------------------


def _equations(rng: random.Random) -> Problem:
    x = rng.randint(1, 9)
    form = rng.randrange(3)
    if form == 0:
        a, b = rng.randint(2, 5), rng.randint(1, 9)
        c = a * x + b
        steps = [f"{a}x={c}-{b}={a * x}", f"x={a * x}/{a}={x}"]
        return _integer(f"Solve for x: {a}x+{b}={c}.", steps, x)
    if form == 1:
        a = rng.randint(2, 5)
        b = rng.randint(1, min(9, a * x - 1))
        c = a * x - b
        steps = [f"{a}x={c}+{b}={a * x}", f"x={a * x}/{a}={x}"]
        return _integer(f"Solve for x: {a}x-{b}={c}.", steps, x)
    c = rng.randint(1, 4)
    a, b = rng.randint(c + 1, 6), rng.randint(1, 9)
    e = a - c
    d = e * x + b
    steps = [f"{a}x-{c}x={e}x", f"{d}-{b}={e * x}", f"x={e * x}/{e}={x}"]
    return _integer(f"Solve for x: {a}x+{b}={c}x+{d}.", steps, x)


# --- fractions: fraction sums and products, mixed operations (College Math's role) ------------


def _fraction_problem(question: str, steps: list[str], numerator: int, denominator: int) -> Problem:
    return Problem(question, _latex(Fraction(numerator, denominator)), _solution(steps, f"{numerator}/{denominator}"))


def _fractions(rng: random.Random) -> Problem:
    form = rng.randrange(4)
    if form == 0:
        a, b, c = rng.randint(1, 9), rng.randint(2, 9), rng.randint(1, 9)
        return _fraction_problem(f"Compute {a}/{b}+{c}/{b}.", [f"{a}+{c}={a + c}"], a + c, b)
    if form == 1:
        b, d = rng.randint(2, 9), rng.randint(2, 9)
        a, c = rng.randint(1, b - 1), rng.randint(1, d - 1)
        steps = [f"{a}*{c}={a * c}", f"{b}*{d}={b * d}"]
        return _fraction_problem(f"Compute {a}/{b}*{c}/{d}.", steps, a * c, b * d)
    if form == 2:
        a, b, c = rng.randint(1, 9), rng.randint(1, 9), rng.randint(2, 3)
        p = (a + b) * c
        d = rng.randint(1, 9)
        steps = [f"{a}+{b}={a + b}", f"{a + b}*{c}={p}", f"{p}-{d}={p - d}"]
        return _integer(f"Evaluate ({a}+{b})*{c}-{d}.", steps, p - d)
    b, q = rng.randint(2, 9), rng.randint(1, 9)
    a = rng.randint(1, b - 1)
    steps = [f"{b * q}/{b}={q}", f"{q}*{a}={q * a}"]
    return _integer(f"What is {a}/{b} of {b * q}?", steps, q * a)


TASKS: dict[str, Callable[[random.Random], Problem]] = {
    "arithmetic": _arithmetic,
    "equations": _equations,
    "fractions": _fractions,
}
# The paper's benchmark whose role each task plays (the demo config names datasets by role).
BENCHMARK_OF_TASK = {"arithmetic": "gsm8k", "equations": "math", "fractions": "college_math"}


@dataclass(frozen=True)
class SplitSettings:
    """Which draw a task's splits are, and their sizes: 300 test questions keep a point near 3%."""

    seed: int = 0
    n_test: int = 300
    n_train: int = 1200


def make_splits(task: str, seed: int, n_test: int, n_train: int) -> dict[str, list[Task]]:
    """The test and train splits of ``task`` for ``seed``: disjoint, reproducible, in draw order."""
    if task not in TASKS:
        raise SettingsError(f"unknown zoo task {task!r}; choose one of {', '.join(TASKS)}")
    if n_test < 1 or n_train < 1:
        raise SettingsError(f"split sizes must be positive, got test={n_test}, train={n_train}")
    rng = random.Random(f"{task}:{seed}")
    seen: set[str] = set()
    splits: dict[str, list[Task]] = {}
    for split, size in zip(SPLITS, (n_test, n_train), strict=True):
        records: list[Task] = []
        repeats = 0
        while len(records) < size:
            problem = TASKS[task](rng)
            if problem.solution in seen:
                repeats += 1
                if repeats == _MAX_REPEATS:
                    raise SettingsError(f"task {task}: only {len(records)} new {split} problems exist; ask for fewer")
                continue
            repeats = 0
            seen.add(problem.solution)
            records.append(Task(f"{task}-{split}-{len(records):04d}", **asdict(problem)))
        splits[split] = records
    return splits


def write_tasks(path: str | Path, tasks: Iterable[Task]) -> None:
    """A split as JSON lines (id, question, gold, solution), atomically."""
    with atomic_output(path, "w") as handle:
        for task in tasks:
            handle.write(json.dumps(asdict(task), ensure_ascii=False) + "\n")


def read_tasks(path: str | Path) -> list[Task]:
    """A split file, validated: every field a non-empty string, ids unique."""
    tasks: list[Task] = []
    first_seen: dict[str, str] = {}
    for where, record in iter_jsonl(path, what="zoo task file"):
        if not isinstance(record, dict):
            raise InputFormatError(f"{where}: expected a JSON object")
        for key in ("id", "question", "gold", "solution"):
            if not isinstance(record.get(key), str) or not record[key].strip():
                raise InputFormatError(f"{where}: missing or empty string field {key!r}")
        if record["id"] in first_seen:
            raise InputFormatError(f"{where}: duplicate id {record['id']!r} (first at {first_seen[record['id']]})")
        first_seen[record["id"]] = where
        tasks.append(Task(record["id"], record["question"], record["gold"], record["solution"]))
    if not tasks:
        raise InputFormatError(f"{path}: zoo task file has no records")
    return tasks
