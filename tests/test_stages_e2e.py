"""generate -> grade -> table4 -> select -> attribute through the real scripts, checked against
docs/DESIGN.md §3, on a tiny model with a real tokenizer built in the test.

The model is random except for its unembedding, which makes it a bigram machine: whatever the
question, greedy decoding writes " \\boxed{7}" and then EOS. Questions whose gold is 7 are
therefore answered correctly by both models, the others wrongly, so every stage has real work.
"""

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

import tiny_tokenizer
from rlcircuits.contracts import GENERATION_KEYS, load_attribution, read_selection
from script_loader import load_script

ANSWER = " \\boxed{7}"
GOLDS = ["7", "12", "7", "7", "3", "7"]


def _bigram_model(folder: Path, seed: int) -> Path:
    """Random layers (scaled down) plus an unembedding that maps each answer character to the next."""
    tokenizer = tiny_tokenizer.build()
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=128,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        tie_word_embeddings=False,
        max_position_embeddings=512,
    )
    model = LlamaForCausalLM(config).eval().requires_grad_(False)
    for layer in model.model.layers:
        layer.self_attn.o_proj.weight.mul_(0.05)
        layer.mlp.down_proj.weight.mul_(0.05)
    embed = model.model.embed_tokens.weight
    embed.copy_(torch.randn_like(embed))
    unembed = model.lm_head.weight
    unembed.zero_()
    chain = [":", *ANSWER]  # the template ends with "Assistant:"
    ids = [tokenizer.convert_tokens_to_ids(c) for c in chain] + [tokenizer.eos_token_id]
    for current, following in itertools.pairwise(ids):
        unembed[following] += 4.0 * embed[current] / embed[current].norm()
    return tiny_tokenizer.save_with_model(model, folder)


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("stages")
    data = root / "gsm8k.jsonl"
    data.write_text(
        "".join(
            json.dumps({"question": f"Question {i}: {'how many apples ' * (i % 3 + 1)}?", "answer": f"steps\n#### {g}"})
            + "\n"
            for i, g in enumerate(GOLDS)
        )
    )
    run = root / "results" / "e2e"
    generate, grade = load_script("generate"), load_script("grade")
    for role, seed in (("base", 0), ("rl", 1)):
        model = _bigram_model(root / "models" / role, seed)
        generations = run / "generations" / "toy" / role / "gsm8k.jsonl"
        assert (
            generate.main(
                [
                    "--model",
                    str(model),
                    "--dataset",
                    "gsm8k",
                    "--data-path",
                    str(data),
                    "--template",
                    "deepseek-math",
                    "--max-new-tokens",
                    "16",
                    "--dtype",
                    "float32",
                    "--device",
                    "cpu",
                    "--batch-size",
                    "4",
                    "--no-progress",
                    "--out",
                    str(generations),
                ]
            )
            == 0
        )
        assert (
            grade.main(
                [
                    "--generations",
                    str(generations),
                    "--out",
                    str(run / "graded" / "toy" / role / "gsm8k.jsonl"),
                    "--workers",
                    "2",
                    "--no-progress",
                ]
            )
            == 0
        )
    cells = [
        arg
        for role in ("base", "rl")
        for arg in ("--cell", "toy", role, "gsm8k", str(run / "graded/toy" / role / "gsm8k.jsonl"))
    ]
    assert load_script("table4").main([*cells, "--out", str(run / "tables" / "table4.csv")]) == 0
    assert (
        load_script("select_samples").main(
            [
                "--base",
                str(run / "graded/toy/base/gsm8k.jsonl"),
                "--rl",
                str(run / "graded/toy/rl/gsm8k.jsonl"),
                "--pair",
                "toy",
                "--dataset",
                "gsm8k",
                "--n",
                "3",
                "--out",
                str(run / "selection/toy/gsm8k.json"),
            ]
        )
        == 0
    )
    for role in ("base", "rl"):
        assert (
            load_script("attribute").main(
                [
                    "--model",
                    str(root / "models" / role),
                    "--selection",
                    str(run / "selection/toy/gsm8k.json"),
                    "--role",
                    role,
                    "--alpha",
                    "0.5",
                    "--dtype",
                    "float32",
                    "--no-progress",
                    "--out",
                    str(run / f"attribution/toy/gsm8k/alpha0.5/{role}.npz"),
                ]
            )
            == 0
        )
    return run


def test_generations_and_grades_follow_the_contract(run):
    for role in ("base", "rl"):
        records = _lines(run / "generations" / "toy" / role / "gsm8k.jsonl")
        assert [r["id"] for r in records] == [f"gsm8k-{i:04d}" for i in range(len(GOLDS))]
        assert all(set(r) == set(GENERATION_KEYS) for r in records)
        assert all(r["answer"] == ANSWER and r["finish_reason"] == "stop" for r in records)
        graded = _lines(run / "graded" / "toy" / role / "gsm8k.jsonl")
        assert all(set(GENERATION_KEYS) | {"pred", "correct"} <= set(r) for r in graded)
        assert [r["correct"] for r in graded] == [g == "7" for g in GOLDS]
        assert all(r["pred"] == "7" for r in graded)


def test_table4_counts(run):
    table = pd.read_csv(run / "tables" / "table4.csv")
    assert set(table["role"]) == {"base", "rl"} and set(table["pair"]) == {"toy"}
    assert table["n"].tolist() == [6, 6] and table["n_correct"].tolist() == [4, 4]
    assert table["accuracy_pct"].tolist() == pytest.approx([400 / 6] * 2)


def test_selection_and_attribution_files(run):
    selection = json.loads((run / "selection" / "toy" / "gsm8k.json").read_text())
    assert selection["counts"]["both_correct"] == 4 and selection["counts"]["selected"] == 3
    chosen = read_selection(run / "selection" / "toy" / "gsm8k.json")
    generations = {r["id"]: r for r in _lines(run / "generations" / "toy" / "rl" / "gsm8k.jsonl")}
    for sample in chosen.samples:  # token ids travel unchanged from generate to select
        assert list(sample.rl.answer_token_ids) == generations[sample.id]["answer_token_ids"]
        assert list(sample.rl.prompt_token_ids) == generations[sample.id]["prompt_token_ids"]
    base = load_attribution(run / "attribution/toy/gsm8k/alpha0.5/base.npz")
    rl = load_attribution(run / "attribution/toy/gsm8k/alpha0.5/rl.npz")
    assert base.scores.shape == rl.scores.shape == (3, 5, 9)
    assert list(base.sample_ids) == [s.id for s in chosen.samples]
    assert int(base.t_cut) == max(int(0.5 * chosen.t_bar), 1)
    assert np.isfinite(base.scores).all() and np.abs(base.scores[:, base.edge_mask]).max() > 0
