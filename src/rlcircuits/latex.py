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


def last_boxed(text: str) -> str | None:
    """Content of the last complete ``\\boxed{...}`` (or ``\\fbox{...}``) in ``text``, else None.

    Braces are matched, so ``\\boxed{\\frac{1}{2}}`` gives ``\\frac{1}{2}``; the unbraced form
    ``\\boxed 5`` gives ``5``. An unclosed last box falls back to the previous complete one.
    """
    best: tuple[int, str] | None = None
    for command in _BOXED:
        start = text.rfind(command)
        while start != -1:
            after = start + len(command)
            rest = text[after:]
            content: str | None = None
            stripped = rest.lstrip()
            if stripped.startswith("{"):
                open_index = after + (len(rest) - len(stripped))
                close = _matching_brace(text, open_index)
                if close is not None:
                    content = text[open_index + 1 : close]
            elif rest[:1] == " " and stripped:
                content = stripped.split("$")[0].split()[0] if stripped.split() else None
            if content is not None:
                if best is None or start > best[0]:
                    best = (start, content)
                break
            start = text.rfind(command, 0, start)
    return None if best is None else best[1].strip()
