"""Answer extraction: the rules in order, first one that yields something wins."""

import pytest

from rlcircuits.grading.extraction import extract_answer


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
