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
from rlcircuits.metrics import edge_values, intensity_per_sample, pooled_complexity
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
    for name, metric in record["metrics"].items():
        assert "bootstrap-t" in metric["test"] and ("sign-flip" in metric["test"]) == (name != "diversity"), name
        assert 0 < metric["p_value"] <= 1 and metric["ci_low"] <= metric["difference"] <= metric["ci_high"], name
        assert metric["difference"] == pytest.approx(metric["rl"] - metric["base"]), name
        assert metric["ci_low"] <= metric["ci_high"] and set(metric["paper"]) == {"base", "rl"}, name
    assert set(record["metrics"]) == {"intensity", "scale_free_intensity", "complexity", "kurtosis", "diversity"}
    for name in ("scale_free_intensity", "complexity", "kurtosis"):  # means of the per-sample arrays
        assert record["metrics"][name]["rl"] == pytest.approx(np.mean(record["per_sample"][name]["rl"]))
    paper = record["metrics"]["intensity"]["paper"]
    full = base.scores.shape[1] * base.scores.shape[2]
    assert paper["base"] == pytest.approx(intensity["base"] * base.edge_mask.sum() / full)
    assert record["metrics"]["complexity"]["paper"]["rl"] == pytest.approx(
        pooled_complexity(edge_values(rl.scores, rl.edge_mask, "paper"))
    )
    change = record["relative_edge_change"]
    assert change[1][0] is None and change[0][0] is not None  # attn0 -> attn0.q is not an edge
    entropy = record["output_edge_entropy"]["rl"]
    assert len(entropy) == len(record["src_names"]) and entropy[-1] is None  # the last MLP has one out-edge
    assert record["undefined_edge_changes"] == 0


def test_a_constant_sample_is_a_named_error_and_a_zero_base_edge_is_counted(npz_pair):
    base, rl = load_attribution(npz_pair["base"]), load_attribution(npz_pair["rl"])
    flat = dataclasses.replace(base, scores=base.scores.copy())
    flat.scores[2] = np.where(base.edge_mask, 1.0, 0.0)
    with pytest.raises(InputFormatError, match=r"cell-y \(base\): sample q2 has identical scores on every edge"):
        analyze_cell(flat, rl, label="cell-y", resamples=50)
    unused = dataclasses.replace(base, scores=base.scores.copy())
    unused.scores[:, 0, 0] = 0.0
    record = analyze_cell(unused, rl, label="cell-z", resamples=50)
    assert record["relative_edge_change"][0][0] is None and record["undefined_edge_changes"] == 1
    json.dumps(record, allow_nan=False)  # no NaN or inf reaches the JSON


def test_a_model_that_only_rescales_its_scores_moves_raw_intensity_alone(npz_pair):
    """RL = base with each question's scores multiplied by its own factor: only raw intensity changes."""
    base = load_attribution(npz_pair["base"])
    factors = np.linspace(0.3, 3.0, len(base.sample_ids)).reshape(-1, 1, 1)
    rescaled = dataclasses.replace(base, scores=(base.scores * factors).astype(np.float32))
    metrics = analyze_cell(base, rescaled, label="rescaled", resamples=99)["metrics"]
    assert metrics["intensity"]["difference"] > 0 and metrics["intensity"]["p_value"] < 1
    for name in ("scale_free_intensity", "complexity", "kurtosis", "diversity"):
        assert metrics[name]["difference"] == pytest.approx(0.0, abs=1e-6), name


def test_mismatched_samples_are_refused(npz_pair):
    base, rl = load_attribution(npz_pair["base"]), load_attribution(npz_pair["rl"])
    rl = dataclasses.replace(rl, sample_ids=rl.sample_ids[::-1])
    with pytest.raises(InputFormatError, match="cell-x: base and RL attribution files differ in sample_ids"):
        analyze_cell(base, rl, label="cell-x")


@pytest.mark.parametrize(
    ("key", "base_value", "rl_value"),
    [("method", "eap", "eap_ig"), ("granularity", "module", "head"), ("loss", "own_answer", "shared_answer")],
)
def test_files_of_two_variants_are_refused(npz_pair, key, base_value, rl_value):
    """A metric change between files of different methods, graphs or losses would be the variant's, not RL's."""
    base, rl = load_attribution(npz_pair["base"]), load_attribution(npz_pair["rl"])
    base, rl = dataclasses.replace(base, **{key: base_value}), dataclasses.replace(rl, **{key: rl_value})
    with pytest.raises(InputFormatError, match=f"cell-v: base and RL attribution files differ in {key}"):
        analyze_cell(base, rl, label="cell-v", resamples=50)


def test_cli_writes_the_metrics_json(npz_pair, tmp_path, capsys):
    cli = load_script("analyze")
    out = tmp_path / "metrics" / "tiny" / "toy" / "alpha0.5.json"
    args = [
        "--base",
        str(npz_pair["base"]),
        "--rl",
        str(npz_pair["rl"]),
        "--pair",
        "tiny",
        "--dataset",
        "toy",
        "--alpha",
        "0.5",
        "--resamples",
        "40",
        "--out",
        str(out),
    ]
    assert cli.main(args) == 0
    record = json.loads(out.read_text())
    assert (record["pair"], record["dataset"], record["alpha"]) == ("tiny", "toy", 0.5)
    assert record["options"] == {"bins": 100, "kurtosis_of": "signed"} and record["resamples"] == 40
    missing = tmp_path / "nope.json"
    argv = [*args[:1], str(tmp_path / "absent.npz"), *args[2:-1], str(missing)]
    fails_cleanly(capsys, cli.main, argv, "analyze", "absent.npz: attribution file not found", [missing])
