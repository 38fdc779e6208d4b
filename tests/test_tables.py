import json

import pandas as pd
import pytest

from cli_failure import fails_cleanly
from rlcircuits.errors import InputFormatError
from rlcircuits.tables import TABLE1_COLUMNS, read_cell, table1
from rlcircuits.vocabulary import METRICS
from script_loader import load_script


def _cell(pair: str, alpha: float, p: float, base: float = 1.0, rl: float = 1.2) -> dict:
    metric = {
        "test": "paired role-swap permutation",
        "base": base,
        "rl": rl,
        "difference": rl - base,
        "ci_low": min(0, rl - base),
        "ci_high": max(0, rl - base),
        "p_value": p,
        "n": 50,
        "paper": {"base": base / 2, "rl": rl / 4},
    }
    return {
        "pair": pair,
        "dataset": "math",
        "alpha": alpha,
        "metrics": {m: dict(metric) for m in METRICS},
    }


def test_rows_directions_and_fdr():
    frame = table1(
        [_cell("qwen25", 0.1, 0.04), _cell("mistral", 0.5, 0.001, rl=0.8)], {"mistral": "PPO", "qwen25": "DPO"}
    )
    assert list(frame.columns) == list(TABLE1_COLUMNS) and len(frame) == 10
    assert list(frame["pair"]) == ["mistral"] * 5 + ["qwen25"] * 5
    assert list(frame["metric"][:5]) == ["intensity", "scale_free_intensity", "complexity", "kurtosis", "diversity"]
    mistral = frame[frame["pair"] == "mistral"].set_index("metric")
    assert mistral.loc["intensity", "relative_change"] == pytest.approx(-0.2)
    # RL went down: only kurtosis (expected to fall) moved as the paper expects.
    assert mistral["as_expected"].to_dict() == {
        "intensity": False,
        "scale_free_intensity": False,
        "complexity": False,
        "kurtosis": True,
        "diversity": False,
    }
    assert mistral.loc["intensity", "algorithm"] == "PPO"
    # Both conventions in every row: the paper's normalisation beside ours.
    assert mistral.loc["intensity", "paper_base"] == 0.5 and mistral.loc[
        "intensity", "paper_relative_change"
    ] == pytest.approx(-0.6)
    assert mistral.loc["kurtosis", "difference"] == pytest.approx(-0.2) and mistral.loc[
        "kurtosis", "ci_low"
    ] == pytest.approx(-0.2)
    # BH over 10 tests: p 0.001 (x5) -> q 0.002; p 0.04 (x5) -> q 0.04.
    assert mistral["q_value"].tolist() == pytest.approx([0.002] * 5)
    qwen = frame[frame["pair"] == "qwen25"]
    assert qwen["q_value"].tolist() == pytest.approx([0.04] * 5) and qwen["significant"].all()


def test_cli_and_bad_files(tmp_path, capsys):
    paths = []
    for pair in ("a", "b"):
        paths.append(tmp_path / f"{pair}.json")
        paths[-1].write_text(json.dumps(_cell(pair, 0.3, 0.5)))
    cli = load_script("tables")
    out = tmp_path / "tables" / "table1.csv"
    args = ["--metrics", *map(str, paths), "--algorithm", "a=GRPO", "--out", str(out)]
    assert cli.main(args) == 0
    first = out.read_bytes()
    assert cli.main(args) == 0 and out.read_bytes() == first  # byte-identical rerun
    assert pd.read_csv(out)["algorithm"].tolist() == ["GRPO"] * 5 + ["unknown"] * 5
    old = tmp_path / "old.json"  # an analyze of before the paper convention existed
    cell = _cell("a", 0.3, 0.5)
    del cell["metrics"]["kurtosis"]["paper"]
    old.write_text(json.dumps(cell))
    with pytest.raises(InputFormatError, match=r"old\.json: metrics\.kurtosis lacks paper"):
        read_cell(old)
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"pair": "x", "dataset": "d", "alpha": 0.1, "metrics": {"intensity": {}}}))
    with pytest.raises(
        InputFormatError, match=r"broken\.json: missing metrics scale_free_intensity, complexity, kurtosis, diversity"
    ):
        read_cell(broken)
    before = tmp_path / "before.json"  # an analyze of before the scale-free intensity existed
    cell = _cell("a", 0.3, 0.5)
    del cell["metrics"]["scale_free_intensity"]
    before.write_text(json.dumps(cell))
    with pytest.raises(InputFormatError, match=r"missing metrics scale_free_intensity \(written by an older analyze"):
        read_cell(before)
    argv = ["--metrics", str(broken), "--out", str(tmp_path / "t.csv")]
    fails_cleanly(capsys, cli.main, argv, "tables", "broken.json: missing metrics", [tmp_path / "t.csv"])
