"""The one check every CLI-failure test makes: exit 1, one `<stage>: error: …` line, no traceback, no output."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import pytest


def fails_cleanly(
    capsys: pytest.CaptureFixture[str],
    main: Callable[[list[str]], int],
    argv: list[str],
    stage: str,
    message: str,
    outputs: Iterable[Path] = (),
) -> str:
    """Run a stage script's main() in-process and check it failed the way a user should see it.

    The one error line names the stage and holds ``message``; neither an output nor a temporary
    file beside one is left. Returns all of stderr, for a stricter check.
    """
    assert main(argv) == 1
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith(f"{stage}: error: ")]
    assert len(errors) == 1 and message in errors[0], err
    assert "Traceback" not in err, err
    for path in outputs:
        assert not path.exists(), path
        assert not list(path.parent.glob(".*.tmp")), path
    return err
