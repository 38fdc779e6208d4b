#!/usr/bin/env python
"""Benchmark: the grader on the real test sets in ../shared/data, printed as JSON.

For every question the gold solution is presented as a model answer and should be graded
correct; a deliberately wrong answer in the same form should not. Then the 800 responses of the
grader fixture (100 MATH questions x 8) are graded against ``gt`` and compared with the Qwen2.5-Math
grader's ``score``. Everything runs through ``rlcircuits.grading.records.grade_records``, the stage's code
path (worker processes, hard per-answer limit), and timeouts are counted.

Gold presented as an answer:
  gsm8k         the ``answer`` field as is (worked solution ending ``#### N``: last-number rule)
  math, math500 the ``solution`` field as is (last ``\\boxed{}`` rule)
  college_math  no worked solution exists, so: ``The final answer is $\\boxed{G}$.`` (the form
                the Qwen/DeepSeek prompts ask for), G the gold as one LaTeX expression: its math
                as is, its words in ``\\text{}``; reported again as college_math_plain with G
                the gold with its ``$`` dropped and words left bare (see box_content)
Wrong answer: the same text with the final answer replaced by ``wrong_answer(gold)``.

    python bench/bench_grading.py                   # full test sets
    python bench/bench_grading.py --sample 300      # a seeded subset per dataset (seed 0; the
                                                      # tests use 300, 300 and 100 College Math)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

from rlcircuits.datasets import load_questions
from rlcircuits.files import iter_jsonl
from rlcircuits.grading.equivalence import as_latex
from rlcircuits.grading.pool import JudgePool
from rlcircuits.grading.records import grade_records

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DATASETS = ("gsm8k", "math", "math500", "college_math")
FIXTURE = Path("grader_fixtures") / "qwen25_math_cot_100.jsonl"

_PLAIN_NUMBER = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")
# A number that is not a subscript label: not after "_" or "_{", nor inside another number.
_VALUE = re.compile(r"(?<![\d.])(?<!_)(?<!_\{)(?:\d+(?:\.\d+)?|\.\d+)")
_MATH_DELIMITER = re.compile(r"\$\$|(?<!\\)\$")  # display math first


class Case(NamedTuple):
    """One question: its gold, the gold solution as an answer, and a wrong answer in that form."""

    id: str
    gold: str
    right: str
    wrong: str


def wrong_answer(gold: str) -> str:
    """A deliberately wrong answer of the gold's own kind.

    A number gets + 1. Anything else with numbers in it (fractions, intervals, tuples, equations,
    matrices, derivations ending "= value") gets every number in it + 1, so whichever part the
    grader reads, its value changes; subscripts (``c_{1}``, ``y_2``) are names and stay. A gold
    with no other number (pi, a variable, a word, a letter choice) is negated: ``-\\left(G\\right)``.
    """
    core = _MATH_DELIMITER.sub("", gold).strip()
    if _PLAIN_NUMBER.fullmatch(core):
        return str(Decimal(core.replace(",", "")) + 1)
    if _VALUE.search(gold):
        return _VALUE.sub(lambda match: str(Decimal(match.group()) + 1), gold)
    return f"-\\left({core}\\right)"


def box_content(gold: str, form: str = "latex") -> str:
    """What a model would put in ``\\boxed{}`` for this gold (College Math golds are LaTeX
    with ``$…$`` math, sometimes between words).

    ``latex``: one LaTeX expression, math as is and words in ``\\text{}`` (the grader's own
    rendering of a gold, ``as_latex`` without its ``$``); ``plain``: the gold with its ``$``
    delimiters dropped, words left bare (the Qwen2.5-Math harness's gold string).
    """
    return as_latex(gold)[1:-1] if form == "latex" else _MATH_DELIMITER.sub("", gold).strip()


def _raw_records(name: str) -> list[dict[str, Any]]:
    return [record for _, record in iter_jsonl(DATA / name / "test.jsonl", what=f"{name} test set")]


def _boxed_answer(gold: str, form: str) -> str:
    return f"The final answer is $\\boxed{{{box_content(gold, form)}}}$."


def _replace_final(text: str, start: int, old: str, new: str) -> str:
    """``text`` with the first ``old`` at or after ``start`` replaced by ``new``."""
    index = text.index(old, start)
    return f"{text[:index]}{new}{text[index + len(old) :]}"


def cases(name: str, college_form: str = "latex") -> list[Case]:
    """Every question of a test set as a Case (see the module doc for the forms)."""
    questions = load_questions(name, path=DATA / name / "test.jsonl")
    if name == "college_math":
        return [
            Case(q.id, q.gold, _boxed_answer(q.gold, college_form), _boxed_answer(wrong_answer(q.gold), college_form))
            for q in questions
        ]
    result = []
    for question, raw in zip(questions, _raw_records(name), strict=True):
        if name == "gsm8k":
            right = raw["answer"]
            start = right.rindex("####")
            old = right[start + 4 :].strip()
        else:
            right = raw["solution"]
            start = max(right.rfind("\\boxed"), right.rfind("\\fbox"))
            old = question.gold
        result.append(
            Case(question.id, question.gold, right, _replace_final(right, start, old, wrong_answer(question.gold)))
        )
    return result


def fixture_records() -> list[dict[str, Any]]:
    """The fixture's 8 responses per question as answer records, with the reference grade."""
    records = []
    for _, raw in iter_jsonl(DATA / FIXTURE, what="grader fixture"):
        for k, (answer, score) in enumerate(zip(raw["code"], raw["score"], strict=True)):
            records.append({"id": f"fixture-{raw['idx']}-{k}", "gold": raw["gt"], "answer": answer, "reference": score})
    return records


def subset(items: list, size: int | None, seed: int) -> list:
    """A seeded sample of ``size`` items in their original order (all of them if size is None)."""
    if size is None or size >= len(items):
        return items
    chosen = sorted(random.Random(seed).sample(range(len(items)), size))
    return [items[i] for i in chosen]


def _failures(graded: list[dict[str, Any]]) -> dict[str, int]:
    return {status: sum(r["grade_status"] == status for r in graded) for status in ("timeout", "crashed")}


def measure_dataset(items: list[Case], *, workers: int, timeout: float) -> dict[str, Any]:
    """Gold-correct and wrong-answer false-positive rates, with the ids of every miss."""
    records = [{"id": f"{c.id}/gold", "gold": c.gold, "answer": c.right} for c in items]
    records += [{"id": f"{c.id}/wrong", "gold": c.gold, "answer": c.wrong} for c in items]
    start = time.perf_counter()
    with JudgePool(workers=workers, timeout=timeout) as pool:
        graded = grade_records(records, pool)
    seconds = time.perf_counter() - start
    gold, wrong = graded[: len(items)], graded[len(items) :]
    return {
        "n": len(items),
        "gold_correct_pct": 100 * sum(r["correct"] for r in gold) / len(items),
        "wrong_accepted_pct": 100 * sum(r["correct"] for r in wrong) / len(items),
        **_failures(graded),
        "seconds": round(seconds, 1),
        "gold_missed": [{"id": r["id"], "gold": r["gold"], "pred": r["pred"]} for r in gold if not r["correct"]],
        "wrong_accepted": [{"id": r["id"], "gold": r["gold"], "pred": r["pred"]} for r in wrong if r["correct"]],
    }


def measure_fixture(records: list[dict[str, Any]], *, workers: int, timeout: float) -> dict[str, Any]:
    """Agreement of our grades with the fixture's reference ``score``."""
    start = time.perf_counter()
    with JudgePool(workers=workers, timeout=timeout) as pool:
        graded = grade_records(records, pool)
    seconds = time.perf_counter() - start
    disagree = [r for r in graded if r["correct"] != r["reference"]]
    return {
        "n": len(graded),
        "agreement_pct": 100 * (len(graded) - len(disagree)) / len(graded),
        **_failures(graded),
        "seconds": round(seconds, 1),
        "disagreements": [
            {"id": r["id"], "gold": r["gold"], "pred": r["pred"], "ours": r["correct"], "reference": r["reference"]}
            for r in disagree
        ],
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample", type=int, default=None, help="seeded subset per dataset (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="subset seed (default: 0)")
    parser.add_argument("--workers", type=int, default=2, help="grading processes (default: 2)")
    parser.add_argument("--timeout", type=float, default=10.0, help="hard limit per answer, seconds (default: 10)")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not DATA.is_dir():
        print(f"bench_grading: error: {DATA} not found (the real test sets live in ../shared/data)", file=sys.stderr)
        return 1
    options = {"workers": args.workers, "timeout": args.timeout}
    report: dict[str, Any] = {
        "command": " ".join(["python", "bench/bench_grading.py", *(argv if argv is not None else sys.argv[1:])]),
        "python": platform.python_version(),
        "machine": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "sample": args.sample,
        "seed": args.seed,
        **options,
    }
    for name in args.datasets:
        report[name] = measure_dataset(subset(cases(name), args.sample, args.seed), **options)
        if name == "college_math":
            plain = cases(name, college_form="plain")
            report["college_math_plain"] = measure_dataset(subset(plain, args.sample, args.seed), **options)
    report["fixture"] = measure_fixture(fixture_records(), **options)
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
