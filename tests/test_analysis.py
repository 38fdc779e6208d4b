"""analyze: two attribution files of one cell -> the metrics record, or a clear error."""

import dataclasses
import json

import numpy as np
import pytest

import tiny_models
from cli_failure import fails_cleanly
from rlcircuits.analysis import analyze_cell
from rlcircuits.contracts import load_attribution, save_attribution
from rlcircuits.eap import attribute, truncated_loss_input
from rlcircuits.errors import InputFormatError
from rlcircuits.metrics import intensity_per_sample
from script_loader import load_script



@pytest.fixture(scope="module")
def npz_pair(tmp_path_factory):
    folder = tmp_path_factory.mktemp("attribution")
    rng = np.random.default_rng(0)
    items = [
        truncated_loss_input(f"q{i}", rng.integers(1, 90, 5 + i).tolist(), rng.integers(1, 90, 8).tolist(), 6)
        for i in range(6)
    ]
    paths = {}
    for role, seed in (("base", 0), ("rl", 1)):
        result = attribute(tiny_models.build("qwen2", seed=seed), items)
        paths[role] = folder / f"{role}.npz"
        save_attribution(paths[role], result, t_cut=6)
    return paths


def test_cell_record(npz_pair):
    base, rl = load_attribution(npz_pair["base"]), load_attribution(npz_pair["rl"])
    record = analyze_cell(base, rl, label="tiny/toy/alpha0.5", resamples=50)
    assert record["n_samples"] == 6 and record["sample_ids"] == [f"q{i}" for i in range(6)]
    intensity = record["metrics"]["intensity"]
    expected = intensity_per_sample(base.scores[:, base.edge_mask].astype(np.float64))
    assert intensity["base"] == pytest.approx(expected.mean())
    assert record["per_sample"]["intensity"]["base"] == pytest.approx(expected.tolist())
    for name in ("complexity", "diversity"):
        metric = record["metrics"][name]
        assert metric["test"] == "bootstrap" and 0 < metric["p_value"] <= 1 and metric["ci_low"] <= metric["ci_high"]
    change = record["relative_edge_change"]
    assert change[1][0] is None and change[0][0] is not None  # attn0 -> attn0.q is not an edge
    assert len(record["output_edge_entropy"]["rl"]) == len(record["src_names"])


def test_mismatched_samples_are_refused(npz_pair):
    base, rl = load_attribution(npz_pair["base"]), load_attribution(npz_pair["rl"])
    rl = dataclasses.replace(rl, sample_ids=rl.sample_ids[::-1])
    with pytest.raises(InputFormatError, match="cell-x: base and RL attribution files differ in sample_ids"):
        analyze_cell(base, rl, label="cell-x")


def test_cli_writes_the_metrics_json(npz_pair, tmp_path, capsys):
    cli = load_script("analyze")
    out = tmp_path / "metrics" / "tiny" / "toy" / "alpha0.5.json"
    args = ["--base", str(npz_pair["base"]), "--rl", str(npz_pair["rl"]), "--pair", "tiny", "--dataset", "toy",
            "--alpha", "0.5", "--resamples", "20", "--out", str(out)]
    assert cli.main(args) == 0
    record = json.loads(out.read_text())
    assert (record["pair"], record["dataset"], record["alpha"]) == ("tiny", "toy", 0.5)
    assert record["options"] == {"bins": 100, "kurtosis_of": "signed", "structural_zeros": False}
    missing = tmp_path / "nope.json"
    argv = [*args[:1], str(tmp_path / "absent.npz"), *args[2:-1], str(missing)]
    fails_cleanly(capsys, cli.main, argv, "analyze", "absent.npz: attribution file not found", [missing])
