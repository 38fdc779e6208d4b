"""scripts/attribute.py end to end: selection file + model folder -> docs/DESIGN.md §3 .npz, or a clear error."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tiny_models
from cli_failure import fails_cleanly
from rlcircuits.contracts import load_attribution
from rlcircuits.eap import MethodSettings, attribute, truncated_loss_input
from script_loader import load_script

SCRIPT = Path(__file__).parents[1] / "scripts" / "attribute.py"


def _selection(path: Path, samples: list[dict], t_bar: float = 8.0) -> Path:
    path.write_text(
        json.dumps(
            {
                "pair": "tiny",
                "dataset": "toy",
                "t_bar": t_bar,
                "thresholds": {},
                "counts": {},
                "fewer_than_n": False,
                "samples": samples,
            }
        )
    )
    return path


def _sample(sample_id: str, shift: int) -> dict:
    return {
        "id": sample_id,
        "base": {"prompt_token_ids": [1, 2, 3 + shift], "answer_token_ids": [10 + shift, 11, 12, 13, 14]},
        "rl": {"prompt_token_ids": [1, 2, 3 + shift], "answer_token_ids": [20, 21 + shift, 22, 23, 24, 25]},
    }


def _run(*args: str) -> subprocess.CompletedProcess:
    """The real command line, in a fresh interpreter, as Snakemake runs it."""
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=False)


CLI = load_script("attribute")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return tiny_models.save(tiny_models.build("qwen2"), tmp_path_factory.mktemp("model") / "qwen2-tiny")


def _common(model_dir: Path, selection: Path, out: Path, role: str = "rl") -> list[str]:
    return [
        "--model",
        str(model_dir),
        "--selection",
        str(selection),
        "--role",
        role,
        "--alpha",
        "0.5",
        "--out",
        str(out),
        "--dtype",
        "float32",
        "--no-progress",
    ]


def test_writes_the_design_npz(tmp_path, model_dir):
    selection = _selection(tmp_path / "sel.json", [_sample("q1", 0), _sample("q2", 4), _sample("q3", 9)])
    out = tmp_path / "attribution" / "rl.npz"
    done = _run(*_common(model_dir, selection, out), "--batch-tokens", "12")
    assert done.returncode == 0, done.stderr
    data = load_attribution(out)
    assert data.scores.dtype == np.float32 and data.scores.shape == (3, 5, 9)
    assert data.edge_mask.dtype == bool and data.edge_mask.sum() == 4 * 4 + 3 * 2 + 1
    assert list(data.src_names) == ["embed", "attn0", "mlp0", "attn1", "mlp1"]
    assert data.dst_names[-1] == "logits" and list(data.sample_ids) == ["q1", "q2", "q3"]
    assert int(data.t_cut) == 4 and list(data.n_targets) == [4, 4, 4]
    # Same numbers as the library on the RL model's own answer, truncated to T_cut = int(0.5 * 8).
    model = tiny_models.build("qwen2")
    items = [
        truncated_loss_input(s["id"], s["rl"]["prompt_token_ids"], s["rl"]["answer_token_ids"], 4)
        for s in json.loads(selection.read_text())["samples"]
    ]
    expected = attribute(model, items)
    np.testing.assert_allclose(data.scores, expected.scores, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(data.losses, expected.losses, rtol=1e-6)
    assert not list(out.parent.glob(".*.tmp"))


def test_one_model_load_writes_one_npz_per_alpha(tmp_path, model_dir):
    """Every alpha of one run equals a run of its own: the loaded model carries nothing from one alpha to the next."""
    selection = _selection(tmp_path / "sel.json", [_sample("q1", 0), _sample("q2", 4)], t_bar=10.0)
    outs = [tmp_path / "alpha0.1" / "base.npz", tmp_path / "alpha0.5" / "base.npz", tmp_path / "alpha0.9" / "base.npz"]
    args = _common(model_dir, selection, outs[0], role="base")
    args[args.index("--alpha") + 1 : args.index("--alpha") + 2] = ["0.1", "0.5", "0.9"]
    args[args.index("--out") + 1 : args.index("--out") + 2] = map(str, outs)
    assert CLI.main(args) == 0
    for alpha, out in zip((0.1, 0.5, 0.9), outs, strict=True):
        alone = tmp_path / f"alone{alpha}.npz"
        assert CLI.main([*_common(model_dir, selection, alone, role="base"), "--alpha", str(alpha)]) == 0
        data, expected = load_attribution(out), load_attribution(alone)
        assert data.alpha == alpha and data.t_cut == max(int(alpha * 10), 1)
        for key in ("scores", "losses", "t_cut", "n_targets", "sample_ids"):
            np.testing.assert_array_equal(getattr(data, key), getattr(expected, key))


def test_methods_and_shared_answer_in_one_load(tmp_path, model_dir):
    """--method eap eap_ig writes one file per (method, alpha), methods outermost, each equal to the
    library's result; --loss shared_answer scores the RL model on the base's prompt and answer."""
    selection = _selection(tmp_path / "sel.json", [_sample("q1", 0), _sample("q2", 4)], t_bar=10.0)
    outs = [tmp_path / f"{name}.npz" for name in ("eap_a1", "eap_a5", "ig_a1", "ig_a5")]
    args = _common(model_dir, selection, outs[0])
    args[args.index("--alpha") + 1 : args.index("--alpha") + 2] = ["0.1", "0.5"]
    args[args.index("--out") + 1 : args.index("--out") + 2] = map(str, outs)
    args += ["--method", "eap", "eap_ig", "--ig-steps", "3", "--ig-baseline", "zero", "--loss", "shared_answer"]
    assert CLI.main(args) == 0
    model = tiny_models.build("qwen2")
    samples = json.loads(selection.read_text())["samples"]
    for out, (method, alpha) in zip(outs, [(m, a) for m in ("eap", "eap_ig") for a in (0.1, 0.5)], strict=True):
        data = load_attribution(out)
        t_cut = max(int(alpha * 10), 1)
        items = [
            truncated_loss_input(s["id"], s["base"]["prompt_token_ids"], s["base"]["answer_token_ids"], t_cut)
            for s in samples
        ]
        expected = attribute(model, items, method=MethodSettings(method, 3, "zero"))
        np.testing.assert_allclose(data.scores, expected.scores, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(data.losses, expected.losses, rtol=1e-6)
        assert (data.method, data.loss, data.answer_role, data.role, data.alpha) == (
            method,
            "shared_answer",
            "base",
            "rl",
            alpha,
        )
        if method == "eap_ig":
            assert (data.ig_steps, data.ig_baseline) == (3, "zero")
            np.testing.assert_allclose(data.baseline_losses, expected.baseline_losses, rtol=1e-6)
        else:
            assert data.ig_steps is None and data.baseline_losses is None


def test_head_granularity_through_the_cli(tmp_path, model_dir):
    selection = _selection(tmp_path / "sel.json", [_sample("q1", 0), _sample("q2", 4)])
    out = tmp_path / "o.npz"
    assert CLI.main([*_common(model_dir, selection, out), "--granularity", "head", "--method", "eap_ig"]) == 0
    data = load_attribution(out)
    items = [
        truncated_loss_input(s["id"], s["rl"]["prompt_token_ids"], s["rl"]["answer_token_ids"], 4)
        for s in json.loads(selection.read_text())["samples"]
    ]
    expected = attribute(tiny_models.build("qwen2"), items, method=MethodSettings("eap_ig"), granularity="head")
    assert data.granularity == "head" and list(data.src_names) == list(expected.graph.src_names)
    assert data.scores.shape == (2, 1 + 2 * 5, 2 * 13 + 1)
    np.testing.assert_allclose(data.scores, expected.scores, rtol=1e-5, atol=1e-7)


def test_own_answer_is_recorded(tmp_path, model_dir):
    selection = _selection(tmp_path / "sel.json", [_sample("q1", 0)])
    out = tmp_path / "o.npz"
    assert CLI.main(_common(model_dir, selection, out)) == 0
    data = load_attribution(out)
    assert (data.method, data.loss, data.answer_role, data.ig_steps) == ("eap", "own_answer", "rl", None)
    assert data.granularity == "module"


def test_each_alpha_needs_its_output(capsys, tmp_path, model_dir):
    selection = _selection(tmp_path / "sel.json", [_sample("q1", 0)])
    with pytest.raises(SystemExit) as exit_info:
        CLI.main([*_common(model_dir, selection, tmp_path / "a.npz"), "--alpha", "0.1", "0.5"])
    assert exit_info.value.code == 2
    assert "1 --method x 2 --alpha value(s) but 1 --out path(s)" in capsys.readouterr().err


def _fails(capsys, args: list[str], out: Path, message: str) -> None:
    fails_cleanly(capsys, CLI.main, args, "attribute", message, [out])


def test_missing_model(capsys, tmp_path):
    selection = _selection(tmp_path / "sel.json", [_sample("q1", 0)])
    out = tmp_path / "o.npz"
    _fails(capsys, _common(tmp_path / "no-model", selection, out), out, "model folder not found")


def test_empty_selection(capsys, tmp_path, model_dir):
    selection = _selection(tmp_path / "sel.json", [])
    out = tmp_path / "o.npz"
    _fails(capsys, _common(model_dir, selection, out), out, "sel.json: the selection is empty")


def test_token_outside_vocabulary(capsys, tmp_path, model_dir):
    bad = _sample("q-bad", 0)
    bad["base"]["answer_token_ids"][1] = 5000
    selection = _selection(tmp_path / "sel.json", [_sample("q1", 0), bad])
    out = tmp_path / "o.npz"
    _fails(capsys, _common(model_dir, selection, out, role="base"), out, "q-bad: token id 5000 is outside")


def test_malformed_selection_names_the_key(capsys, tmp_path, model_dir):
    broken = _sample("q1", 0)
    del broken["rl"]["answer_token_ids"]
    selection = _selection(tmp_path / "sel.json", [broken])
    out = tmp_path / "o.npz"
    _fails(capsys, _common(model_dir, selection, out), out, "missing key samples[0].rl.answer_token_ids")


def test_non_finite_weights_are_refused_before_attribution(capsys, tmp_path):
    model = tiny_models.build("llama")
    model.model.layers[0].self_attn.o_proj.weight[1, 1] = float("nan")
    folder = tiny_models.save(model, tmp_path / "nan-model")
    selection = _selection(tmp_path / "sel.json", [_sample("q1", 0)])
    out = tmp_path / "o.npz"
    _fails(capsys, _common(folder, selection, out), out, "non-finite activations in a 4-token probe")


def test_non_finite_scores(capsys, tmp_path):
    model = tiny_models.build("llama")
    model.model.embed_tokens.weight[21] = float("nan")  # only the sample reads token 21, not the probe
    folder = tiny_models.save(model, tmp_path / "nan-model")
    selection = _selection(tmp_path / "sel.json", [_sample("q1", 0)])
    out = tmp_path / "o.npz"
    _fails(capsys, _common(folder, selection, out), out, "non-finite scores or loss for 1 sample(s): q1")


def test_interrupted_write_leaves_no_output(tmp_path, monkeypatch):
    """A job killed while saving leaves neither the output nor a temporary file behind."""
    from rlcircuits import contracts

    model = tiny_models.build("llama")
    result = attribute(model, [truncated_loss_input("q", [1, 2], [3, 4], 2)])
    out = tmp_path / "o.npz"

    def explode(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", explode)
    with pytest.raises(KeyboardInterrupt):
        contracts.save_attribution(out, result, t_cut=2)
    assert list(tmp_path.iterdir()) == []
