"""Whether an extracted answer equals the gold: math-verify on both presented as one LaTeX expression.

math-verify is given both sides as one ``$…$`` expression (``as_latex``), with the equations it
misjudges read as their right side (``_equations_as_values``: ``\\log_6(216)=3`` is 3;
math-verify would call any two such equations equal). Its SIGALRM timeouts are off: callers run
``is_equivalent`` under the hard limit of rlcircuits.grading.pool.
"""

from __future__ import annotations

import re
from typing import Any

import math_verify
import sympy

from rlcircuits.grading.extraction import NUMBER

# "18 dollars": a number, then only words of two or more letters (not "9 x", a product), which
# math-verify would read as a product of single-letter symbols.
_NUMBER_THEN_WORDS = re.compile(rf"({NUMBER})(?:\s+[A-Za-z]{{2,}})+\.?")
_UNESCAPED_DOLLAR = re.compile(r"(?<!\\)\$")
_MATH_DELIMITER = re.compile(r"\$\$|(?<!\\)\$")  # display math first
# Plain words: letters, spaces and punctuation, at least one word of two or more letters.
_PROSE = re.compile(r"(?=.*[A-Za-z]{2})[A-Za-z\s.,;:!?'()-]+", re.DOTALL)


def _strip_words(text: str) -> str:
    """``18 dollars`` -> ``18``; anything else unchanged."""
    match = _NUMBER_THEN_WORDS.fullmatch(text)
    return match.group(1) if match else text


def _math_or_text(text: str) -> str:
    """Plain words ("Yes", "no solution") as ``\\text{}``; anything else is math, unchanged."""
    return f"\\text{{{text}}}" if _PROSE.fullmatch(text) else text


def as_latex(text: str) -> str:
    """``text`` as one LaTeX math expression ``$…$``, the form math-verify parses reliably.

    Unwrapped, math-verify reads ``3\\sqrt{13}`` as 3 (docs/DESIGN.md §6); of several ``$…$`` segments it
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
    named = top and isinstance(expr, sympy.Eq) and (isinstance(expr.lhs, sympy.Symbol) or expr.lhs == sympy.I)
    if isinstance(expr, sympy.Eq) and (not expr.free_symbols or named):
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
        [_equations_as_values(e) for e in gold_parsed],
        [_equations_as_values(e) for e in pred_parsed],
        timeout_seconds=None,
    )
