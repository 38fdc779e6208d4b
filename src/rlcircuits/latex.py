"""Brace-matched ``\\boxed{...}`` extraction, shared by gold answers (MATH) and model answers."""

from __future__ import annotations

_BOXED = ("\\boxed", "\\fbox")


def _matching_brace(text: str, open_index: int) -> int | None:
    """Index of the brace closing the one at ``open_index``; None if it never closes."""
    depth = 0
    for index in range(open_index, len(text)):
        char = text[index]
        if char == "{" and text[index - 1 : index] != "\\":
            depth += 1
        elif char == "}" and text[index - 1 : index] != "\\":
            depth -= 1
            if depth == 0:
                return index
    return None


def _box_content(text: str, after: int) -> str | None:
    """Argument of a box command ending at ``after``: braced, or one bare token (``\\boxed 5``)."""
    rest = text[after:]
    stripped = rest.lstrip()
    if stripped.startswith("{"):
        open_index = after + len(rest) - len(stripped)
        close = _matching_brace(text, open_index)
        return None if close is None else text[open_index + 1 : close]
    if rest[:1] == " " and stripped:
        return stripped.split()[0].split("$")[0] or None
    return None


def last_boxed(text: str) -> str | None:
    """Content of the last complete ``\\boxed{...}`` (or ``\\fbox{...}``) in ``text``, else None.

    Braces are matched, so ``\\boxed{\\frac{1}{2}}`` gives ``\\frac{1}{2}``; the bare form
    ``\\boxed 5`` gives ``5``; an unclosed box is skipped in favour of an earlier complete one.
    """
    found: list[tuple[int, str]] = []
    for command in _BOXED:
        start = text.find(command)
        while start != -1:
            content = _box_content(text, start + len(command))
            if content is not None:
                found.append((start, content))
            start = text.find(command, start + 1)
    return max(found)[1].strip() if found else None
