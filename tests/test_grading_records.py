"""The grade stage: records in, records plus pred/correct/grade_status out, and scripts/grade.py."""

import json
import subprocess
import sys

from cli_failure import fails_cleanly
from records import generation, write_lines
from rlcircuits.contracts import GENERATION_KEYS, GenerationRecord, GradedRecord
from rlcircuits.grading.pool import JudgePool
from rlcircuits.grading.records import grade_generations, grade_records
from script_loader import SCRIPTS, load_script

GRADE = load_script("grade")
GOOD = json.dumps(generation("q1", "\\boxed{1}", "1"))
# Hangs math-verify/sympy (it evaluates the power tower): a real pathological answer.
POWER_TOWER = "9^{9^{9^{9}}}"


def test_grade_records_keeps_order_and_adds_fields():
    records = [
        generation("a", "so \\boxed{\\dfrac{1}{2}}", "\\frac{1}{2}"),
        generation("b", "nothing here", "1"),
        generation("c", "The answer is: 5 ки", "6"),
        generation("d", "#### 1,000", "1000"),
    ]
    with JudgePool(workers=2, timeout=30) as pool:
        graded = grade_records(records, pool)
    assert [r["id"] for r in graded] == ["a", "b", "c", "d"]
    assert [(r["pred"], r["correct"], r["grade_status"]) for r in graded] == [
        ("\\dfrac{1}{2}", True, "ok"),
        (None, False, "no_answer"),
        ("5", False, "ok"),
        ("1000", True, "ok"),
    ]
    assert all(list(g)[: len(GENERATION_KEYS)] == list(GENERATION_KEYS) for g in graded)
    assert all({k: g[k] for k in GENERATION_KEYS} == r for g, r in zip(graded, records, strict=True))


def test_grade_generations_gives_typed_records_of_the_same_verdicts():
    records = [generation("a", "\\boxed{2}", "2"), generation("b", "nothing", "1")]
    with JudgePool(workers=1, timeout=30) as pool:
        typed = grade_generations([GenerationRecord.from_json(r) for r in records], pool)
        plain = grade_records(records, pool)
    assert typed == [GradedRecord.from_json(r) for r in plain]
    assert [(g.pred, g.correct, g.grade_status) for g in typed] == [("2", True, "ok"), (None, False, "no_answer")]


# --- scripts/grade.py ---------------------------------------------------------------------------


def test_grade_cli_writes_graded_records(tmp_path):
    generations = write_lines(
        tmp_path / "gen.jsonl",
        [
            json.dumps(generation("q1", "Thus $\\boxed{3\\sqrt{13}}$.", "3\\sqrt{13}"), ensure_ascii=False),
            json.dumps(generation("q2", "The answer is: 3 ки", "3\\sqrt{13}"), ensure_ascii=False),
        ],
    )
    out = tmp_path / "graded" / "p" / "base" / "d.jsonl"
    assert GRADE.main(["--generations", str(generations), "--out", str(out), "--workers", "2", "--no-progress"]) == 0
    graded = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(g["id"], g["pred"], g["correct"], g["grade_status"]) for g in graded] == [
        ("q1", "3\\sqrt{13}", True, "ok"),
        ("q2", "3", False, "ok"),
    ]
    assert sorted(p.name for p in out.parent.iterdir()) == ["d.jsonl"]


def test_grade_cli_error_is_one_line_and_writes_nothing(tmp_path, capsys):
    generations = write_lines(tmp_path / "gen.jsonl", [GOOD, "{broken"])
    out = tmp_path / "graded" / "g.jsonl"
    argv = ["--generations", str(generations), "--out", str(out)]
    err = fails_cleanly(capsys, GRADE.main, argv, "grade", "invalid JSON", [out])
    assert err == f"grade: error: {generations}:2: invalid JSON (Expecting property name enclosed in double quotes)\n"
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


def test_grade_cli_missing_input(tmp_path, capsys):
    out = tmp_path / "g.jsonl"
    argv = ["--generations", str(tmp_path / "none.jsonl"), "--out", str(out)]
    err = fails_cleanly(capsys, GRADE.main, argv, "grade", "generations file not found")
    assert err == f"grade: error: {tmp_path / 'none.jsonl'}: generations file not found\n"
    assert list(tmp_path.iterdir()) == []


def test_grade_cli_as_a_command(tmp_path):
    """The real command line, as Snakemake runs it (workers re-import the script's module)."""
    generations = write_lines(
        tmp_path / "gen.jsonl",
        [json.dumps(generation("q1", f"\\boxed{{{POWER_TOWER}}}", "1")), json.dumps(generation("q2", "#### 4", "4"))],
    )
    out = tmp_path / "g.jsonl"
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPTS / "grade.py"),
            "--generations",
            str(generations),
            "--out",
            str(out),
            "--workers",
            "1",
            "--timeout",
            "1",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "q1: grading took over 1s; counted wrong" in done.stderr
    assert [json.loads(line)["grade_status"] for line in out.read_text().splitlines()] == ["timeout", "ok"]
