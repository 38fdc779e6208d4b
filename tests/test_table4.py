"""Table 4 (accuracy per pair x role x dataset) from graded files, and scripts/table4.py."""

from pathlib import Path

import pytest

from cli_failure import fails_cleanly
from records import graded, write_records
from rlcircuits.errors import InputFormatError, SettingsError
from rlcircuits.tables import table4
from script_loader import load_script

TABLE4 = load_script("table4")


def _graded_file(root: Path, model: str, dataset: str, statuses: list[tuple[bool, str]]) -> Path:
    return write_records(
        root / model / f"{dataset}.jsonl", [graded(f"q{i}", c, s) for i, (c, s) in enumerate(statuses)]
    )


EXPECTED_TABLE4 = (
    "pair,role,dataset,n,n_correct,accuracy_pct,no_answer,timeouts,crashed\n"
    "alpha,base,gsm8k,4,1,25,1,1,0\n"
    "alpha,rl,gsm8k,4,3,75,0,0,0\n"
    "alpha,base,math,3,2,66.66666667,0,0,1\n"
    "beta,base,gsm8k,4,1,25,1,1,0\n"
    "beta,rl,gsm8k,1,1,100,0,0,0\n"
)


@pytest.fixture
def graded_cells(tmp_path) -> list[list[str]]:
    """Table 4 cells in no particular order; pairs alpha and beta share their base model's files."""
    root = tmp_path / "graded"
    sft = _graded_file(root, "sft", "gsm8k", [(True, "ok"), (False, "ok"), (False, "no_answer"), (False, "timeout")])
    return [
        ["beta", "rl", "gsm8k", str(_graded_file(root, "beta-rl", "gsm8k", [(True, "ok")]))],
        ["alpha", "rl", "gsm8k", str(_graded_file(root, "alpha-rl", "gsm8k", [(True, "ok")] * 3 + [(False, "ok")]))],
        [
            "alpha",
            "base",
            "math",
            str(_graded_file(root, "sft", "math", [(True, "ok"), (True, "ok"), (False, "crashed")])),
        ],
        ["alpha", "base", "gsm8k", str(sft)],
        ["beta", "base", "gsm8k", str(sft)],
    ]


def _cell_args(cells) -> list[str]:
    return [arg for cell in cells for arg in ("--cell", *cell)]


def test_table4_rows_per_pair_role_dataset_are_sorted_and_byte_stable(tmp_path, graded_cells):
    out = tmp_path / "tables" / "table4.csv"
    assert TABLE4.main([*_cell_args(graded_cells), "--out", str(out)]) == 0
    assert out.read_text() == EXPECTED_TABLE4
    again = tmp_path / "again.csv"
    assert TABLE4.main([*_cell_args(reversed(graded_cells)), "--out", str(again)]) == 0
    assert again.read_bytes() == out.read_bytes()


@pytest.mark.parametrize(
    ("role", "setup", "message"),
    [
        (
            "rl",
            lambda root: write_records(root / "m" / "d.jsonl", [graded("q", None)]),
            r"d\.jsonl:1: correct must be true or false",
        ),
        ("rl", lambda root: _graded_file(root, "m", "d", [(True, "late")]), r"d\.jsonl:1: grade_status must be one of"),
        ("rl", lambda root: _graded_file(root, "m", "d", []), r"d\.jsonl: graded file has no records"),
    ],
)
def test_table4_refuses_bad_graded_files(tmp_path, role, setup, message):
    path = setup(tmp_path / "graded")
    with pytest.raises(InputFormatError, match=message):
        table4([("p", role, "d", path)])


def test_a_cell_names_a_role_of_the_pair():
    with pytest.raises(SettingsError, match=r"Table 4 cell p/sft/d: role must be one of \('base', 'rl'\)"):
        table4([("p", "sft", "d", "unread.jsonl")])


def test_table4_cli_errors(tmp_path, graded_cells, capsys):
    out = tmp_path / "t.csv"
    missing = tmp_path / "nothing.jsonl"
    err = fails_cleanly(
        capsys,
        TABLE4.main,
        ["--cell", "p", "rl", "d", str(missing), "--out", str(out)],
        "table4",
        "graded file not found",
    )
    assert err == f"table4: error: {missing}: graded file not found\n"
    fails_cleanly(
        capsys,
        TABLE4.main,
        [*_cell_args(graded_cells[:1] * 2), "--out", str(out)],
        "table4",
        "Table 4 cell pair/role/dataset beta/rl/gsm8k is given twice",
        [out],
    )
