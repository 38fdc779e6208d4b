import ast
import runpy
import sys

import pytest

from script_loader import BENCH_DIR, SCRIPTS

# Every command-line program and one option its --help must list (its parser, not just any parser).
HELP_FLAGS = {
    "scripts/analyze.py": "--kurtosis-of",
    "scripts/attribute.py": "--batch-tokens",
    "scripts/dynamics.py": "--run-config",
    "scripts/dynamics_point.py": "--selection",
    "scripts/faithfulness.py": "--single-edge",
    "scripts/faithfulness_figure.py": "--records",
    "scripts/fetch_model.py": "--revision",
    "scripts/figures.py": "--fig2",
    "scripts/generate.py": "--tensor-parallel-size",
    "scripts/grade.py": "--workers",
    "scripts/preflight.py": "--config-name",
    "scripts/render_report.py": "--run-config",
    "scripts/select_samples.py": "--against-base",
    "scripts/study.py": "--tables-dir",
    "scripts/table4.py": "--cell",
    "scripts/tables.py": "--algorithm",
    "scripts/train_rl.py": "--checkpoint-every",
    "scripts/train_hub_rl.py": "--checkpoint-every",
    "scripts/train_sft.py": "--architecture",
    "scripts/zoo_tasks.py": "--n-test",
    "bench/bench_attribution.py": "--find-max-tokens",
    "bench/bench_audit.py": "--variants",
    "bench/bench_grading.py": "--sample",
    "bench/bench_rl_step.py": "--rounds",
}


def test_every_program_has_a_help_check():
    programs = {f"{folder.name}/{p.name}" for folder in (SCRIPTS, BENCH_DIR) for p in folder.glob("*.py")}
    assert programs == set(HELP_FLAGS)


# Programs that import the zoo's TRL 1.x at module level: the image has TRL 0.19 only (the trl marker skips them there).
NEEDS_TRL = {"bench/bench_rl_step.py"}


@pytest.mark.parametrize(
    ("program", "flag"),
    [
        pytest.param(program, flag, marks=[pytest.mark.trl] if program in NEEDS_TRL else [])
        for program, flag in HELP_FLAGS.items()
    ],
)
def test_help(program, flag, capsys, monkeypatch):
    """`python <program> --help` exits 0 and shows the program's docstring and its own options."""
    path = SCRIPTS.parent / program
    monkeypatch.setattr(sys, "argv", [str(path), "--help"])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(path), run_name="__main__")
    help_text = capsys.readouterr().out
    assert exit_info.value.code == 0
    assert help_text.startswith("usage: ") and flag in help_text
    assert ast.get_docstring(ast.parse(path.read_text())).splitlines()[0] in help_text


def test_no_script_shadows_a_standard_library_module():
    """`python scripts/x.py` puts scripts/ first on sys.path: a scripts/select.py would replace
    the standard `select` module for every script (subprocess imports it)."""
    clashes = sorted(p.name for p in SCRIPTS.glob("*.py") if p.stem in sys.stdlib_module_names)
    assert clashes == []
