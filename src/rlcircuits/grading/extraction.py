"""A model's final answer from its text: the first extraction rule that yields something.

The rules, in order: the last ``\\boxed{}``; the sentence after the last "The answer is"
(Mistral/Math-Shepherd style, its "ки" step tag stripped); the sentence after the last "final
answer is"; the last number in the answer (thousands commas dropped).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from rlcircuits.latex import last_boxed

_MARKERS = (re.compile(r"the answer is", re.IGNORECASE), re.compile(r"final answer is", re.IGNORECASE))
_STEP_TAG = "ки"
# A number, with thousands commas only in groups of three ("2,125"; "1,2" is two numbers).
NUMBER = r"-?(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?|-?\.\d+"
_NUMBER_RE = re.compile(NUMBER)


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


def _candidates(text: str) -> Iterator[str | None]:
    """The extraction rules in order, each evaluated only if the ones before found nothing."""
    yield last_boxed(text)
    for marker in _MARKERS:
        yield _after_marker(text, marker)
    yield _last_number(text)


def extract_answer(text: str) -> str | None:
    """The model's final answer as a string, or None if no rule finds one (see module doc)."""
    return next((pred for pred in _candidates(text) if pred), None)
