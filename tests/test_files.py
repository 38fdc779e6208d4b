import os

import pytest

from rlcircuits.errors import InputFormatError
from rlcircuits.files import atomic_output, iter_jsonl


def test_atomic_output_appears_only_on_success_with_the_usual_mode(tmp_path):
    previous = os.umask(0o022)
    try:
        with atomic_output(tmp_path / "x.txt", "w") as handle:
            handle.write("x")
        with pytest.raises(RuntimeError), atomic_output(tmp_path / "y.txt", "w") as handle:
            handle.write("half")
            raise RuntimeError("killed")
    finally:
        os.umask(previous)
    assert (tmp_path / "x.txt").stat().st_mode & 0o777 == 0o644  # not mkstemp's 0600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.txt"]


def test_iter_jsonl_names_the_line(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"a": 1}\n\n{"b": \n')
    rows = iter_jsonl(path)
    assert next(rows) == (f"{path}:1", {"a": 1})
    with pytest.raises(InputFormatError, match=r"a\.jsonl:3: invalid JSON"):
        next(rows)
    with pytest.raises(InputFormatError, match="graded file not found"):
        next(iter_jsonl(tmp_path / "none.jsonl", what="graded file"))
