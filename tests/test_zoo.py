"""The mini zoo: synthetic tasks, the shared tokenizer, and the SFT/RL training entry points."""

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file
from transformers import LlamaConfig, MistralConfig, Qwen2Config

from cli_failure import fails_cleanly
from rlcircuits.contracts import TRAINING_CURVE, read_training_curve
from rlcircuits.eap_adapter import find_decoder, verify_prenorm
from rlcircuits.errors import InputFormatError
from rlcircuits.generation.answers import generate_answers
from rlcircuits.generation.backends import GenerationSettings, TransformersBackend
from rlcircuits.generation.stopping import stop_rule
from rlcircuits.grading.pool import JudgePool
from rlcircuits.models import load_model, load_tokenizer
from rlcircuits.prompts import get_template
from rlcircuits.run_plan import CHECKPOINTS, checkpoint_path, checkpoint_steps
from rlcircuits.zoo import TEMPLATE, rl
from rlcircuits.zoo.rl import CURVES, RLSettings, correctness_reward, grade_answers, prompt_rows, train_rl
from rlcircuits.zoo.tasks import TASKS, make_splits, read_tasks, write_tasks
from rlcircuits.zoo.tokenizer import build_tokenizer
from rlcircuits.zoo.training import (
    METADATA,
    ModelShape,
    SFTSettings,
    completion,
    practice_lines,
    prompt,
    train_sft,
)
from script_loader import load_script

REPO = Path(__file__).resolve().parents[1]

# --- tasks ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pool():
    with JudgePool(workers=2, timeout=30) as judges:
        yield judges


@pytest.mark.parametrize("task", sorted(TASKS))
def test_splits_are_reproducible_and_never_share_a_problem(task):
    splits = make_splits(task, seed=3, n_test=150, n_train=400)
    assert splits == make_splits(task, seed=3, n_test=150, n_train=400)
    assert splits != make_splits(task, seed=4, n_test=150, n_train=400)
    test, train = splits["test"], splits["train"]
    assert [len(test), len(train)] == [150, 400]
    assert [t.id for t in test[:2]] == [f"{task}-test-0000", f"{task}-test-0001"]
    # Disjoint as problems (one worked solution is one problem, whatever the names in the wording).
    assert not {t.solution for t in test} & {t.solution for t in train}
    assert not {t.question for t in test} & {t.question for t in train}
    assert len({t.solution for t in test + train}) == len(test + train)
    # A smaller test split is a prefix of a larger one: ids are stable.
    assert make_splits(task, seed=3, n_test=100, n_train=10)["test"] == test[:100]


@pytest.mark.parametrize("task", sorted(TASKS))
def test_every_worked_solution_is_graded_correct_against_its_gold(task, pool):
    splits = make_splits(task, seed=0, n_test=120, n_train=120)
    records = splits["test"] + splits["train"]
    assert all(r.solution.endswith("}") and "\\boxed{" in r.solution for r in records)
    assert grade_answers([r.solution for r in records], [r.gold for r in records], pool) == [True] * len(records)
    off_by_one = [r for r in records if r.gold.isdigit()]
    assert off_by_one
    assert not any(grade_answers([r.solution for r in off_by_one], [str(int(r.gold) + 1) for r in off_by_one], pool))


def test_fraction_golds_are_reduced_latex_while_solutions_box_the_raw_fraction(pool):
    fractions = [t for t in make_splits("fractions", 0, 300, 10)["test"] if "\\frac" in t.gold]
    assert fractions
    unreduced = [t for t in fractions if f"\\boxed{{{t.gold}}}" not in t.solution]
    assert unreduced and all(grade_answers([t.solution for t in unreduced], [t.gold for t in unreduced], pool))


def test_split_files_are_qa_records(tmp_path):
    splits = make_splits("equations", 1, 5, 5)
    write_tasks(tmp_path / "test.jsonl", splits["test"])
    lines = (tmp_path / "test.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["id"] for line in lines] == [t.id for t in splits["test"]]
    assert all(set(json.loads(line)) == {"id", "question", "gold", "solution"} for line in lines)
    assert read_tasks(tmp_path / "test.jsonl") == splits["test"]


def test_task_errors_are_clear(tmp_path):
    with pytest.raises(ValueError, match="unknown zoo task 'calculus'"):
        make_splits("calculus", 0, 1, 1)
    with pytest.raises(ValueError, match=r"task fractions: only .* new train problems exist"):
        make_splits("fractions", 0, 10, 5000)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "question": "q", "gold": "1", "solution": "s"}\n{"id": "a", "question": "q"}\n')
    with pytest.raises(InputFormatError, match=r"bad\.jsonl:2: missing or empty string field 'gold'"):
        read_tasks(bad)


# --- tokenizer and template -------------------------------------------------------------------

TEXTS = [
    "Q: Solve for x: 3x+4=19.\nA:",
    " 3x=19-4=15. x=15/3=5. \\boxed{5}",
    "Ann has 7 pens, buys 5.  Tabs\tand\n\nnewlines",
    "unicode: héllo ∑ 😀",
    "specials inside: <s>a</s><pad>",
]
CONFIGS = {"llama": LlamaConfig, "mistral": MistralConfig, "qwen2": Qwen2Config}


def test_tokenizer_is_byte_level_with_bos_and_round_trips():
    tokenizer = build_tokenizer()
    assert len(tokenizer) == 260
    assert (tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.unk_token_id) == (
        0,
        1,
        2,
        3,
    )
    for text in TEXTS[:4]:
        ids = tokenizer(text).input_ids
        assert ids[0] == tokenizer.bos_token_id and len(ids) == 1 + len(text.encode("utf-8"))
        assert tokenizer.decode(ids, skip_special_tokens=True) == text
    # No merges: a prompt and its completion encode the same apart as together (TRL concatenates them).
    whole = tokenizer(TEXTS[0] + TEXTS[1]).input_ids
    assert whole == tokenizer(TEXTS[0]).input_ids + tokenizer(TEXTS[1], add_special_tokens=False).input_ids
    assert tokenizer("x</s>", add_special_tokens=False).input_ids[-1] == tokenizer.eos_token_id


@pytest.mark.parametrize("architecture", sorted(CONFIGS))
def test_every_architecture_loads_exactly_this_tokenizer(tmp_path, architecture):
    """transformers 5 swaps a Qwen2Tokenizer in for model_type qwen2: the encoding must not change."""
    reference = build_tokenizer()
    config = CONFIGS[architecture](
        vocab_size=len(reference),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
    )
    config.save_pretrained(tmp_path)
    reference.save_pretrained(tmp_path)
    loaded = load_tokenizer(str(tmp_path))
    assert loaded.get_vocab() == reference.get_vocab() and len(loaded) == len(reference)
    for name in ("pad_token_id", "bos_token_id", "eos_token_id", "unk_token_id"):
        assert getattr(loaded, name) == getattr(reference, name), name
    for text in TEXTS:
        for special in (True, False):
            ids = reference(text, add_special_tokens=special).input_ids
            assert loaded(text, add_special_tokens=special).input_ids == ids, (text, special)
            assert loaded.decode(ids, skip_special_tokens=True) == reference.decode(ids, skip_special_tokens=True)


def test_reward_grades_the_answer_cut_at_the_stop_string(pool):
    completions = [" 2+3=5. \\boxed{5}", " 2+3=5. \\boxed{5}\nQ: 1+1? A: \\boxed{2}", " 2+3=6. \\boxed{6}"]
    reward = correctness_reward(pool)
    assert reward.__name__ == "correctness_reward"  # TRL logs rewards under the function's name
    assert reward(completions, gold=["5", "5", "5"]) == [1.0, 1.0, 0.0]


def test_online_dpo_prompts_carry_the_bos_the_generate_stage_adds():
    tokenizer = build_tokenizer()
    task = make_splits("arithmetic", 0, 1, 1)["test"][0]
    [row] = prompt_rows([task], bos_text=True)
    assert tokenizer(row["prompt"], add_special_tokens=False).input_ids == tokenizer(prompt(task.question)).input_ids
    assert prompt_rows([task])[0] == {"prompt": prompt(task.question), "gold": task.gold}


def test_practice_lines_are_true_facts():
    lines = practice_lines(20, seed=1)
    assert lines == practice_lines(20, seed=1) and len(lines) == 20
    for line in lines:
        facts = line.removesuffix(".").split(". ")
        assert len(facts) == 10
        for fact in facts:
            left, right = fact.split("=")
            assert eval(left) == int(right), fact


# --- training ---------------------------------------------------------------------------------

TINY_SFT = SFTSettings(steps=2, batch_size=4, learning_rate=1e-3, practice=4, seed=0)
TINY_RL = RLSettings(steps=2, prompts_per_step=2, generations=4, max_completion_length=8, seed=0)


def _shape(architecture: str) -> ModelShape:
    return ModelShape(
        architecture, layers=1, hidden=16, heads=2, kv_heads=1 if architecture != "llama" else 2, intermediate=32
    )


@pytest.fixture(scope="module")
def train_files(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("tasks")
    paths = []
    for task in sorted(TASKS):
        splits = make_splits(task, 0, 4, 12)
        write_tasks(folder / f"{task}_test.jsonl", splits["test"])
        write_tasks(folder / f"{task}_train.jsonl", splits["train"])
        paths.append(folder / f"{task}_train.jsonl")
    return paths


@pytest.fixture
def mixed_verdicts(monkeypatch):
    """An untrained model solves nothing, so every reward would be 0 and nothing would train:
    a stand-in verdict (parity of the answer's character codes) gives the smoke tests mixed rewards."""
    monkeypatch.setattr(rl, "grade_answers", lambda answers, golds, pool: [sum(map(ord, a)) % 2 == 0 for a in answers])


@pytest.fixture(scope="module")
def qwen2_base(tmp_path_factory, train_files) -> Path:
    out = tmp_path_factory.mktemp("zoo") / "qwen2_sft"
    train_sft(_shape("qwen2"), train_files, TINY_SFT, out)
    return out


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(folder / "model.safetensors")


def _curve(folder: Path, metric: str, steps: int) -> tuple[float, ...]:
    """The saved training curve: one value of ``metric`` per optimiser step."""
    curve = read_training_curve(folder / TRAINING_CURVE)
    assert curve.metric == metric and curve.meaning
    assert curve.steps == tuple(range(1, steps + 1)) and len(curve.values) == steps
    return curve.values


def _assert_loadable_zoo_model(folder: Path, train_files: list[Path]) -> None:
    """What the workflow's later stages do with a zoo folder: load, check the graph, answer a question."""
    assert {
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        METADATA,
        TRAINING_CURVE,
    } <= {p.name for p in folder.iterdir()}
    model = load_model(str(folder), dtype="float32")
    verify_prenorm(model, find_decoder(model))
    tokenizer = load_tokenizer(str(folder))
    assert tokenizer(TEXTS[0]).input_ids == build_tokenizer()(TEXTS[0]).input_ids
    settings = GenerationSettings(
        model=str(folder), revision=None, dtype="float32", backend="transformers", template=TEMPLATE, max_new_tokens=6
    )
    questions = read_tasks(str(train_files[0]).replace("_train", "_test"))[:2]
    records = generate_answers(
        questions,
        settings,
        tokenizer=tokenizer,
        out=folder.parent / f"{folder.name}.jsonl",
        load_backend=lambda: TransformersBackend(
            model, tokenizer, stop_rule(tokenizer, get_template(TEMPLATE).stop, model.generation_config)
        ),
    )
    assert [r.id for r in records] == [q.id for q in questions]
    assert all(r.prompt_token_ids[0] == tokenizer.bos_token_id for r in records)


@pytest.mark.slow
@pytest.mark.trl
@pytest.mark.parametrize("architecture", ["llama", "mistral"])
def test_train_sft_writes_a_loadable_model_folder(tmp_path, train_files, architecture):
    record = train_sft(_shape(architecture), train_files, TINY_SFT, tmp_path / "sft")
    assert record["shape"]["architecture"] == architecture and record["train_tasks"] == 36
    assert json.loads((tmp_path / "sft" / METADATA).read_text())["settings"]["steps"] == 2
    losses = _curve(tmp_path / "sft", "loss", 2)
    assert [record["first_loss"], record["final_loss"]] == [losses[0], losses[-1]] and all(loss > 0 for loss in losses)
    _assert_loadable_zoo_model(tmp_path / "sft", train_files)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no scratch folder left behind


@pytest.mark.slow
@pytest.mark.trl
def test_sft_retraining_gives_identical_weights(tmp_path, train_files, qwen2_base):
    train_sft(_shape("qwen2"), train_files, TINY_SFT, tmp_path / "again")
    first, second = _weights(qwen2_base), _weights(tmp_path / "again")
    assert first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)
    train_sft(_shape("qwen2"), train_files, replace(TINY_SFT, seed=1), tmp_path / "other")
    assert not torch.equal(
        first["model.embed_tokens.weight"], _weights(tmp_path / "other")["model.embed_tokens.weight"]
    )


@pytest.mark.slow
@pytest.mark.trl
def test_sft_base_answers_in_the_trained_format(qwen2_base, train_files):
    _assert_loadable_zoo_model(qwen2_base, train_files)
    assert completion("1+1=2. \\boxed{2}") == " 1+1=2. \\boxed{2}"


@pytest.mark.slow
@pytest.mark.trl
@pytest.mark.parametrize("algorithm", ["grpo", "rloo", "online_dpo"])
def test_online_algorithms_write_a_loadable_model_folder(tmp_path, train_files, qwen2_base, mixed_verdicts, algorithm):
    record = train_rl(algorithm, qwen2_base, train_files, TINY_RL, tmp_path / algorithm)
    assert record["stage"] == algorithm and record["base"] == str(qwen2_base)
    rewards = _curve(tmp_path / algorithm, "objective/scores" if algorithm == "online_dpo" else "reward", TINY_RL.steps)
    assert all(0 <= reward <= 1 for reward in rewards) and record["curve_first"] == rewards[0]
    _assert_loadable_zoo_model(tmp_path / algorithm, train_files)
    assert not torch.equal(
        _weights(qwen2_base)["model.norm.weight"], _weights(tmp_path / algorithm)["model.norm.weight"]
    )


@pytest.mark.slow
@pytest.mark.trl
def test_grpo_optimises_exactly_the_sampled_answer_tokens(
    tmp_path, train_files, qwen2_base, mixed_verdicts, monkeypatch
):
    """The policy gradient runs over the generate stage's prompt ids (BOS included) and over each sampled
    answer up to and including its first EOS, nothing after it: trained tokens = sampled = recorded."""
    from trl import GRPOTrainer

    batches = []
    original = GRPOTrainer._generate_and_score_completions
    monkeypatch.setattr(
        GRPOTrainer,
        "_generate_and_score_completions",
        lambda self, inputs: batches.append(original(self, inputs)) or batches[-1],
    )
    train_rl("grpo", qwen2_base, train_files, replace(TINY_RL, max_completion_length=24), tmp_path / "grpo")
    tokenizer = build_tokenizer()
    prompts = {tuple(tokenizer(prompt(task.question)).input_ids) for path in train_files for task in read_tasks(path)}
    trained = 0
    for batch in batches:
        for ids, mask, answer, answer_mask in zip(
            batch["prompt_ids"], batch["prompt_mask"], batch["completion_ids"], batch["completion_mask"], strict=True
        ):
            assert tuple(ids[mask.bool()].tolist()) in prompts
            kept, dropped = answer[answer_mask.bool()].tolist(), answer[~answer_mask.bool()].tolist()
            assert answer_mask.tolist() == sorted(answer_mask.tolist(), reverse=True)  # a prefix is trained
            assert tokenizer.eos_token_id not in kept[:-1]  # nothing after the first EOS
            assert not dropped or kept[-1] == tokenizer.eos_token_id  # only what follows an EOS is left out
            trained += len(kept)
    assert len(batches) == TINY_RL.steps and trained > 0


@pytest.mark.slow
@pytest.mark.trl
def test_grpo_retraining_gives_identical_weights(tmp_path, train_files, qwen2_base, mixed_verdicts):
    """Sampling included: the same seed draws the same completions."""
    for name in ("a", "b"):
        train_rl("grpo", qwen2_base, train_files, TINY_RL, tmp_path / name)
    first, second = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert all(torch.equal(first[k], second[k]) for k in first)


@pytest.mark.slow
@pytest.mark.trl
def test_offline_dpo_trains_on_pairs_sampled_once(tmp_path, train_files, qwen2_base, mixed_verdicts):
    record = train_rl("dpo", qwen2_base, train_files, TINY_RL, tmp_path / "dpo")
    assert 0 < record["preference_pairs"] <= TINY_RL.steps * TINY_RL.prompts_per_step
    assert record["curve_last"] == _curve(tmp_path / "dpo", "rewards/margins", TINY_RL.steps)[-1]
    _assert_loadable_zoo_model(tmp_path / "dpo", train_files)


@pytest.mark.slow
@pytest.mark.trl
def test_continued_sft_control_trains_the_worked_solutions_with_the_rl_arms_steps_and_rate(
    tmp_path, train_files, qwen2_base
):
    """The study's no-RL control: the RL settings' steps, questions per step and rate, on SFT data; no grader."""
    settings = replace(TINY_RL, steps=3, learning_rate=1e-3)
    record = train_rl("continued_sft", qwen2_base, train_files, settings, tmp_path / "control")
    assert record["stage"] == "continued_sft" and record["settings"]["learning_rate"] == 1e-3
    losses = _curve(tmp_path / "control", "loss", settings.steps)
    assert all(loss > 0 for loss in losses) and record["curve_last"] == losses[-1]
    _assert_loadable_zoo_model(tmp_path / "control", train_files)
    assert not torch.equal(
        _weights(qwen2_base)["model.norm.weight"], _weights(tmp_path / "control")["model.norm.weight"]
    )


@pytest.mark.slow
@pytest.mark.trl
def test_offline_dpo_without_mixed_samples_is_a_clear_error(tmp_path, train_files, qwen2_base, monkeypatch):
    monkeypatch.setattr(rl, "grade_answers", lambda answers, golds, pool: [False] * len(answers))
    with pytest.raises(ValueError, match="no preference pairs"):
        train_rl("dpo", qwen2_base, train_files, TINY_RL, tmp_path / "dpo")
    assert not (tmp_path / "dpo").exists()


def _held_out_reward(folder: Path, questions: list, pool: JudgePool) -> float:
    """Mean verdict of 8 samples per question at the RL arms' temperature, from one fixed sampling seed."""
    settings = RLSettings(generations=8, temperature=0.7, max_completion_length=64)
    torch.manual_seed(123)
    answers = rl.sample_answers(
        load_model(str(folder), dtype="float32"), build_tokenizer(), [prompt(q.question) for q in questions], settings
    )
    golds = [q.gold for q in questions for _ in range(settings.generations)]
    verdicts = grade_answers([a for sampled in answers for a in sampled], golds, pool)
    return sum(verdicts) / len(verdicts)


@pytest.mark.slow
@pytest.mark.trl
def test_grpo_at_the_study_settings_raises_the_reward_on_held_out_questions(tmp_path, pool):
    """GRPO at the study's rate, schedule and temperature, 300 steps on one task's train questions, raises
    the sampled reward on 100 of that task's train questions it never saw (a 2-layer base with the demo's
    SFT settings, then GRPO). Float32 training differs across CPUs, so the size of the rise does too
    (docs/zoo_rl.md, "RL on one task"): the test asks for a rise, which a non-learning update or a
    wrong-signed reward fails."""
    train_files = []
    for task in sorted(TASKS):
        train_files.append(tmp_path / f"{task}_train.jsonl")
        write_tasks(train_files[-1], make_splits(task, 0, 300, 1200)["train"])
    base = tmp_path / "sft"
    train_sft(ModelShape("llama"), train_files, SFTSettings(), base)
    arithmetic = read_tasks(tmp_path / "arithmetic_train.jsonl")
    held_out, seen = arithmetic[-100:], arithmetic[:-100]
    write_tasks(tmp_path / "seen.jsonl", seen)
    settings = RLSettings(steps=300, learning_rate=3e-5, beta=0.0, temperature=0.7, seed=0)
    train_rl("grpo", base, [tmp_path / "seen.jsonl"], settings, tmp_path / "grpo")
    before, after = (_held_out_reward(folder, held_out, pool) for folder in (base, tmp_path / "grpo"))
    assert after > before, (before, after)


def test_demo_zoo_settings_keep_the_comparisons_fair():
    """The demo's deep bases (>= 4 layers, >= 77 edges) and its arms: the online-RL models share
    their RL settings, and the DPO ablation differs from offline DPO in the algorithm only."""
    zoo = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())["zoo"]
    assert all(spec["layers"] >= 4 for spec in zoo["sft"].values())
    settings = {
        name: {k: v for k, v in spec.items() if k not in ("algorithm", "base")} for name, spec in zoo["rl"].items()
    }
    online = [name for name, spec in zoo["rl"].items() if spec["algorithm"] in ("grpo", "rloo")]
    assert len(online) == 3 and all(settings[name] == settings[online[0]] for name in online)
    assert zoo["rl"]["qwen2_dpo"]["base"] == zoo["rl"]["qwen2_online_dpo"]["base"]
    assert settings["qwen2_dpo"] == settings["qwen2_online_dpo"] and settings["qwen2_dpo"]["beta"] > 0


# --- command lines ----------------------------------------------------------------------------


def test_zoo_tasks_cli_writes_both_splits(tmp_path):
    cli = load_script("zoo_tasks")
    argv = [
        "--task",
        "fractions",
        "--seed",
        "2",
        "--n-test",
        "7",
        "--n-train",
        "9",
        "--test-out",
        str(tmp_path / "t.jsonl"),
        "--train-out",
        str(tmp_path / "tr.jsonl"),
    ]
    assert cli.main(argv) == 0
    assert read_tasks(tmp_path / "t.jsonl") == make_splits("fractions", 2, 7, 9)["test"]
    assert len(read_tasks(tmp_path / "tr.jsonl")) == 9


@pytest.mark.slow
@pytest.mark.trl
def test_the_training_scripts_send_no_telemetry():
    """TRL pings the Hub from every trainer unless huggingface_hub starts with telemetry off."""
    code = (
        "import runpy, sys; sys.argv = ['train_rl.py', '--help']\n"
        "try:\n    runpy.run_path('scripts/train_rl.py', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "import huggingface_hub.constants as c; print('telemetry off:', c.HF_HUB_DISABLE_TELEMETRY)"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_DISABLE_TELEMETRY", "HF_HUB_OFFLINE")}
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True)
    assert "telemetry off: True" in done.stdout


@pytest.mark.trl
def test_training_clis_report_bad_input_in_one_line(tmp_path, capsys):
    missing, sft_out, rl_out = str(tmp_path / "missing.jsonl"), tmp_path / "m", tmp_path / "r"
    sft_cli, rl_cli = load_script("train_sft").main, load_script("train_rl").main
    argv = ["--architecture", "llama", "--train", missing, "--out", str(sft_out)]
    fails_cleanly(capsys, sft_cli, argv, "train_sft", "missing.jsonl", [sft_out])
    argv = ["--algorithm", "grpo", "--base", str(tmp_path), "--train", missing, "--out", str(rl_out)]
    fails_cleanly(capsys, rl_cli, argv, "train_rl", f"{tmp_path}: not a zoo model folder", [rl_out])
    argv = ["--architecture", "llama", "--heads", "3", "--train", missing, "--out", str(sft_out)]
    fails_cleanly(capsys, sft_cli, argv, "train_sft", "must divide", [sft_out])
    argv = ["--algorithm", "dpo", "--beta", "0", "--base", str(tmp_path), "--train", missing, "--out", str(rl_out)]
    fails_cleanly(capsys, rl_cli, argv, "train_rl", "dpo needs beta > 0", [rl_out])


@pytest.mark.slow
@pytest.mark.trl
@pytest.mark.parametrize("algorithm", ["grpo", "continued_sft"])
def test_checkpoints_are_loadable_models_along_the_run_and_change_nothing(
    tmp_path, train_files, qwen2_base, mixed_verdicts, algorithm
):
    """checkpoint_every=2 over 4 steps: step-000002 and step-000004, the last one the final model."""
    settings = replace(TINY_RL, steps=4)
    metric = CURVES[algorithm][0]
    train_rl(algorithm, qwen2_base, train_files, settings, tmp_path / "plain")
    train_rl(algorithm, qwen2_base, train_files, settings, tmp_path / "run", checkpoint_every=2)
    assert not (tmp_path / "plain" / CHECKPOINTS).exists()  # without the key: the folder of today
    folders = sorted((tmp_path / "run" / CHECKPOINTS).iterdir())
    assert [p.name for p in folders] == ["step-000002", "step-000004"]
    assert [Path(checkpoint_path(tmp_path / "run", step)) for step in checkpoint_steps(4, 2)] == folders
    final_curve = _curve(tmp_path / "run", metric, 4)
    for folder, step in zip(folders, (2, 4), strict=True):
        _assert_loadable_zoo_model(folder, train_files)
        assert json.loads((folder / METADATA).read_text())["step"] == step
        assert _curve(folder, metric, step) == final_curve[:step]
    final, last, plain = (_weights(p) for p in (tmp_path / "run", folders[-1], tmp_path / "plain"))
    assert all(torch.equal(final[k], last[k]) and torch.equal(final[k], plain[k]) for k in final)
    middle = _weights(folders[0])
    assert not all(torch.equal(final[k], middle[k]) for k in final)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_checkpoint_steps_and_paths():
    assert checkpoint_steps(300, 50) == (50, 100, 150, 200, 250, 300)
    assert checkpoint_steps(10, 4) == (4, 8) and checkpoint_steps(10, 0) == () and checkpoint_steps(3, 5) == ()
    assert checkpoint_path("results/r/zoo/rl/grpo", 150) == "results/r/zoo/rl/grpo/checkpoints/step-000150"
