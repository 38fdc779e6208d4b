"""cli.run_stage: the user's errors become one line and exit 1; anything else keeps its traceback."""

import pytest

from rlcircuits.cli import run_stage
from rlcircuits.errors import RLCircuitsError, SettingsError


def _raise(exc: Exception):
    def action() -> None:
        raise exc

    return action


def test_a_project_error_is_one_line(capsys):
    assert run_stage("stage", _raise(SettingsError("--n must be at least 1"))) == 1
    assert capsys.readouterr().err == "stage: error: --n must be at least 1\n"


def test_a_bug_keeps_its_traceback():
    """A ValueError from numpy or a bug is not the user's input: it must not be disguised as one."""
    with pytest.raises(ValueError, match="operands could not be broadcast"):
        run_stage("stage", _raise(ValueError("operands could not be broadcast")))


def test_a_settings_error_is_both_kinds():
    """Library callers that catch the ValueError of a bad value still catch it."""
    assert issubclass(SettingsError, RLCircuitsError) and issubclass(SettingsError, ValueError)


def test_success_is_exit_zero():
    assert run_stage("stage", lambda: None) == 0
