"""cli.run_stage: the user's errors become one line and exit 1; anything else keeps its traceback.
And the settings options that the training CLIs build from their settings dataclasses."""

import argparse
import dataclasses

import pytest

from rlcircuits.cli import add_settings, run_stage, settings_from
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


@dataclasses.dataclass(frozen=True)
class _Settings:
    steps: int = 40
    learning_rate: float = 5e-5
    hidden: str = "kept"  # not offered on the command line: keeps its default


def test_settings_options_take_type_and_default_from_the_dataclass():
    parser = argparse.ArgumentParser()
    add_settings(parser, _Settings(), {"steps": "optimiser steps", "learning_rate": "AdamW rate"})
    assert "optimiser steps (default: 40)" in parser.format_help()
    assert settings_from(parser.parse_args([]), _Settings) == _Settings()
    args = parser.parse_args(["--steps", "7", "--learning-rate", "1e-3"])
    assert settings_from(args, _Settings) == _Settings(steps=7, learning_rate=1e-3)
    with pytest.raises(SystemExit):
        parser.parse_args(["--steps", "seven"])
