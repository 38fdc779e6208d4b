"""Table 4 (accuracy per pair x role x dataset) from graded files, and scripts/table4.py."""

from pathlib import Path

import pytest

from records import graded, write_records
from rlcircuits.errors import InputFormatError
from rlcircuits.tables import table4
from script_loader import load_script

TABLE4 = load_script("table4")


def _graded_file(root: Path, pair: str, role: str, dataset: str, statuses: list[tuple[bool, str]]) -> Path:
    return write_records(root / pair / role / f"{dataset}.jsonl", [graded(f"q{i}", c, s) for i, (c, s) in enumerate(statuses)])


EXPECTED_TABLE4 = (
    "pair,role,dataset,n,n_correct,accuracy_pct,no_answer,timeouts,crashed\n"
    "alpha,base,gsm8k,4,1,25,1,1,0\n"
    "alpha,rl,gsm8k,4,3,75,0,0,0\n"
    "alpha,base,math,3,2,66.66666667,0,0,1\n"
    "beta,rl,gsm8k,1,1,100,0,0,0\n"
)


@pytest.fixture
def graded_root(tmp_path) -> Path:
    root = tmp_path / "graded"
    _graded_file(root, "beta", "rl", "gsm8k", [(True, "ok")])
    _graded_file(root, "alpha", "rl", "gsm8k", [(True, "ok"), (True, "ok"), (True, "ok"), (False, "ok")])
    _graded_file(root, "alpha", "base", "math", [(True, "ok"), (True, "ok"), (False, "crashed")])
    _graded_file(root, "alpha", "base", "gsm8k", [(True, "ok"), (False, "ok"), (False, "no_answer"), (False, "timeout")])
    return root


def test_table4_from_a_root_is_sorted_and_byte_stable(tmp_path, graded_root):
    out = tmp_path / "tables" / "table4.csv"
    assert TABLE4.main(["--graded-root", str(graded_root), "--out", str(out)]) == 0
    assert out.read_text() == EXPECTED_TABLE4
    files = [str(p) for p in reversed(sorted(graded_root.glob("*/*/*.jsonl")))]
    again = tmp_path / "again.csv"
    assert TABLE4.main(["--graded", *files, "--out", str(again)]) == 0
    assert again.read_bytes() == out.read_bytes()


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda root: _graded_file(root, "p", "sft", "d", [(True, "ok")]), r"role one of \('base', 'rl'\)"),
        (lambda root: write_records(root / "p" / "rl" / "d.jsonl", [graded("q", None)]),
         r"d\.jsonl:1: correct must be true or false"),
        (lambda root: _graded_file(root, "p", "rl", "d", [(True, "late")]), r"d\.jsonl:1: grade_status must be one of"),
        (lambda root: _graded_file(root, "p", "rl", "d", []), r"d\.jsonl: graded file has no records"),
    ],
)
def test_table4_refuses_bad_graded_files(tmp_path, setup, message):
    setup(tmp_path / "graded")
    with pytest.raises(InputFormatError, match=message):
        table4(sorted((tmp_path / "graded").glob("*/*/*.jsonl")))


def test_table4_cli_errors(tmp_path, graded_root, capsys):
    out = tmp_path / "t.csv"
    assert TABLE4.main(["--graded-root", str(tmp_path / "nothing"), "--out", str(out)]) == 1
    assert capsys.readouterr().err == f"table4: error: {tmp_path / 'nothing'}: graded folder not found\n"
    twice = [str(graded_root / "beta" / "rl" / "gsm8k.jsonl")] * 2
    assert TABLE4.main(["--graded", *twice, "--out", str(out)]) == 1
    assert "two graded files for pair/role/dataset beta/rl/gsm8k" in capsys.readouterr().err
    assert not out.exists()
