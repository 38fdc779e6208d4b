"""The stage scripts' shared behaviour: the user's input errors become one line on stderr and exit 1."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

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
