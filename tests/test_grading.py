"""Grading: answer extraction, math-verify equivalence, the hard per-answer limit, files, CLIs,
and the grader's rates on seeded subsets of the real test sets (the full sets: bench_grading.py)."""

import json
import logging
import os
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest

from cli_failure import fails_cleanly
from rlcircuits.errors import InputFormatError
from rlcircuits.grading import (
    GENERATION_KEYS,
    as_latex,
    extract_answer,
    JudgePool,
    grade_records,
    is_equivalent,
    judge_all,
    read_generations,
    table4,
    write_jsonl,
)
from script_loader import BENCH_DIR, SCRIPTS, load_script
from shared_data import shared_file

GRADE = load_script("grade")
TABLE4 = load_script("table4")
BENCH = load_script("bench_grading", BENCH_DIR)

# Hangs math-verify/sympy (it evaluates the power tower): a real pathological answer.
POWER_TOWER = "9^{9^{9^{9}}}"


# --- extraction -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # 1. the last \boxed{}, braces matched, before any other rule wherever it stands
        ("First \\boxed{1}, then $\\boxed{\\frac{\\sqrt{3}}{2}}$.", "\\frac{\\sqrt{3}}{2}"),
        ("\\boxed{4}. Wait, the answer is 3.", "4"),
        ("\\boxed{} is empty; we got 7", "7"),
        # 2. "The answer is" (any case, the last one), Math-Shepherd's ки tag stripped
        ("Step 1: 2 + 2 = 4 ки\nStep 2: 4 * 3 = 12 ки\nThe answer is: 12 ки", "12"),
        ("the answer is 3? No: the answer is $\\frac{1}{2}$. I hope it is correct.", "$\\frac{1}{2}$"),
        ("The final answer is 9. In short, the answer is 8.", "8"),
        ("The answer is 18 dollars.", "18 dollars"),
        ("We get 42. The answer is", "42"),
        # 3. "final answer is"
        ("Final Answer: The final answer is $x^2+1$. I hope it is correct.", "$x^2+1$"),
        ("so the final answer is -3.5\nbye 2", "-3.5"),
        # 4. the last number, with thousands commas and signs
        ("She pays 3 + 4 = 7 and owes -12.5 now.", "-12.5"),
        ("Total: 1,234,567 apples", "1234567"),
        ("the pairs 1,2 and 3,45", "45"),
        ("#### 2,125", "2125"),
        ("no digits at all", None),
        ("", None),
    ],
)
def test_extract_answer(text, expected):
    assert extract_answer(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3\\sqrt{13}", "$3\\sqrt{13}$"),
        ("$10-4 n$", "$10-4 n$"),
        ("$x=1$ and $y=2$", "$x=1\\text{ and }y=2$"),
        ("$18", "$\\$18$"),
        ("\\$18", "$\\$18$"),
        ("18 dollars", "$18$"),
        ("9 x", "$9 x$"),
        ("No solution", "$\\text{No solution}$"),
        ("No solution : $\\oslash$", "$\\text{No solution : }\\oslash$"),
        ("$56 x^{6}+$ $60 x^{2}$", "$56 x^{6}+ 60 x^{2}$"),
        ("$$\nx=6\n$$", "$x=6$"),
    ],
)
def test_as_latex_makes_one_math_expression(text, expected):
    assert as_latex(text) == expected


@pytest.mark.parametrize(
    ("pred", "gold", "expected"),
    [
        ("3\\sqrt{13}", "3\\sqrt{13}", True),
        ("3", "3\\sqrt{13}", False),  # DESIGN §6: an unwrapped gold would parse as 3
        ("2,125", "2125", True),
        ("$2,125", "2125", True),
        ("\\frac12", "0.5", True),
        ("-7", "-7", True),
        ("7", "-7", False),
        ("\\left( 3, \\frac{\\pi}{2} \\right)", "\\left( 3, \\frac{\\pi}{2} \\right)", True),
        ("x=3", "$3$", True),
        ("\\text{(C)}", "\\text{(C)}", True),
        ("\\text{(B)}", "\\text{(C)}", False),
        ("18 dollars", "18", True),
        ("\\text{Yes}", "Yes", True),
        ("$56 x^{6}+$ $60 x^{2}$", "56 x^{6}+60 x^{2}", True),
        # closed equations are their value; math-verify alone says True to the last one
        ("3", "$\\log_6(216)=3$", True),
        ("\\log_6(216)=4", "$\\log_6(216)=3$", False),
        # "name = expression" is the expression (here I, a current, parses as the imaginary unit)
        ("I=-\\frac{201}{4} e^{-11 t}", "$I=-\\frac{200}{3} e^{-10 t}$", False),
        ("I=-\\frac{200}{3} e^{-10 t}", "$I=-\\frac{200}{3} e^{-10 t}$", True),
        # ... but not inside a set, where the names matter
        ("x=2, y=1", "$x=1, y=2$", False),
    ],
)
def test_is_equivalent(pred, gold, expected):
    assert is_equivalent(pred, gold) is expected


# --- the worker pool ----------------------------------------------------------------------------


def crashing_judge(pred: str, gold: str) -> bool:
    """Runs in a worker (imported there by name): dies like a native crash on "crash"."""
    if pred == "crash":
        os._exit(3)
    return pred == gold


def _generation(record_id: str, answer: str, gold: str) -> dict:
    return {"id": record_id, "question": f"question {record_id}", "gold": gold, "prompt": "P", "prompt_token_ids": [1, 2],
            "answer": answer, "answer_token_ids": [3, 4], "finish_reason": "stop"}


def test_grade_records_keeps_order_and_adds_fields():
    records = [
        _generation("a", "so \\boxed{\\dfrac{1}{2}}", "\\frac{1}{2}"),
        _generation("b", "nothing here", "1"),
        _generation("c", "The answer is: 5 ки", "6"),
        _generation("d", "#### 1,000", "1000"),
    ]
    with JudgePool(workers=2, timeout=30) as pool:
        graded = grade_records(records, pool)
    assert [r["id"] for r in graded] == ["a", "b", "c", "d"]
    assert [(r["pred"], r["correct"], r["grade_status"]) for r in graded] == [
        ("\\dfrac{1}{2}", True, "ok"), (None, False, "no_answer"), ("5", False, "ok"), ("1000", True, "ok"),
    ]
    assert all(list(g)[: len(GENERATION_KEYS)] == list(GENERATION_KEYS) for g in graded)
    assert all({k: g[k] for k in GENERATION_KEYS} == r for g, r in zip(graded, records))


def test_a_hanging_answer_times_out_is_logged_and_counted_wrong(caplog):
    """The power tower hangs sympy for minutes; the parent kills that worker after 1 s. The
    other worker finishes the later answers first; results still come in input order."""
    caplog.set_level(logging.WARNING, logger="rlcircuits.grading")
    tasks = [("q1", "1", "1"), ("q-tower", POWER_TOWER, "1"), ("q3", "2", "2"), ("q4", "5", "4")]
    start = time.monotonic()
    results = judge_all(tasks, workers=2, timeout=1.0)
    assert time.monotonic() - start < 15
    assert results == [(True, "ok"), (False, "timeout"), (True, "ok"), (False, "ok")]
    assert [r.getMessage() for r in caplog.records] == [f"q-tower: grading took over 1s; counted wrong (pred '{POWER_TOWER}')"]


def test_a_dead_worker_is_replaced_and_its_answer_counted_wrong(caplog):
    caplog.set_level(logging.ERROR, logger="rlcircuits.grading")
    tasks = [("q1", "x", "x"), ("q-crash", "crash", "x"), ("q3", "y", "y")]
    assert judge_all(tasks, workers=1, timeout=30, judge=crashing_judge) == [(True, "ok"), (False, "crashed"), (True, "ok")]
    assert "q-crash: the grading worker died (exit code 3)" in caplog.text


def test_a_worker_that_cannot_start_is_an_error_not_wrong_answers(monkeypatch):
    """E.g. a judge the worker cannot import: raising beats grading every answer "crashed"."""
    ghost = types.ModuleType("ghost_judges")
    exec("def judge(pred, gold):\n    return True", ghost.__dict__)
    monkeypatch.setitem(sys.modules, "ghost_judges", ghost)  # importable here, not in a worker
    with pytest.raises(RuntimeError, match="a grading worker failed to start"):
        judge_all([("q1", "1", "1")], workers=1, timeout=30, judge=ghost.judge)


def test_a_pool_keeps_its_workers_across_calls_and_recovers_from_a_timeout():
    with JudgePool(workers=1, timeout=1.0) as pool:
        assert pool.judge([("a", "2", "2")]) == [(True, "ok")]
        [first] = [w.process.pid for w in pool._pool]
        assert pool.judge([("b", "3", "4")]) == [(False, "ok")]
        assert [w.process.pid for w in pool._pool] == [first]  # reused, not restarted
        assert pool.judge([("tower", POWER_TOWER, "1"), ("c", "5", "5")]) == [(False, "timeout"), (True, "ok")]
        assert [w.process.pid for w in pool._pool] != [first]  # the stuck one was replaced
    assert pool._pool == []


def test_judge_all_refuses_bad_settings():
    with pytest.raises(ValueError, match="workers >= 1 and timeout > 0"):
        judge_all([("q", "1", "1")], workers=0, timeout=1)
    with pytest.raises(ValueError, match="workers >= 1 and timeout > 0"):
        judge_all([("q", "1", "1")], workers=1, timeout=0)


# --- files --------------------------------------------------------------------------------------


def test_generation_keys_are_the_generate_stage_contract():
    from rlcircuits.generation import RECORD_KEYS

    assert GENERATION_KEYS == RECORD_KEYS


def _write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


GOOD = json.dumps(_generation("q1", "\\boxed{1}", "1"))


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([GOOD, "{oops"], r"gen\.jsonl:2: invalid JSON"),
        ([GOOD, "[1]"], r"gen\.jsonl:2: expected a JSON object"),
        ([json.dumps({k: v for k, v in _generation("q", "a", "1").items() if k not in ("gold", "prompt")})],
         r"gen\.jsonl:1: missing key\(s\) gold, prompt"),
        ([json.dumps({**_generation("q", "a", "1"), "id": 7})], r"gen\.jsonl:1: id must be a string, got int"),
        ([json.dumps({**_generation("q", "a", "1"), "answer": None})], r"gen\.jsonl:1: answer must be a string"),
        ([GOOD, "", GOOD], r"gen\.jsonl:3: duplicate id 'q1' \(first at .*gen\.jsonl:1\)"),
    ],
)
def test_malformed_generations_name_file_and_line(tmp_path, lines, message):
    with pytest.raises(InputFormatError, match=message):
        read_generations(_write_lines(tmp_path / "gen.jsonl", lines))


def test_interrupted_write_leaves_nothing(tmp_path):
    def records():
        yield {"id": "a"}
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_jsonl(tmp_path / "out" / "g.jsonl", records())
    assert list((tmp_path / "out").iterdir()) == []


# --- scripts/grade.py ---------------------------------------------------------------------------


def test_grade_cli_writes_graded_records(tmp_path):
    generations = _write_lines(tmp_path / "gen.jsonl", [
        json.dumps(_generation("q1", "Thus $\\boxed{3\\sqrt{13}}$.", "3\\sqrt{13}"), ensure_ascii=False),
        json.dumps(_generation("q2", "The answer is: 3 ки", "3\\sqrt{13}"), ensure_ascii=False),
    ])
    out = tmp_path / "graded" / "p" / "base" / "d.jsonl"
    assert GRADE.main(["--generations", str(generations), "--out", str(out), "--workers", "2", "--no-progress"]) == 0
    graded = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(g["id"], g["pred"], g["correct"], g["grade_status"]) for g in graded] == [
        ("q1", "3\\sqrt{13}", True, "ok"), ("q2", "3", False, "ok"),
    ]
    assert sorted(p.name for p in out.parent.iterdir()) == ["d.jsonl"]


def test_grade_cli_error_is_one_line_and_writes_nothing(tmp_path, capsys):
    generations = _write_lines(tmp_path / "gen.jsonl", [GOOD, "{broken"])
    out = tmp_path / "graded" / "g.jsonl"
    argv = ["--generations", str(generations), "--out", str(out)]
    err = fails_cleanly(capsys, GRADE.main, argv, "grade", "invalid JSON", [out])
    assert err == f"grade: error: {generations}:2: invalid JSON (Expecting property name enclosed in double quotes)\n"
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


def test_grade_cli_missing_input(tmp_path, capsys):
    out = tmp_path / "g.jsonl"
    err = fails_cleanly(capsys, GRADE.main, ["--generations", str(tmp_path / "none.jsonl"), "--out", str(out)], "grade",
                        "generations file not found")
    assert err == f"grade: error: {tmp_path / 'none.jsonl'}: generations file not found\n"
    assert list(tmp_path.iterdir()) == []


def test_grade_cli_as_a_command(tmp_path):
    """The real command line, as Snakemake runs it (workers re-import the script's module)."""
    generations = _write_lines(tmp_path / "gen.jsonl", [json.dumps(_generation("q1", f"\\boxed{{{POWER_TOWER}}}", "1")),
                                                        json.dumps(_generation("q2", "#### 4", "4"))])
    out = tmp_path / "g.jsonl"
    done = subprocess.run([sys.executable, str(SCRIPTS / "grade.py"), "--generations", str(generations), "--out", str(out),
                           "--workers", "1", "--timeout", "1"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "q1: grading took over 1s; counted wrong" in done.stderr
    assert [json.loads(line)["grade_status"] for line in out.read_text().splitlines()] == ["timeout", "ok"]


# --- Table 4 ------------------------------------------------------------------------------------


def _graded_file(root: Path, pair: str, role: str, dataset: str, statuses: list[tuple[bool, str]]) -> Path:
    records = [{"id": f"q{i}", "correct": c, "grade_status": s} for i, (c, s) in enumerate(statuses)]
    path = root / pair / role / f"{dataset}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    return _write_lines(path, [json.dumps(r) for r in records])


EXPECTED_TABLE4 = (
    "pair,role,dataset,n,n_correct,accuracy_pct,no_answer,timeouts,crashed\n"
    "alpha,base,gsm8k,4,1,25,1,1,0\n"
    "alpha,rl,gsm8k,4,3,75,0,0,0\n"
    "alpha,base,math,3,2,66.66666667,0,0,1\n"
    "beta,rl,gsm8k,1,1,100,0,0,0\n"
)


@pytest.fixture
def graded_root(tmp_path) -> Path:
    root = tmp_path / "graded"
    _graded_file(root, "beta", "rl", "gsm8k", [(True, "ok")])
    _graded_file(root, "alpha", "rl", "gsm8k", [(True, "ok"), (True, "ok"), (True, "ok"), (False, "ok")])
    _graded_file(root, "alpha", "base", "math", [(True, "ok"), (True, "ok"), (False, "crashed")])
    _graded_file(root, "alpha", "base", "gsm8k", [(True, "ok"), (False, "ok"), (False, "no_answer"), (False, "timeout")])
    return root


def test_table4_from_a_root_is_sorted_and_byte_stable(tmp_path, graded_root):
    out = tmp_path / "tables" / "table4.csv"
    assert TABLE4.main(["--graded-root", str(graded_root), "--out", str(out)]) == 0
    assert out.read_text() == EXPECTED_TABLE4
    files = [str(p) for p in reversed(sorted(graded_root.glob("*/*/*.jsonl")))]
    again = tmp_path / "again.csv"
    assert TABLE4.main(["--graded", *files, "--out", str(again)]) == 0
    assert again.read_bytes() == out.read_bytes()


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda root: _graded_file(root, "p", "sft", "d", [(True, "ok")]), r"role one of \('base', 'rl'\)"),
        (lambda root: _write_lines(_graded_file(root, "p", "rl", "d", []), ['{"id": "q", "grade_status": "ok"}']),
         r"d\.jsonl:1: correct must be true or false"),
        (lambda root: _graded_file(root, "p", "rl", "d", [(True, "late")]), r"d\.jsonl:1: grade_status must be one of"),
        (lambda root: _graded_file(root, "p", "rl", "d", []), r"d\.jsonl: graded file has no records"),
    ],
)
def test_table4_refuses_bad_graded_files(tmp_path, setup, message):
    setup(tmp_path / "graded")
    with pytest.raises(InputFormatError, match=message):
        table4(sorted((tmp_path / "graded").glob("*/*/*.jsonl")))


def test_table4_cli_errors(tmp_path, graded_root, capsys):
    out = tmp_path / "t.csv"
    err = fails_cleanly(capsys, TABLE4.main, ["--graded-root", str(tmp_path / "nothing"), "--out", str(out)], "table4",
                        "graded folder not found")
    assert err == f"table4: error: {tmp_path / 'nothing'}: graded folder not found\n"
    twice = [str(graded_root / "beta" / "rl" / "gsm8k.jsonl")] * 2
    fails_cleanly(capsys, TABLE4.main, ["--graded", *twice, "--out", str(out)], "table4",
                  "two graded files for pair/role/dataset beta/rl/gsm8k", [out])


# --- the real test sets (seeded subsets; bench/bench_grading.py measures the full sets) -------

# College Math is the slow one (sympy on differential-equation and matrix answers).
SAMPLES = {"gsm8k": 300, "math": 300, "college_math": 100}


@pytest.mark.parametrize(("name", "gold_min"), [("gsm8k", 99.0), ("math", 99.0), ("college_math", 95.0)])
def test_gold_answers_pass_and_wrong_answers_fail(name, gold_min):
    shared_file(f"{name}/test.jsonl")
    # The hard limit is for hung parses; a generous one keeps a busy CI machine from flaking.
    rates = BENCH.measure_dataset(BENCH.subset(BENCH.cases(name), SAMPLES[name], seed=0), workers=2, timeout=60)
    assert rates["n"] == SAMPLES[name] and rates["timeout"] == 0 and rates["crashed"] == 0
    assert rates["gold_correct_pct"] >= gold_min, rates["gold_missed"]
    assert rates["wrong_accepted_pct"] <= 0.5, rates["wrong_accepted"]


def test_agrees_with_the_reference_grades_of_the_fixture():
    shared_file(str(BENCH.FIXTURE))
    rates = BENCH.measure_fixture(BENCH.fixture_records(), workers=2, timeout=60)
    assert rates["n"] == 800 and rates["timeout"] == 0
    assert rates["agreement_pct"] >= 99.0, rates["disagreements"]


@pytest.mark.parametrize(
    ("gold", "wrong"),
    [("18", "19"), ("-2", "-1"), ("0.5", "1.5"), ("2,125", "2126"), ("$10-4 n$", "$11-5 n$"),
     ("\\frac{1}{8}", "\\frac{2}{9}"), ("(-\\infty, -3)", "(-\\infty, -4)"), ("1200_7", "1201_7"), (".343, .027", "1.343, 1.027"),
     ("$y_{2}=x$", "-\\left(y_{2}=x\\right)"), ("\\text{Yes}", "-\\left(\\text{Yes}\\right)")],
)
def test_bench_wrong_answers(gold, wrong):
    assert BENCH.wrong_answer(gold) == wrong


def test_bench_college_forms():
    gold = "No solution : $\\oslash$"
    assert BENCH.box_content(gold) == "\\text{No solution : }\\oslash"
    assert BENCH.box_content(gold, "plain") == "No solution : \\oslash"


@pytest.mark.parametrize(
    ("pred", "gold", "expected"),
    [("y_{3}=x \\ln x", "$y_{2}=x \\ln x$", False), ("y_{2}=x \\ln x", "$y_{2}=x \\ln x$", True),
     ("x \\ln x", "$y_{2}=x \\ln x$", True), ("x=5", "5", True)],
)
def test_an_assignment_must_name_the_same_variable(pred, gold, expected):
    assert is_equivalent(pred, gold) is expected
