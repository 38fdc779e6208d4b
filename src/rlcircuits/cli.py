"""The stage scripts' shared behaviour: the user's input errors become one line on stderr and exit 1."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from rlcircuits.errors import RLCircuitsError


def run_stage(name: str, action: Callable[[], None]) -> int:
    """Run a stage's work; an RLCircuitsError (bad input) is reported in one line, not raised.

    Anything else is a bug (or a library's internal failure) and keeps its traceback. Every stage
    writes its outputs atomically, so a failed run leaves nothing behind.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        action()
    except RLCircuitsError as exc:
        print(f"{name}: error: {exc}", file=sys.stderr)
        return 1
    return 0


def add_settings(
    parser: argparse.ArgumentParser,
    defaults: Any,
    helps: Mapping[str, str],
    choices: Mapping[str, Sequence[str]] | None = None,
) -> None:
    """One ``--field-name`` option per named field of a settings dataclass, typed and defaulted by it.

    The dataclass stays the one place a default is written; the help says it. A field named in
    ``choices`` accepts only those values; a boolean field takes ``true`` or ``false``.
    """
    for name, text in helps.items():
        default = getattr(defaults, name)
        flag = "--" + name.replace("_", "-")
        allowed = (choices or {}).get(name)
        kind = _boolean if isinstance(default, bool) else type(default)
        parser.add_argument(flag, type=kind, default=default, choices=allowed, help=f"{text} (default: {default})")


def _boolean(text: str) -> bool:
    """``true``/``false`` (any case), as a config's YAML booleans reach the command line."""
    if text.lower() not in ("true", "false"):
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
    return text.lower() == "true"


S = TypeVar("S")


def settings_from(args: argparse.Namespace, kind: type[S]) -> S:
    """The ``kind`` settings from the parsed options that name its fields (the rest keep their defaults)."""
    names = [field.name for field in dataclasses.fields(kind)]  # type: ignore[arg-type]
    return kind(**{name: getattr(args, name) for name in names if hasattr(args, name)})
