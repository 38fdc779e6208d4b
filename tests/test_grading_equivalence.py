"""Equivalence: math-verify on one LaTeX expression, and the grader's rates on seeded subsets of the
real test sets (the full sets: bench_grading.py)."""

import pytest

from rlcircuits.grading.equivalence import as_latex, is_equivalent
from script_loader import BENCH_DIR, load_script
from shared_data import shared_file

BENCH = load_script("bench_grading", BENCH_DIR)


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
        ("3", "3\\sqrt{13}", False),  # docs/DESIGN.md §6: an unwrapped gold would parse as 3
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
    [
        ("18", "19"),
        ("-2", "-1"),
        ("0.5", "1.5"),
        ("2,125", "2126"),
        ("$10-4 n$", "$11-5 n$"),
        ("\\frac{1}{8}", "\\frac{2}{9}"),
        ("(-\\infty, -3)", "(-\\infty, -4)"),
        ("1200_7", "1201_7"),
        (".343, .027", "1.343, 1.027"),
        ("$y_{2}=x$", "-\\left(y_{2}=x\\right)"),
        ("\\text{Yes}", "-\\left(\\text{Yes}\\right)"),
    ],
)
def test_bench_wrong_answers(gold, wrong):
    assert BENCH.wrong_answer(gold) == wrong


def test_bench_college_forms():
    gold = "No solution : $\\oslash$"
    assert BENCH.box_content(gold) == "\\text{No solution : }\\oslash"
    assert BENCH.box_content(gold, "plain") == "No solution : \\oslash"


@pytest.mark.parametrize(
    ("pred", "gold", "expected"),
    [
        ("y_{3}=x \\ln x", "$y_{2}=x \\ln x$", False),
        ("y_{2}=x \\ln x", "$y_{2}=x \\ln x$", True),
        ("x \\ln x", "$y_{2}=x \\ln x$", True),
        ("x=5", "5", True),
    ],
)
def test_an_assignment_must_name_the_same_variable(pred, gold, expected):
    assert is_equivalent(pred, gold) is expected
