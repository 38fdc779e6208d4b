"""Faithfulness stage: exact zero-ablations against a direct float64 computation, the curve's endpoints
and its sanity on a planted model, the record's contract, the CLI's errors."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats

import fd_reference
import tiny_models
from cli_failure import fails_cleanly
from rlcircuits.audit import FaithfulnessRecord, MethodFaithfulness, read_faithfulness, write_faithfulness
from rlcircuits.contracts import load_attribution
from rlcircuits.eap import attribute, truncated_loss_input
from rlcircuits.errors import InputFormatError
from rlcircuits.faithfulness import Ablator, kept_masks, recovery_curve, spearman_per_sample
from script_loader import load_script

ITEMS = [
    truncated_loss_input("long", [3, 5, 7, 9, 11, 13], [20, 21, 22, 23, 24, 25], t_cut=4),
    truncated_loss_input("short", [2, 4], [60, 61, 62], t_cut=3),
]


def _exact_model(arch: str) -> torch.nn.Module:
    return tiny_models.exact_float64_norms(tiny_models.build(arch, layers=2, dtype=torch.float64))


def _reference_effect(model, item, src: str, dst: str) -> float:
    """The loss with dst's own input minus src's clean output (fd_reference's hooks), minus the clean loss."""
    embeds = fd_reference.embeddings(model, list(item.input_ids))
    removed = fd_reference.source_outputs(model, embeds)[src]
    handles = fd_reference._perturbing_hook(model, dst, -removed)
    try:
        ablated = fd_reference.loss_at(model, embeds, list(item.targets), item.prompt_len)
    finally:
        for handle in handles:
            handle.remove()
    return ablated - fd_reference.loss_at(model, embeds, list(item.targets), item.prompt_len)


# Llama (full attention) and grouped-query Qwen2 (q/k/v biases); both layouts.
@pytest.mark.parametrize(("arch", "layout"), [("llama", "paper"), ("qwen2", "paper"), ("qwen2", "module")])
def test_single_edge_ablations_match_a_direct_computation(arch, layout):
    model = _exact_model(arch)
    ablator = Ablator(model, ITEMS, layout=layout, batch_tokens=10_000)
    graph = ablator.graph
    clean = ablator.losses(np.zeros((len(ITEMS), *graph.edge_mask.shape), dtype=bool))
    effects = ablator.single_edge_effects(clean)
    edges = list(zip(*np.nonzero(graph.edge_mask), strict=True))
    assert effects.shape == (len(ITEMS), len(edges))
    for row, item in enumerate(ITEMS):
        assert clean[row] == pytest.approx(
            fd_reference.loss(model, list(item.input_ids), list(item.targets), item.prompt_len), rel=1e-12
        )
        expected = [_reference_effect(model, item, graph.src_names[u], graph.dst_names[v]) for u, v in edges]
        np.testing.assert_allclose(effects[row], expected, rtol=1e-9, atol=1e-12)
    assert np.abs(effects).max() > 1e-2  # the ablations do move the loss


@pytest.mark.parametrize("arch", ["llama", "qwen2"])
def test_ablating_every_edge_feeds_the_unembedding_zero(arch):
    """Every destination reads zero, so the final norm outputs zero and the bias-free unembedding gives
    uniform logits: the loss is log(vocabulary) whatever the model."""
    model = _exact_model(arch)
    ablator = Ablator(model, ITEMS, batch_tokens=10_000)
    everything = np.broadcast_to(ablator.graph.edge_mask, (len(ITEMS), *ablator.graph.edge_mask.shape))
    np.testing.assert_allclose(ablator.losses(everything.copy()), math.log(tiny_models.VOCAB), rtol=1e-12)


def test_kept_masks_keep_the_largest_scores():
    mask = np.array([[True, True], [True, False]])
    scores = np.array([[[0.1, -3.0], [2.0, 9.0]]])  # 9.0 sits on a non-edge and is ignored
    assert kept_masks(scores, mask, 0.0).tolist() == [mask.tolist()]
    assert kept_masks(scores, mask, 1 / 3).tolist() == [[[True, False], [True, False]]]
    assert kept_masks(scores, mask, 2 / 3).tolist() == [[[True, False], [False, False]]]
    assert not kept_masks(scores, mask, 1.0).any()


def _planted_model() -> torch.nn.Module:
    """A 3-layer Llama with a known circuit for "repeat the last prompt token": the unembedding reads each
    token's own embedding direction, the blocks are weak (a random model's layers otherwise make its loss
    worse than their absence, and the curve overshoots 1), layer 0's attention and layer 1's MLP output
    nothing (dead edges, which EAP must score 0)."""
    model = tiny_models.build("llama", layers=3, dtype=torch.float64, seed=3)
    for name, param in model.named_parameters():
        if "layers" in name and "norm" not in name:
            param.mul_(0.3)
    embed = model.model.embed_tokens.weight
    model.lm_head.weight.copy_(1.5 * embed / embed.norm(dim=1, keepdim=True))
    model.model.layers[0].self_attn.o_proj.weight.zero_()
    model.model.layers[1].mlp.down_proj.weight.zero_()
    return model


def test_recovery_curve_endpoints_and_ordering_on_a_planted_model():
    model = _planted_model()
    generator = np.random.default_rng(0)
    items = []
    for i in range(16):
        prompt = generator.integers(1, 90, 8).tolist()
        items.append(truncated_loss_input(f"s{i}", prompt, [prompt[-1]] * 6, 6))
    scores = attribute(model, items, batch_tokens=10_000).scores
    ablator = Ablator(model, items, batch_tokens=10_000)
    clean = ablator.losses(np.zeros((len(items), *ablator.graph.edge_mask.shape), dtype=bool))
    assert clean.mean() < 0.5 < math.log(tiny_models.VOCAB)  # the planted circuit does the task
    fractions = [0.0, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0]
    curve = recovery_curve(ablator, scores, fractions, clean)
    np.testing.assert_allclose(curve[0], 0.0, atol=1e-12)  # keeping nothing is the all-ablated run
    np.testing.assert_allclose(curve[-1], 1.0, atol=1e-12)  # keeping everything is the clean run
    mean = curve.mean(axis=1)
    assert np.all(np.diff(mean) > -0.05), mean  # monotone in expectation, up to 5% of the gap
    assert mean[1] > 0.9, mean  # EAP's top 5% hold the circuit
    backwards = recovery_curve(ablator, 1.0 / (np.abs(scores) + 1e-30), fractions, clean).mean(axis=1)
    assert np.all(mean[1:-1] > backwards[1:-1] + 0.5), (mean, backwards)
    # The dead sources' edges change nothing when ablated alone, and EAP scores them zero.
    effects = ablator.single_edge_effects(clean)
    dead = [ablator.graph.src_index(0, "attn"), ablator.graph.src_index(1, "mlp")]
    edges = list(zip(*np.nonzero(ablator.graph.edge_mask), strict=True))
    columns = [i for i, (u, _) in enumerate(edges) if u in dead]
    np.testing.assert_allclose(effects[:, columns], 0.0, atol=1e-12)
    np.testing.assert_allclose(scores[:, dead], 0.0, atol=1e-12)
    rho = spearman_per_sample(scores, ablator.graph.edge_mask, effects)
    assert all(r is not None and r > 0.3 for r in rho), rho


def _record(**changes) -> FaithfulnessRecord:
    fields = dict(
        pair="p",
        dataset="d",
        role="base",
        alpha=0.5,
        t_cut=3,
        model="m",
        sample_ids=("a", "b"),
        n_edges=5,
        fractions=(0.0, 0.5, 1.0),
        methods=(MethodFaithfulness("eap-module-own_answer", "own_answer", ((0, 0), (0.4, 0.7), (1, 1)), (0.5, None)),),
    )
    return FaithfulnessRecord(**{**fields, **changes})


def test_record_round_trips_and_refuses_malformed(tmp_path):
    path = tmp_path / "f.json"
    write_faithfulness(path, _record())
    assert read_faithfulness(path) == _record()
    with pytest.raises(InputFormatError, match="one value per fraction"):
        write_faithfulness(path, _record(fractions=(0.0, 1.0)))
    path.write_text('{"pair": "p"}', encoding="utf-8")
    with pytest.raises(InputFormatError, match="missing key"):
        read_faithfulness(path)


# --- the CLI --------------------------------------------------------------------------------------

ATTRIBUTE = load_script("attribute")
FAITHFULNESS = load_script("faithfulness")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return tiny_models.save(tiny_models.build("llama"), tmp_path_factory.mktemp("model") / "llama-tiny")


def _selection(path: Path) -> Path:
    samples = [
        {
            "id": f"q{shift}",
            "base": {"prompt_token_ids": [1, 2, 3 + shift], "answer_token_ids": [10 + shift, 11, 12, 13, 14]},
            "rl": {"prompt_token_ids": [1, 2, 3 + shift], "answer_token_ids": [20, 21 + shift, 22, 23, 24]},
        }
        for shift in (0, 4, 9)
    ]
    record = {"pair": "p", "dataset": "d", "t_bar": 8.0, "thresholds": {}, "counts": {}, "fewer_than_n": False}
    path.write_text(json.dumps({**record, "samples": samples}), encoding="utf-8")
    return path


def _attribution(model_dir: Path, selection: Path, folder: Path, role: str) -> list[Path]:
    outs = [folder / f"{method}_{role}.npz" for method in ("eap", "eap_ig")]
    argv = ["--model", str(model_dir), "--selection", str(selection), "--role", role, "--alpha", "0.5"]
    argv += ["--method", "eap", "eap_ig", "--ig-steps", "4", "--dtype", "float32", "--no-progress"]
    assert ATTRIBUTE.main([*argv, "--out", *map(str, outs)]) == 0
    return outs


def _faithfulness_args(model_dir: Path, selection: Path, files: list[Path], role: str, out: Path) -> list[str]:
    argv = ["--model", str(model_dir), "--selection", str(selection), "--pair", "p", "--dataset", "d"]
    argv += ["--role", role, "--attribution", *map(str, files), "--fractions", "0.25", "0.5", "--single-edge"]
    return [*argv, "--dtype", "float32", "--out", str(out)]


def test_cli_writes_a_record_that_an_independent_computation_confirms(tmp_path, model_dir):
    selection = _selection(tmp_path / "sel.json")
    files = _attribution(model_dir, selection, tmp_path, "rl")
    out = tmp_path / "faithfulness" / "rl.json"
    assert FAITHFULNESS.main(_faithfulness_args(model_dir, selection, files, "rl", out)) == 0
    record = read_faithfulness(out)
    assert [m.variant for m in record.methods] == ["eap-module-own_answer", "eap_ig-module-own_answer"]
    assert record.fractions == (0.0, 0.25, 0.5, 1.0) and record.t_cut == 4 and record.n_edges == 23
    model = tiny_models.build("llama")
    sample = json.loads(selection.read_text())["samples"][0]["rl"]
    item = truncated_loss_input("q0", sample["prompt_token_ids"], sample["answer_token_ids"], 4)
    for path, method in zip(files, record.methods, strict=True):
        scores = load_attribution(path)
        assert method.recovered[0] == pytest.approx((0, 0, 0), abs=1e-6)
        assert method.recovered[-1] == pytest.approx((1, 1, 1), abs=1e-6)
        edges = list(zip(*np.nonzero(scores.edge_mask), strict=True))
        effects = [_reference_effect(model, item, scores.src_names[u], scores.dst_names[v]) for u, v in edges]
        expected = stats.spearmanr(scores.scores[0][scores.edge_mask], effects).statistic
        assert method.spearman[0] == pytest.approx(expected, abs=1e-6)


def test_cli_refuses_another_roles_attribution(tmp_path, model_dir, capsys):
    selection = _selection(tmp_path / "sel.json")
    files = _attribution(model_dir, selection, tmp_path, "base")
    out = tmp_path / "rl.json"
    argv = _faithfulness_args(model_dir, selection, files, "rl", out)
    fails_cleanly(capsys, FAITHFULNESS.main, argv, "faithfulness", "attribution of role base, not rl", [out])


def test_cli_refuses_scores_of_another_model(tmp_path, model_dir, capsys):
    selection = _selection(tmp_path / "sel.json")
    other = tiny_models.save(tiny_models.build("llama", seed=5), tmp_path / "other")
    files = _attribution(other, selection, tmp_path, "rl")
    out = tmp_path / "rl.json"
    argv = _faithfulness_args(model_dir, selection, files, "rl", out)
    fails_cleanly(capsys, FAITHFULNESS.main, argv, "faithfulness", "its losses differ from", [out])
