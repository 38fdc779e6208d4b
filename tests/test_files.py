import os

import pytest

from rlcircuits.errors import InputFormatError
from rlcircuits.files import atomic_folder, atomic_output, is_local_path, iter_jsonl, read_json


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


def test_atomic_folder_replaces_the_old_one_only_on_success(tmp_path):
    out = tmp_path / "model"
    with atomic_folder(out) as folder:
        (folder / "weights").write_text("v1")
        os.chmod(folder / "weights", 0o600)
        assert not out.exists()
    assert (out / "weights").read_text() == "v1"
    assert (out / "weights").stat().st_mode & 0o777 == 0o666 & ~_current_umask()
    with pytest.raises(RuntimeError, match="killed"), atomic_folder(out) as folder:
        (folder / "weights").write_text("half")
        raise RuntimeError("killed")
    assert (out / "weights").read_text() == "v1"
    with atomic_folder(out) as folder:
        (folder / "weights").write_text("v2")
    assert (out / "weights").read_text() == "v2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no scratch or stale folder left


def _current_umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def test_iter_jsonl_names_the_line(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"a": 1}\n\n{"b": \n')
    rows = iter_jsonl(path)
    assert next(rows) == (f"{path}:1", {"a": 1})
    with pytest.raises(InputFormatError, match=r"a\.jsonl:3: invalid JSON"):
        next(rows)
    with pytest.raises(InputFormatError, match="graded file not found"):
        next(iter_jsonl(tmp_path / "none.jsonl", what="graded file"))


@pytest.mark.parametrize(
    ("name", "local"),
    [
        ("/abs/model", True),
        ("./model", True),
        ("../model", True),
        ("~/model", True),
        ("results/demo/zoo/sft/llama", True),
        ("deepseek-ai/deepseek-math-7b-rl", False),
        ("gpt2", False),
    ],
)
def test_is_local_path(name, local):
    """The loaders and rules/common.smk's model_path decide "local folder or Hub id" with this one function."""
    assert is_local_path(name) is local


def test_read_json_names_the_file_and_line(tmp_path):
    (tmp_path / "a.json").write_text('{"x": [1, 2]}')
    assert read_json(tmp_path / "a.json") == {"x": [1, 2]}
    with pytest.raises(InputFormatError, match=r"b\.json: metrics file not found"):
        read_json(tmp_path / "b.json", "metrics file")
    (tmp_path / "c.json").write_text('{"x":\n oops}')
    with pytest.raises(InputFormatError, match=r"c\.json: invalid JSON at line 2"):
        read_json(tmp_path / "c.json")
